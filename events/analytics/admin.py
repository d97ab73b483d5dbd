"""Admin entry of the analytics page (listed with the events app as "Analytics") and of the
JSON endpoints behind it and the index's dashboard (``events.analytics.admin_views``), and the
saved insights' change list. Imported by ``events.admin``."""

from django.contrib import admin, messages
from django.urls import path, reverse
from django.utils.html import format_html

from cdp.admin_scoping import ReadOnlyAdmin, WorkspaceScopedAdmin
from events.analytics import admin_views
from events.analytics.insights import (
    insight_create,
    insight_delete,
    insight_update,
    insights_pin,
)
from events.analytics.models import SavedInsight
from events.models import Analytics
from people.segments.admin_views import json_admin_view


@admin.register(Analytics)
class AnalyticsAdmin(ReadOnlyAdmin, admin.ModelAdmin):
    """No rows to list: the "change list" is the analytics page."""

    def get_urls(self):
        query = json_admin_view(self, admin_views.query_view)
        return [
            path(
                "", self.admin_site.admin_view(self.page_view), name="events_analytics_changelist"
            ),
            path(
                "segmentation/",
                query,
                {"kind": "segmentation"},
                name="events_analytics_segmentation",
            ),
            path("funnels/", query, {"kind": "funnels"}, name="events_analytics_funnels"),
            path("retention/", query, {"kind": "retention"}, name="events_analytics_retention"),
            *[
                path(
                    f"{kind}/people/",
                    json_admin_view(self, admin_views.people_view),
                    {"kind": kind},
                    name=f"events_analytics_{kind}_people",
                )
                for kind in admin_views.PEOPLE_PARSERS
            ],
            path(
                "people/segment/",
                json_admin_view(self, admin_views.people_segment_view),
                name="events_analytics_people_segment",
            ),
            path("csv/", json_admin_view(self, admin_views.csv_view), name="events_analytics_csv"),
            path(
                "dashboard/",
                json_admin_view(self, admin_views.dashboard_view),
                name="events_analytics_dashboard",
            ),
        ]

    def page_view(self, request):
        return admin_views.page_view(request, self)


# Saved insights --------------------------------------------------------------------------------


@admin.register(SavedInsight)
class SavedInsightAdmin(WorkspaceScopedAdmin):
    """Named funnels, segmentations and retention tables: "Open" loads one on the analytics
    page; the pinned ones are drawn on the admin index (pin with the checkbox or the actions).
    Saves go through ``events.analytics.insights``, which checks the query as the API does."""

    list_display = ("name", "kind", "workspace", "pinned", "position", "open_link")
    list_display_links = ("name",)
    list_editable = ("pinned", "position")
    list_filter = ("kind", "pinned", "workspace")
    search_fields = ("name",)
    fields = ("workspace", "name", "kind", "query", "pinned", "position")
    actions = ["pin", "unpin"]

    def service_error_field(self, name: str) -> str:
        return name.split(".")[0].split("[")[0]

    def construct_change_message(self, request, form, formsets, add=False):
        # The change list's editable rows (pinned, position) come without formsets.
        return super().construct_change_message(request, form, formsets or [], add)

    @admin.display(description="Open")
    def open_link(self, obj: SavedInsight) -> str:
        url = reverse("admin:events_analytics_changelist")
        return format_html(
            '<a href="{}?workspace={}&amp;insight={}">Open in analytics</a>',
            url,
            obj.workspace_id,
            obj.pk,
        )

    def save_model(self, request, obj, form, change):
        if not change:
            saved = insight_create(
                workspace=self.target_workspace(request, form),
                name=obj.name,
                kind=obj.kind,
                query=obj.query,
                pinned=obj.pinned,
                position=obj.position if "position" in form.changed_data else None,
                created_by=request.user,
            )
            obj.pk = saved.pk
            obj.refresh_from_db()
            return
        changes = {name: getattr(obj, name) for name in form.changed_data if name in self.fields}
        changes.pop("workspace", None)
        if "kind" in changes or "query" in changes:
            changes.update(kind=obj.kind, query=obj.query)
        insight_update(insight=obj, **changes)

    def delete_model(self, request, obj):
        insight_delete(insight=obj)

    def _pin(self, request, queryset, pinned: bool):
        count = insights_pin(insights=queryset, pinned=pinned)
        what = "insight" if count == 1 else "insights"
        self.message_user(
            request,
            f"{count} {what} {'pinned to' if pinned else 'unpinned from'} the dashboard.",
            messages.SUCCESS,
        )

    @admin.action(description="Pin to the dashboard", permissions=["change"])
    def pin(self, request, queryset):
        self._pin(request, queryset, True)

    @admin.action(description="Unpin from the dashboard", permissions=["change"])
    def unpin(self, request, queryset):
        self._pin(request, queryset, False)
