"""Admin for workspaces, API keys, custom attributes and people (SPEC §2, §3).

Every screen is scoped to the user's workspaces (``cdp.admin_scoping``) and writes through the
services of ``people.services`` (``people.workspaces`` for workspace settings and stages).
The person page adds the person's segments with explanations (``people.segments.admin_person``)
and what higher floors register in ``PERSON_PAGE_CONTEXTS`` / ``PERSON_INLINES``: their flow
runs (``flows.admin_person``), the event timeline of §3 and the event summary
(``events.admin_person``) below the profile, and an "Erase (GDPR)" page
(``people.admin_views``); erasures are listed, read-only, in the erasure log. The people list
filters by segment membership.
"""

import contextlib
import json
from collections.abc import Callable
from datetime import date

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth import get_user_model
from django.db.models import OuterRef, Q, Subquery
from django.http import HttpRequest
from django.urls import path, reverse
from django.utils.dateparse import parse_date

from cdp.admin_scoping import (
    ReadOnlyAdmin,
    WorkspaceScopedAdmin,
    default_workspace,
    scope_queryset,
)
from cdp.errors import ErrorCode, FieldError, ServiceError
from cdp.ids import text_id
from people.admin_views import ERASE_PERMISSION, person_erase_view
from people.identity import normalise_identifier
from people.models import (
    ApiKey,
    AttributeDefinition,
    ErasureRecord,
    Identifier,
    LifecycleStage,
    Person,
    PersonTag,
    Workspace,
)
from people.segments.admin_person import SegmentFilter, person_segments_context
from people.services import (
    STANDARD_ATTRIBUTES,
    attribute_definition_create,
    identifier_add,
    person_create,
    person_update,
    tags_add,
    tags_remove,
)
from people.workspaces import (
    api_key_create,
    api_key_revoke,
    lifecycle_stage_create,
    lifecycle_stage_delete,
    lifecycle_stage_update,
    workspace_create,
    workspace_update,
)

admin.site.site_header = "CDP"
admin.site.site_title = "CDP"
admin.site.index_title = "Customer data platform"

ATTR_PREFIX = "attr__"
# What higher floors show on the person page, registered at their ``AppConfig.ready()``:
# ``provider(request, person)`` returns template context for a section (events: the timeline;
# flows: the runs), and inlines follow the person's own (events: the per-definition summary).
PERSON_PAGE_CONTEXTS: list[Callable[[HttpRequest, Person], dict]] = []
PERSON_INLINES: list[type[admin.options.InlineModelAdmin]] = []


def new_forms(formset) -> list:
    """Return the filled-in extra forms of an inline formset (rows to add)."""
    if formset is None:
        return []
    return [f for f in formset.extra_forms if f.has_changed() and not f.cleaned_data.get("DELETE")]


def formset_for(formsets, model):
    return next((fs for fs in formsets if fs.model is model), None)


# Workspaces -----------------------------------------------------------------------------------


class LifecycleStageForm(forms.ModelForm):
    class Meta:
        model = LifecycleStage
        fields = ("code", "name", "position")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk and "code" in self.fields:
            self.fields["code"].disabled = True  # people and definitions refer to the code


class LifecycleStageInline(admin.TabularInline):
    model = LifecycleStage
    form = LifecycleStageForm
    fields = ("code", "name", "position")
    extra = 1


@admin.register(Workspace)
class WorkspaceAdmin(WorkspaceScopedAdmin):
    """Superusers manage workspaces; staff users see their own."""

    workspace_path = "pk"
    list_display = ("name", "slug", "parent", "unknown_track", "created_at")
    list_select_related = ("parent",)
    search_fields = ("name", "slug")
    fields = ("name", "slug", "parent", "unknown_track", "members", "created_at")
    readonly_fields = ("created_at",)
    filter_horizontal = ("members",)
    inlines = [LifecycleStageInline]

    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return False  # a workspace holds everything; there is no deletion service

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else []  # new workspaces get default stages

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        object_id = (
            request.resolver_match.kwargs.get("object_id") if request.resolver_match else None
        )
        if db_field.name == "parent" and object_id:
            field.queryset = field.queryset.exclude(pk=unquote(object_id))
        return field

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name == "members":
            kwargs["queryset"] = get_user_model().objects.filter(is_staff=True)
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        pass  # written in save_related, together with the stages

    def save_related(self, request, form, formsets, change):
        data = form.cleaned_data
        workspace = form.instance
        if not change:
            created = workspace_create(
                slug=data["slug"], name=data["name"], parent=data.get("parent")
            )
            workspace.pk = created.pk
            workspace = created
        workspace_update(
            workspace=workspace,
            fields={k: data[k] for k in ("name", "slug", "parent", "unknown_track") if k in data},
            members=data.get("members"),
        )
        stages = formset_for(formsets, LifecycleStage)
        if stages is not None:
            for stage_form in stages.deleted_forms:
                if stage_form.instance.pk:
                    lifecycle_stage_delete(stage=stage_form.instance)
            for stage_form in stages.initial_forms:
                if stage_form.has_changed() and stage_form not in stages.deleted_forms:
                    lifecycle_stage_update(
                        stage=stage_form.instance,
                        name=stage_form.cleaned_data["name"],
                        position=stage_form.cleaned_data["position"],
                    )
            for stage_form in new_forms(stages):
                values = stage_form.cleaned_data
                lifecycle_stage_create(
                    workspace=workspace,
                    code=values["code"],
                    name=values["name"],
                    position=values["position"],
                )


# API keys -------------------------------------------------------------------------------------


class KeyStatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return [("active", "Active"), ("revoked", "Revoked")]

    def queryset(self, request, queryset):
        if self.value() in {"active", "revoked"}:
            return queryset.filter(revoked_at__isnull=self.value() == "active")
        return queryset


@admin.register(ApiKey)
class ApiKeyAdmin(WorkspaceScopedAdmin):
    """Keys are created by ``api_key_create`` (the raw key is shown once) and only revoked."""

    list_display = (
        "prefix",
        "name",
        "kind",
        "workspace",
        "created_at",
        "last_used_at",
        "revoked_at",
    )
    list_filter = ("kind", KeyStatusFilter)
    list_select_related = ("workspace",)
    search_fields = ("prefix", "name")
    actions = ["revoke_keys"]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["workspace", "name", "kind"]
        return ["workspace", "name", "kind", "prefix", "created_at", "last_used_at", "revoked_at"]

    def has_change_permission(self, request, obj=None):
        return False  # nothing of a key can be edited; see revoke_keys

    def has_delete_permission(self, request, obj=None):
        return False

    def has_revoke_permission(self, request):
        return request.user.has_perm("people.change_apikey")

    def save_model(self, request, obj, form, change):
        new = api_key_create(
            workspace=self.target_workspace(request, form),
            kind=form.cleaned_data["kind"],
            name=form.cleaned_data["name"],
        )
        obj.pk, obj.prefix, obj.key_hash = new.api_key.pk, new.api_key.prefix, new.api_key.key_hash
        obj.workspace = new.api_key.workspace
        self.message_user(
            request,
            f"Copy the new key now; only its hash is stored and it is not shown again: "
            f"{new.raw_key}",
            messages.SUCCESS,
        )

    @admin.action(description="Revoke selected API keys", permissions=["revoke"])
    def revoke_keys(self, request, queryset):
        keys = list(queryset.filter(revoked_at__isnull=True))
        for key in keys:
            api_key_revoke(api_key=key)
        self.message_user(request, f"Revoked {len(keys)} API key(s).", messages.SUCCESS)


# Custom attribute definitions -----------------------------------------------------------------


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


def _attribute_field(definition: AttributeDefinition, value) -> forms.Field:
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


def _attribute_value(definition: AttributeDefinition, value):
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


class LifecycleStageFilter(admin.SimpleListFilter):
    title = "lifecycle stage"
    parameter_name = "stage"

    def lookups(self, request, model_admin):
        stages = {}
        for code, name in scope_queryset(
            LifecycleStage.objects.order_by("position"), request
        ).values_list("code", "name"):
            stages.setdefault(code, name)
        return list(stages.items())

    def queryset(self, request, queryset):
        return queryset.filter(lifecycle_stage=self.value()) if self.value() else queryset


class CountryFilter(admin.SimpleListFilter):
    title = "country"
    parameter_name = "country"

    def lookups(self, request, model_admin):
        countries = (
            scope_queryset(Person.objects.exclude(country=""), request)
            .order_by("country")
            .values_list("country", flat=True)
            .distinct()[:200]
        )
        return [(c, c) for c in countries]

    def queryset(self, request, queryset):
        return queryset.filter(country=self.value()) if self.value() else queryset


class TagFilter(admin.SimpleListFilter):
    title = "tag"
    parameter_name = "tag"

    def lookups(self, request, model_admin):
        names = (
            scope_queryset(PersonTag.objects.all(), request)
            .order_by("name")
            .values_list("name", flat=True)
            .distinct()[:200]
        )
        return [(n, n) for n in names]

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        return queryset.filter(
            pk__in=PersonTag.objects.filter(name=self.value()).values("person_id")
        )


class IdentifierForm(forms.ModelForm):
    class Meta:
        model = Identifier
        fields = ("type", "value")

    def clean(self):
        cleaned = super().clean()
        if self.instance.pk is None and cleaned.get("type") and cleaned.get("value"):
            try:
                cleaned["type"], cleaned["value"] = normalise_identifier(
                    cleaned["type"], cleaned["value"], "value"
                )
            except ServiceError as exc:
                self.add_error("value", exc.first.message)
        return cleaned


class IdentifierInline(admin.TabularInline):
    """Contact information; new rows go through ``identifier_add``; rows are never edited."""

    model = Identifier
    form = IdentifierForm
    fields = ("type", "value", "created_at")
    readonly_fields = ("created_at",)
    extra = 1
    can_delete = False

    def has_change_permission(self, request, obj=None):
        return False


class PersonTagInline(admin.TabularInline):
    model = PersonTag
    fields = ("name", "created_at")
    readonly_fields = ("created_at",)
    extra = 1

    def has_change_permission(self, request, obj=None):
        return False


# People ---------------------------------------------------------------------------------------


@admin.register(Person)
class PersonAdmin(WorkspaceScopedAdmin):
    """Profiles: standard and custom attributes, identifiers, tags and the event timeline."""

    change_form_template = "admin/people/person/change_form.html"
    list_display = (
        "display_name",
        "external_id",
        "email",
        "lifecycle_stage",
        "score",
        "last_seen_at",
    )
    list_filter = (LifecycleStageFilter, CountryFilter, TagFilter, SegmentFilter)
    search_fields = ("external_id", "first_name", "last_name", "identifiers__value")
    search_help_text = "Any identifier value (email, phone …), external id, id or name."
    list_select_related = ("workspace",)
    show_full_result_count = False
    inlines = [IdentifierInline, PersonTagInline]
    fieldsets = [
        (None, {"fields": ["workspace", "external_id", "trusted"]}),
        (
            "Standard attributes",
            {
                "fields": [
                    ("first_name", "last_name"),
                    "gender",
                    "birth_date",
                    ("country", "city"),
                    "address",
                    ("language", "time_zone"),
                ]
            },
        ),
        (
            "Activity",
            {
                "fields": [
                    "lifecycle_stage",
                    "score",
                    ("first_seen_at", "last_seen_at"),
                    ("created_at", "modified_at"),
                ]
            },
        ),
    ]
    readonly_fields = (
        "trusted",
        "lifecycle_stage",
        "score",
        "first_seen_at",
        "last_seen_at",
        "created_at",
        "modified_at",
        "custom_attributes",
    )
    service_error_fields = {"externalId": "external_id", "value": "identifier"}

    def has_delete_permission(self, request, obj=None):
        return False  # erasure (GDPR) is its own service, not an admin delete

    @admin.display(description="name", ordering="last_name")
    def display_name(self, obj):
        return str(obj)

    @admin.display(description="email")
    def email(self, obj):
        return obj.email or ""

    @admin.display(description="custom attributes")
    def custom_attributes(self, obj):
        return json.dumps(obj.attributes, ensure_ascii=False) if obj.attributes else "-"

    def get_queryset(self, request):
        emails = Identifier.objects.filter(person=OuterRef("pk"), type=Identifier.Type.EMAIL)
        return (
            super()
            .get_queryset(request)
            .annotate(email=Subquery(emails.order_by("pk").values("value")[:1]))
        )

    def get_list_display(self, request):
        if default_workspace(request) is None:
            return (*self.list_display, "workspace")
        return self.list_display

    def get_search_results(self, request, queryset, search_term):
        """Match any identifier value exactly (emails in any case, phones in any spelling),
        the external id, the internal id, or first/last name words."""
        term = search_term.strip()
        if not term:
            return queryset, False
        values = {term, term.lower()}
        with contextlib.suppress(ServiceError):  # not a phone number: nothing to add
            values.add(normalise_identifier("phone", term, "q")[1])
        owners = scope_queryset(Identifier.objects.filter(value__in=values), request)
        condition = Q(pk__in=owners.values("person_id")) | Q(external_id=term)
        if text_id(term) is not None:
            condition |= Q(pk=text_id(term))
        names = Q()
        for word in term.split():
            names &= Q(first_name__icontains=word) | Q(last_name__icontains=word)
        return queryset.filter(condition | names), False

    # The form: standard attributes plus one typed field per custom attribute definition.

    def _attribute_definitions(self, request, obj):
        workspace = obj.workspace if obj is not None else default_workspace(request)
        if workspace is None:
            return []
        cache = request.__dict__.setdefault("_cdp_attribute_definitions", {})
        if workspace.pk not in cache:
            cache[workspace.pk] = list(AttributeDefinition.objects.filter(workspace=workspace))
        return cache[workspace.pk]

    def get_fieldsets(self, request, obj=None):
        fieldsets = list(super().get_fieldsets(request, obj))
        if obj is not None and not self.has_change_permission(request, obj):
            fieldsets.append(("Custom attributes", {"fields": ["custom_attributes"]}))
            return fieldsets
        keys = [ATTR_PREFIX + d.key for d in self._attribute_definitions(request, obj)]
        if keys:
            fieldsets.append(("Custom attributes", {"fields": keys}))
        return fieldsets

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        return [*readonly, "external_id"] if obj is not None else readonly

    def get_form(self, request, obj=None, change=False, **kwargs):
        values = obj.attributes if obj is not None else {}
        declared = {
            ATTR_PREFIX + d.key: _attribute_field(d, values.get(d.key))
            for d in self._attribute_definitions(request, obj)
        }
        kwargs["form"] = type("PersonForm", (self.form,), declared)
        return super().get_form(request, obj, change=change, **kwargs)

    def service_error_field(self, name):
        if name.startswith("attributes."):
            return ATTR_PREFIX + name.split(".", 1)[1]
        for api_name, field in STANDARD_ATTRIBUTES.items():
            if name == api_name:
                return field
        return super().service_error_field(name)

    def save_model(self, request, obj, form, change):
        pass  # written in save_related, where identifiers and tags are known

    def save_related(self, request, form, formsets, change):
        data = form.cleaned_data
        standard = {
            api: data[field]
            for api, field in STANDARD_ATTRIBUTES.items()
            if field in form.fields and field in data
        }
        definitions = self._attribute_definitions(request, None if not change else form.instance)
        attributes = {}
        for definition in definitions:
            name = ATTR_PREFIX + definition.key
            if name in form.fields and (not change or name in form.changed_data):
                attributes[definition.key] = _attribute_value(definition, data.get(name))
        identifiers = [f.cleaned_data for f in new_forms(formset_for(formsets, Identifier))]
        tag_formset = formset_for(formsets, PersonTag)
        new_tags = [f.cleaned_data["name"] for f in new_forms(tag_formset)]
        if not change:
            first = {}
            for item in identifiers:
                first.setdefault(item["type"], item["value"])
            person = person_create(
                workspace=self.target_workspace(request, form),
                identifiers=first,
                external_id=data.get("external_id") or None,
                standard=standard,
                attributes={k: v for k, v in attributes.items() if v is not None},
                tags=new_tags,
            )
            form.instance.pk = person.pk
            extra = [i for i in identifiers if first.get(i["type"]) != i["value"]]
        else:
            person = person_update(person=form.instance, standard=standard, attributes=attributes)
            extra = identifiers
            tags_add(person=person, names=new_tags)
            removed = [
                f.instance.name for f in getattr(tag_formset, "deleted_forms", []) if f.instance.pk
            ]
            if removed:
                tags_remove(person=person, names=removed)
        for item in extra:
            identifier_add(person=person, type=item["type"], value=item["value"])

    def get_inlines(self, request, obj):
        return [*self.inlines, *PERSON_INLINES]

    # The sections below the form: segments, then what other apps register.

    def change_view(self, request, object_id, form_url="", extra_context=None):
        context = dict(extra_context or {})
        person = self.get_object(request, unquote(object_id))
        if person is not None:
            context.update(person_segments_context(request, person))
            for provider in PERSON_PAGE_CONTEXTS:
                context.update(provider(request, person))
            if request.user.has_perm(ERASE_PERMISSION):
                context["erase_url"] = reverse("admin:people_person_erase", args=[person.pk])
        return super().change_view(request, object_id, form_url, context)

    def get_urls(self):
        view = self.admin_site.admin_view(self.erase_view)
        return [
            path("<path:object_id>/erase/", view, name="people_person_erase"),
            *super().get_urls(),
        ]

    def erase_view(self, request, object_id):
        return person_erase_view(request, self, object_id)


# Erasure log ----------------------------------------------------------------------------------


@admin.register(ErasureRecord)
class ErasureRecordAdmin(ReadOnlyAdmin, WorkspaceScopedAdmin):
    """The GDPR erasure audit log: written by ``person_erase`` only, never edited."""

    list_display = (
        "erased_person_id",
        "erased_at",
        "requested_by",
        "events_deleted",
        "identifiers_deleted",
        "workspace",
    )
    list_select_related = ("workspace",)
    search_fields = ("=erased_person_id", "requested_by", "reason")
    date_hierarchy = "erased_at"
    fields = (
        "workspace",
        "erased_person_id",
        "erased_at",
        "requested_by",
        "reason",
        "events_deleted",
        "identifiers_deleted",
        "tags_deleted",
        "log_entries_deleted",
    )
    readonly_fields = fields


# Segments have their own admin module in their package; importing it registers it.
import people.segments.admin  # noqa: E402, F401
