"""Admin for events (read-only, with the "try it" page) and the ingestion log."""

import json

from django.contrib import admin
from django.urls import path, reverse
from django.utils.html import format_html

from cdp.admin_scoping import (
    ReadOnlyAdmin,
    WorkspaceScopedAdmin,
    scope_queryset,
    user_workspace_ids,
)
from cdp.ids import text_id
from events.admin_views import event_try_view
from events.models import (
    Event,
    EventDefinition,
    IngestionLogEntry,
    WorkspaceDefinition,
)
from people.models import Person

# Events ---------------------------------------------------------------------------------------


class DefinitionFilter(admin.SimpleListFilter):
    """Definitions used (or switched) in the user's workspaces, not the whole catalogue."""

    title = "definition"
    parameter_name = "definition"

    def lookups(self, request, model_admin):
        used = WorkspaceDefinition.objects.all()
        ids = user_workspace_ids(request)
        if ids is not None:
            used = used.filter(workspace_id__in=ids)
        definitions = EventDefinition.objects.filter(pk__in=used.values("definition_id")).order_by(
            "name"
        )
        return [(str(d.pk), str(d)) for d in definitions]

    def queryset(self, request, queryset):
        return queryset.filter(definition_id=self.value()) if self.value() else queryset


class PersonFilter(admin.SimpleListFilter):
    """``?person__id__exact=<id>``: the events of one person (linked from the person page)."""

    title = "person"
    parameter_name = "person__id__exact"

    def lookups(self, request, model_admin):
        value = self.value()
        if text_id(value) is None:
            return []
        person = scope_queryset(Person.objects.filter(pk=text_id(value)), request).first()
        return [(value, str(person))] if person else []

    def queryset(self, request, queryset):
        value = self.value()
        if not value:
            return queryset
        number = text_id(value)
        return queryset.filter(person_id=number) if number is not None else queryset.none()


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin, WorkspaceScopedAdmin):
    """Events are immutable: list, filter and look, never add, change or delete."""

    change_list_template = "admin/events/event/change_list.html"
    list_display = ("occurred_at", "definition", "person_link", "origin", "external_id")
    list_filter = (PersonFilter, DefinitionFilter, "origin")
    date_hierarchy = "occurred_at"
    search_fields = ("=external_id",)
    search_help_text = "Exact external id."
    list_select_related = ("definition", "person")
    show_full_result_count = False
    list_per_page = 50
    fieldsets = [
        (None, {"fields": ["definition", "person", "origin", "occurred_at", "received_at"]}),
        ("Identifiers", {"fields": ["external_id", "session_id"]}),
        (
            "Core fields",
            {
                "fields": [
                    "target_id",
                    "target_name",
                    "source",
                    "content_name",
                    "score",
                    "tags",
                    "campaign_code",
                    "campaign_name",
                    "summary",
                ]
            },
        ),
        ("Properties", {"fields": ["properties"]}),
    ]

    @admin.display(description="person")
    def person_link(self, obj):
        url = reverse("admin:people_person_change", args=[obj.person_id])
        return format_html('<a href="{}">{}</a>', url, obj.person)

    def get_urls(self):
        view = self.admin_site.admin_view(self.try_view)
        return [path("try/", view, name="events_event_try"), *super().get_urls()]

    def try_view(self, request):
        return event_try_view(request, self)

    def changelist_view(self, request, extra_context=None):
        context = {"can_try": request.user.has_perm("events.add_event"), **(extra_context or {})}
        return super().changelist_view(request, context)


class ReasonFilter(admin.SimpleListFilter):
    """The reasons present in the user's log (error codes)."""

    title = "reason"
    parameter_name = "code"

    def lookups(self, request, model_admin):
        codes = (
            scope_queryset(IngestionLogEntry.objects.all(), request)
            .order_by("code")
            .values_list("code", flat=True)
            .distinct()
        )
        return [(c, c) for c in codes]

    def queryset(self, request, queryset):
        return queryset.filter(code=self.value()) if self.value() else queryset


@admin.register(IngestionLogEntry)
class IngestionLogAdmin(WorkspaceScopedAdmin):
    """Rejected input from every endpoint (§5): reason, field, message and the payload."""

    list_display = ("created_at", "endpoint", "code", "field", "message")
    list_filter = (ReasonFilter, "endpoint", "created_at")
    date_hierarchy = "created_at"
    search_fields = ("message", "field")
    show_full_result_count = False
    list_per_page = 50
    fields = ("created_at", "endpoint", "code", "field", "message", "payload_pretty")
    readonly_fields = fields

    @admin.display(description="payload")
    def payload_pretty(self, obj):
        return format_html("<pre>{}</pre>", json.dumps(obj.payload, indent=2, ensure_ascii=False))

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
