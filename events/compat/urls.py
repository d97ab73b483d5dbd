"""Routes of the compatible endpoints (Infobip, DM Hub, Quick Audience, Segment)."""

from django.urls import path

from events.compat import dmhub, infobip, quick_audience
from events.compat.segment import SHORT_PATHS
from events.compat.segment_schema import segment_route

urlpatterns = [
    path(
        "peopleevents/1/persons/<str:personId>/definitions/<str:definitionId>/events",
        infobip.InfobipEventView.as_view(),
        name="infobip-event",
    ),
    path("v1/customerevents", dmhub.CustomerEventsView.as_view(), name="dmhub-events"),
    path("v1/customerevents/<int:id>", dmhub.CustomerEventView.as_view(), name="dmhub-event"),
    path(
        "quickaudience/v1/event-messages",
        quick_audience.EventMessagesView.as_view(),
        name="qa-event-messages",
    ),
    path(
        "quickaudience/v1/user-messages",
        quick_audience.UserMessagesView.as_view(),
        name="qa-user-messages",
    ),
    path("v1/batch", segment_route(None), name="segment-batch"),
    *(
        path(f"v1/{kind}", segment_route(kind), name=f"segment-{kind}")
        for kind in ("track", "identify", "page", "screen", "alias", "group")
    ),
    *(
        path(f"v1/{short}", segment_route(kind, short), name=f"segment-{short}")
        for short, kind in SHORT_PATHS.items()
    ),
]
