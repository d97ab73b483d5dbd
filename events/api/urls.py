"""Routes of the native events API under ``/api/v1/``."""

from django.urls import path

from events.api import channels, collect, definitions, views

urlpatterns = [
    path("events", views.EventListCreateView.as_view(), name="api-events"),
    path("events/batch", views.EventBatchView.as_view(), name="api-events-batch"),
    path("collect", collect.CollectView.as_view(), name="api-collect"),
    path("events/<int:pk>", views.EventDetailView.as_view(), name="api-event"),
    path("definitions", definitions.DefinitionListView.as_view(), name="api-definitions"),
    path(
        "definitions/<str:definition_id>",
        definitions.DefinitionDetailView.as_view(),
        name="api-definition",
    ),
    path("channels", channels.ChannelListView.as_view(), name="api-channels"),
    path("channels/<int:channel_id>", channels.ChannelDetailView.as_view(), name="api-channel"),
]
