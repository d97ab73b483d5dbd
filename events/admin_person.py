"""What the events app adds to the person page of the admin: the event timeline below the
profile (``templates/admin/people/person/change_form.html``), the per-definition event
summary inline, and the event count of the erase page. Registered with ``people.admin`` and
``people.admin_views`` at ``EventsConfig.ready()``, since people does not import events.
"""

import json

from django.contrib import admin
from django.core.paginator import Paginator
from django.http import HttpRequest
from django.urls import reverse

from events.models import Event, EventAggregate
from people.models import Person

TIMELINE_PAGE_SIZE = 25


class EventAggregateInline(admin.TabularInline):
    """Per definition: how many events, first and last time (read-only)."""

    model = EventAggregate
    fields = ("definition", "count", "first_at", "last_at", "last_data")
    readonly_fields = fields
    ordering = ("-last_at",)
    verbose_name = "event summary"
    verbose_name_plural = "event summary"
    can_delete = False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("definition")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def person_timeline_context(request: HttpRequest, person: Person) -> dict:
    """Return the person's events, newest first, one page of 25 (``?events_page=N``)
    (``people.admin.PERSON_PAGE_CONTEXTS``)."""
    events = (
        Event.objects.filter(workspace_id=person.workspace_id, person=person)
        .select_related("definition")
        .order_by("-occurred_at", "-id")
    )
    page = Paginator(events, TIMELINE_PAGE_SIZE).get_page(request.GET.get("events_page"))
    rows = [
        {
            "event": event,
            "url": reverse("admin:events_event_change", args=[event.pk]),
            "properties": _compact(event.properties),
        }
        for event in page.object_list
    ]
    events_url = reverse("admin:events_event_changelist")
    return {
        "timeline_page": page,
        "timeline_rows": rows,
        "timeline_all_url": f"{events_url}?person__id__exact={person.pk}",
        "try_url": (
            f"{reverse('admin:events_event_try')}?workspace={person.workspace_id}"
            f"&person={person.pk}"
            if request.user.has_perm("events.add_event")
            else ""
        ),
    }


def _compact(properties, limit: int = 240) -> str:
    """Return ``key=value`` pairs on one line, cut at ``limit`` characters."""
    if not isinstance(properties, dict) or not properties:
        return ""
    text = ", ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in properties.items())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def person_events_count(person: Person) -> dict[str, int]:
    """Return how many events an erasure of ``person`` deletes
    (``people.admin_views.ERASE_COUNTS``)."""
    return {"events": Event.objects.filter(person_id=person.pk).count()}
