"""Routes of the segments API under ``/api/v1/``."""

from django.urls import path

from people.segments import api

urlpatterns = [
    path("segments", api.SegmentListCreateView.as_view(), name="api-segments"),
    path("segments/preview", api.SegmentPreviewView.as_view(), name="api-segments-preview"),
    path("segments/templates", api.SegmentTemplatesView.as_view(), name="api-segments-templates"),
    path("segments/<int:segment_id>", api.SegmentDetailView.as_view(), name="api-segment"),
    path(
        "segments/<int:segment_id>/refresh",
        api.SegmentRefreshView.as_view(),
        name="api-segment-refresh",
    ),
    path(
        "segments/<int:segment_id>/members",
        api.SegmentMembersView.as_view(),
        name="api-segment-members",
    ),
    path(
        "segments/<int:segment_id>/members/<int:person_id>",
        api.SegmentMemberView.as_view(),
        name="api-segment-member",
    ),
]
