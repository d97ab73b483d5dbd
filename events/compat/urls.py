"""Routes of the compatible endpoints (Infobip, DM Hub, Quick Audience, Segment)."""

from django.urls import path

from events.compat import dmhub, infobip, quick_audience
from events.compat.segment import segment_view

urlpatterns = [
    path(
        "peopleevents/1/persons/<str:person_id>/definitions/<str:definition_id>/events",
        infobip.infobip_event,
        name="infobip-event",
    ),
    path("v1/customerevents", dmhub.customer_events, name="dmhub-events"),
    path("v1/customerevents/<int:event_id>", dmhub.customer_event, name="dmhub-event"),
    path(
        "quickaudience/v1/event-messages", quick_audience.event_messages, name="qa-event-messages"
    ),
    path("quickaudience/v1/user-messages", quick_audience.user_messages, name="qa-user-messages"),
    path("v1/batch", segment_view(None), name="segment-batch"),
    *(
        path(f"v1/{kind}", segment_view(kind), name=f"segment-{kind}")
        for kind in ("track", "identify", "page", "screen", "alias", "group")
    ),
]
