"""Admin for event definitions with the §4 editing rules: properties inline (keys and types
fixed once saved, none deleted, at most ``CDP_MAX_CUSTOM_PROPERTIES``), search by name or
code, filters by channel and kind, the "Standard events" switches."""

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.actions import delete_selected
from django.core.exceptions import ValidationError
from django.db import transaction
from django.forms.models import BaseInlineFormSet
from django.urls import path

from cdp.admin_scoping import (
    WorkspaceScopedAdmin,
    default_workspace,
    scope_queryset,
)
from cdp.errors import ServiceError
from events.admin_views import standard_events_view
from events.models import (
    Channel,
    EventDefinition,
    PropertyDefinition,
)
from events.selectors import definition_enabled_map, definition_usages
from events.services import (
    PropertyInput,
    definition_create,
    definition_delete,
    definition_id_validate,
    definition_update,
    property_inputs_validate,
)
from people.models import LifecycleStage

# Event definitions ----------------------------------------------------------------------------


class PropertyForm(forms.ModelForm):
    class Meta:
        model = PropertyDefinition
        fields = ("key", "name", "type", "required", "scope")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            # Keys, types and scopes never change once created (§4); disabled fields ignore
            # whatever a request sends for them.
            for name in ("key", "type", "scope"):
                if name in self.fields:
                    self.fields[name].disabled = True


def _property_input(data: dict) -> PropertyInput:
    return PropertyInput(
        key=data["key"],
        name=data.get("name") or "",
        type=data["type"],
        required=bool(data.get("required")),
        scope=data.get("scope") or PropertyDefinition.Scope.EVENT,
    )


class PropertyFormSet(BaseInlineFormSet):
    """Checks new properties with the service's rules: key format, duplicates, the limit."""

    def new_forms(self) -> list:
        return [f for f in self.extra_forms if f.has_changed() and not f.cleaned_data.get("DELETE")]

    def clean(self):
        super().clean()
        if any(self.errors):
            return
        existing = (
            list(
                PropertyDefinition.objects.filter(definition=self.instance).values_list(
                    "key", flat=True
                )
            )
            if self.instance.pk
            else []
        )
        added = self.new_forms()
        try:
            property_inputs_validate(
                [_property_input(f.cleaned_data) for f in added],
                existing=len(existing),
                existing_keys=existing,
            )
        except ServiceError as exc:
            general = []
            for error in exc.errors:
                # "properties[i].key" names the i-th new row and one of its fields.
                index, _, field = error.field.partition("].")
                if field and index.startswith("properties["):
                    added[int(index[len("properties[") :])].add_error(field, error.message)
                else:
                    general.append(error.message)
            if general:
                raise ValidationError(general) from exc


class PropertyInline(admin.TabularInline):
    model = PropertyDefinition
    form = PropertyForm
    formset = PropertyFormSet
    fields = ("key", "name", "type", "required", "scope")
    can_delete = False  # properties are never deleted (§4)
    # Says the limit where Django's "Add another" link disappears at ``max_num``.
    template = "admin/events/eventdefinition/property_inline.html"

    class Media:
        js = ["cdp/admin/property_limit.js"]
        css = {"all": ["cdp/admin/admin.css"]}

    def get_max_num(self, request, obj=None, **kwargs):
        if obj is not None and obj.is_builtin:
            return None
        return settings.CDP_MAX_CUSTOM_PROPERTIES

    def get_extra(self, request, obj=None, **kwargs):
        if obj is None:
            return 1
        room = settings.CDP_MAX_CUSTOM_PROPERTIES - obj.properties.count()
        return 1 if room > 0 and not obj.is_builtin else 0

    def has_add_permission(self, request, obj=None):
        return not (obj is not None and obj.is_builtin) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return not (obj is not None and obj.is_builtin) and super().has_change_permission(
            request, obj
        )

    def has_delete_permission(self, request, obj=None):
        return False


class EventDefinitionForm(forms.ModelForm):
    class Meta:
        model = EventDefinition
        fields = (
            "workspace",
            "definition_id",
            "name",
            "description",
            "channel",
            "default_score",
            "lifecycle_stage",
            "enabled",
        )

    def clean_definition_id(self):
        value = self.cleaned_data.get("definition_id")
        try:
            definition_id_validate(value, field="definition_id")
        except ServiceError as exc:
            raise ValidationError([e.message for e in exc.errors]) from exc
        return value


class ChannelFilter(admin.SimpleListFilter):
    title = "channel"
    parameter_name = "channel"

    def lookups(self, request, model_admin):
        channels = scope_queryset(Channel.objects.order_by("name"), request)
        return [(str(c.pk), str(c)) for c in channels]

    def queryset(self, request, queryset):
        return queryset.filter(channel_id=self.value()) if self.value() else queryset


@admin.register(EventDefinition)
class EventDefinitionAdmin(WorkspaceScopedAdmin):
    """Custom definitions are edited under the §4 rules; built-in ones are read-only."""

    form = EventDefinitionForm
    shared_null = True
    change_list_template = "admin/events/eventdefinition/change_list.html"
    list_display = ("definition_id", "name", "kind", "category", "channel", "tracking")
    list_filter = (ChannelFilter, "kind", "category")
    list_select_related = ("channel", "workspace")
    search_fields = ("name", "definition_id")
    inlines = [PropertyInline]
    fieldsets = [
        (
            None,
            {"fields": ["workspace", "definition_id", "name", "description", "kind", "category"]},
        ),
        ("Tracking", {"fields": ["channel", "default_score", "lifecycle_stage", "enabled"]}),
    ]
    readonly_fields = ("kind", "category")
    service_error_fields = {"definitionId": "definition_id"}

    @admin.display(description="tracking enabled", boolean=True)
    def tracking(self, obj):
        return getattr(obj, "enabled_here", obj.enabled)

    def get_list_display(self, request):
        if default_workspace(request) is None:  # several workspaces: say whose it is
            return (*self.list_display, "workspace")
        return self.list_display

    def get_urls(self):
        view = self.admin_site.admin_view(self.standard_events_view)
        return [
            path("standard/", view, name="events_eventdefinition_standard"),
            *super().get_urls(),
        ]

    def standard_events_view(self, request):
        return standard_events_view(request, self)

    def get_changelist_instance(self, request):
        changelist = super().get_changelist_instance(request)
        workspace = default_workspace(request)
        if workspace is not None:
            # One query for the page: the workspace's switches and the defaults.
            rows = list(changelist.result_list)
            state = definition_enabled_map(workspace=workspace, definitions=rows)
            for row in rows:
                row.enabled_here = state[row.pk]
        return changelist

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        return [*readonly, "definition_id"] if obj is not None else readonly

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.is_builtin:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.is_builtin:
            return False
        return super().has_delete_permission(request, obj)

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "lifecycle_stage":
            stages = {}
            for code, name in scope_queryset(
                LifecycleStage.objects.order_by("position"), request
            ).values_list("code", "name"):
                stages.setdefault(code, f"{name} ({code})")
            return forms.ChoiceField(
                choices=[("", "— none —"), *stages.items()],
                required=False,
                label="lifecycle stage",
                help_text=db_field.help_text,
            )
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    # Saving: the definition and its properties in one service call.

    def save_model(self, request, obj, form, change):
        pass  # written in save_related, where the properties are known

    def save_related(self, request, form, formsets, change):
        data = form.cleaned_data
        fields = {
            k: data[k]
            for k in (
                "name",
                "description",
                "channel",
                "default_score",
                "lifecycle_stage",
                "enabled",
            )
            if k in data
        }
        props = next((fs for fs in formsets if fs.model is PropertyDefinition), None)
        added = props.new_forms() if props is not None else []
        new_inputs = [_property_input(f.cleaned_data) for f in added]
        if not change:
            definition = definition_create(
                workspace=self.target_workspace(request, form),
                definition_id=data["definition_id"],
                properties=new_inputs,
                **fields,
            )
            form.instance.pk = definition.pk
        else:
            definition = form.instance
            edits = {
                f.instance.pk: f.cleaned_data
                for f in (props.initial_forms if props else [])
                if f.has_changed()
            }
            wanted = []
            for prop in definition.properties.all():
                edit = edits.get(prop.pk, {})
                wanted.append(
                    PropertyInput(
                        key=prop.key,
                        name=edit.get("name", prop.name),
                        type=prop.type,
                        required=edit.get("required", prop.required),
                        scope=prop.scope,
                    )
                )
            definition_update(
                definition=definition, fields=fields, properties=[*wanted, *new_inputs]
            )
        if props is not None:
            props.new_objects = [f.instance for f in added]
            props.changed_objects = [
                (f.instance, f.changed_data) for f in props.initial_forms if f.has_changed()
            ]
            props.deleted_objects = []

    # Deleting: the service refuses definitions in use and names the uses; the delete page
    # asks the same question first, so a used definition gets no confirm button at all.

    delete_confirmation_template = "admin/events/eventdefinition/delete_confirmation.html"
    delete_selected_confirmation_template = (
        "admin/events/eventdefinition/delete_selected_confirmation.html"
    )

    def get_deleted_objects(self, objs, request):
        # Django's collector would load every event of a used definition; list the
        # definition and its properties instead, and as "protected" what uses it (the page
        # then refuses, naming the uses, as ``definition_delete`` would).
        objs = list(objs)
        listed, properties, protected = [], 0, []
        for definition in objs:
            keys = [f"Property: {p.key}" for p in definition.properties.all()]
            properties += len(keys)
            listed += [f"Event definition: {definition}", keys]
            usages = definition_usages(definition=definition)
            if len(objs) > 1:
                usages = [f"{definition.definition_id}: {usage}" for usage in usages]
            protected += usages
        counts = {"event definitions": len(objs), "properties": properties}
        return listed, counts, set(), protected

    def message_service_error(self, request, exc: ServiceError) -> None:
        # Django's message list capitalises the first letter, which would misspell a
        # definition id ("C_order_paid"): the message starts with words instead.
        text = "; ".join(e.message for e in exc.errors)
        self.message_user(request, f"Not deleted: {text}", messages.ERROR)

    def delete_model(self, request, obj):
        definition_delete(definition=obj)

    def delete_queryset(self, request, queryset):
        for definition in queryset:
            definition_delete(definition=definition)

    def get_actions(self, request):
        actions = super().get_actions(request)
        if "delete_selected" in actions:
            _, name, description = actions["delete_selected"]
            actions["delete_selected"] = (type(self).delete_definitions, name, description)
        return actions

    def delete_definitions(self, request, queryset):
        """Confirm, then delete each definition through the service; report refusals."""
        if not request.POST.get("post"):
            return delete_selected(self, request, queryset)
        deleted, refused = 0, []
        for definition in queryset:
            try:
                with transaction.atomic():
                    self.log_deletions(request, [definition])
                    definition_delete(definition=definition)
                deleted += 1
            except ServiceError as exc:
                refused.append("Not deleted: " + "; ".join(e.message for e in exc.errors))
        if deleted:
            self.message_user(request, f"Deleted {deleted} event definition(s).", messages.SUCCESS)
        for text in refused:
            self.message_user(request, text, messages.ERROR)
        return None
