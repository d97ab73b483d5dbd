"""Admin for custom attribute definitions (SPEC §3), and the form fields a person's custom
attributes are edited with."""

from datetime import date

from django import forms
from django.contrib import admin
from django.utils.dateparse import parse_date

from cdp.admin_scoping import (
    WorkspaceScopedAdmin,
)
from cdp.errors import ErrorCode, FieldError, ServiceError
from people.models import (
    AttributeDefinition,
)
from people.services import (
    attribute_definition_create,
)


@admin.register(AttributeDefinition)
class AttributeDefinitionAdmin(WorkspaceScopedAdmin):
    """Custom person attributes; created through ``attribute_definition_create``."""

    list_display = ("key", "name", "type", "workspace", "created_at")
    list_filter = ("type",)
    list_select_related = ("workspace",)
    search_fields = ("key", "name")
    fields = ("workspace", "key", "name", "type")

    def has_change_permission(self, request, obj=None):
        return False  # keys and types are fixed once values exist; no update service

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        workspace = self.target_workspace(request, form)
        key = form.cleaned_data["key"]
        if AttributeDefinition.objects.filter(workspace=workspace, key=key).exists():
            raise ServiceError(
                FieldError(
                    "key", ErrorCode.DUPLICATE, f"an attribute with key {key} already exists"
                )
            )
        created = attribute_definition_create(
            workspace=workspace,
            key=key,
            name=form.cleaned_data["name"],
            type=form.cleaned_data["type"],
        )
        obj.pk, obj.workspace = created.pk, workspace


# People: custom attribute fields --------------------------------------------------------------


def attribute_field(definition: AttributeDefinition, value) -> forms.Field:
    types = AttributeDefinition.Type
    options = {
        "label": definition.name or definition.key,
        "required": False,
        "help_text": f"{definition.key} · {definition.get_type_display()}",
    }
    if definition.type == types.NUMBER:
        return forms.FloatField(initial=value, **options)
    if definition.type == types.BOOLEAN:
        return forms.NullBooleanField(initial=value, **options)
    if definition.type == types.DATE:
        initial = parse_date(value) if isinstance(value, str) else None
        return forms.DateField(initial=initial, widget=admin.widgets.AdminDateWidget, **options)
    if definition.type == types.LIST:
        options["help_text"] += " · comma separated"
        initial = ", ".join(value) if isinstance(value, list) else value
        return forms.CharField(initial=initial, **options)
    return forms.CharField(initial=value, max_length=1024, **options)


def attribute_value(definition: AttributeDefinition, value):
    """Turn a form value into the JSON value the attribute stores (None removes it)."""
    if value in (None, ""):
        return None
    if definition.type == AttributeDefinition.Type.NUMBER:
        return int(value) if float(value).is_integer() else value
    if definition.type == AttributeDefinition.Type.DATE and isinstance(value, date):
        return value.isoformat()
    if definition.type == AttributeDefinition.Type.LIST:
        return [item.strip() for item in value.split(",") if item.strip()] or None
    return value


# People: filters and inlines ------------------------------------------------------------------
