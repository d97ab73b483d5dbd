"""Routes of the exports API under ``/api/v1/`` (SPEC §9 fixed contract)."""

from django.urls import path

from events.exports import api

urlpatterns = [
    path("exports/events", api.ExportCreateView.as_view(), name="api-exports"),
    path("exports/events/<str:request_id>", api.ExportDetailView.as_view(), name="api-export"),
    path("exports/definitions", api.ExportDefinitionsView.as_view(), name="api-export-definitions"),
]
