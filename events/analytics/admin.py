"""Admin entry of the analytics page (listed with the events app as "Analytics") and of the
JSON endpoints behind it and the index's dashboard (``events.analytics.admin_views``).
Imported by ``events.admin``."""

from django.contrib import admin
from django.urls import path

from cdp.admin_scoping import ReadOnlyAdmin
from events.analytics import admin_views
from events.analytics.models import Analytics
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
