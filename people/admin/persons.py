"""Admin for people and the erasure log (SPEC §3): filters, identifier and tag inlines, the
person page with what higher floors register, and the erase page."""

import contextlib
import json

from django import forms
from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.db.models import OuterRef, Q, Subquery
from django.urls import path, reverse

from cdp.admin_scoping import (
    ReadOnlyAdmin,
    WorkspaceScopedAdmin,
    default_workspace,
    scope_queryset,
)
from cdp.errors import ServiceError
from cdp.ids import text_id
from people.admin.attributes import attribute_field, attribute_value
from people.admin.common import (
    ATTR_PREFIX,
    PERSON_INLINES,
    PERSON_PAGE_CONTEXTS,
    formset_for,
    new_forms,
)
from people.admin_views import ERASE_PERMISSION, person_erase_view
from people.identity import normalise_identifier
from people.models import (
    AttributeDefinition,
    ErasureRecord,
    Identifier,
    LifecycleStage,
    Person,
    PersonTag,
)
from people.segments.admin_person import SegmentFilter, person_segments_context
from people.segments.admin_why import why_column
from people.services import (
    STANDARD_ATTRIBUTES,
    identifier_add,
    person_create,
    person_update,
    tags_add,
    tags_remove,
)


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
        display = self.list_display
        if default_workspace(request) is None:
            display = (*display, "workspace")
        segment_id = text_id(request.GET.get(SegmentFilter.parameter_name, ""))
        if segment_id is not None:  # a segment's members: why each is in
            display = (*display, why_column(segment_id))
        return display

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
            ATTR_PREFIX + d.key: attribute_field(d, values.get(d.key))
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
                attributes[definition.key] = attribute_value(definition, data.get(name))
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
