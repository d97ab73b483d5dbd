"""Routes of the analytics API under ``/api/v1/`` (SPEC §10)."""

from django.urls import path

from events.analytics import api, insights_api

urlpatterns = [
    path(
        "analytics/segmentation", api.SegmentationView.as_view(), name="api-analytics-segmentation"
    ),
    path("analytics/funnels", api.FunnelView.as_view(), name="api-analytics-funnels"),
    path(
        "analytics/funnels/templates",
        api.FunnelTemplatesView.as_view(),
        name="api-analytics-funnel-templates",
    ),
    # Retention and the people behind each number.
    path("analytics/retention", api.RetentionView.as_view(), name="api-analytics-retention"),
    path(
        "analytics/funnels/people",
        api.FunnelPeopleView.as_view(),
        name="api-analytics-funnel-people",
    ),
    path(
        "analytics/segmentation/people",
        api.SegmentationPeopleView.as_view(),
        name="api-analytics-segmentation-people",
    ),
    path(
        "analytics/retention/people",
        api.RetentionPeopleView.as_view(),
        name="api-analytics-retention-people",
    ),
]

# Saved insights (events.analytics.insights_api).
urlpatterns += [
    path(
        "analytics/insights",
        insights_api.InsightListCreateView.as_view(),
        name="api-analytics-insights",
    ),
    path(
        "analytics/insights/<int:insight_id>",
        insights_api.InsightDetailView.as_view(),
        name="api-analytics-insight",
    ),
    path(
        "analytics/insights/<int:insight_id>/result",
        insights_api.InsightResultView.as_view(),
        name="api-analytics-insight-result",
    ),
]
