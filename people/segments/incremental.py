"""Outbox handlers re-evaluating only the people concerned, for only the segments concerned.

Registered by ``people.apps`` for three topics:

- ``events.ingested`` (``{"event_ids", "person_ids", "definition_ids"}``): segments reading
  those definitions, or what ingestion also changes (score, seen times, lifecycle stage, tags);
- ``people.changed`` (``{"person_ids", "changes"}``, written by ``people.services``): segments
  reading the changed attributes, tags or identifiers (``changes`` null: any);
- ``people.merged`` (``{"survivor_id", "merged_id"}``): the survivor, for every segment.

``profile_changed`` is what ``people.services`` calls; it writes nothing for a workspace
without dynamic segments, so profile edits there cost one cheap query and no message.
"""

from collections.abc import Iterable

from django.db.models import F

from events.models import OutboxMessage
from people.segments.models import Segment, SegmentMembership
from people.segments.refresh import segments_reevaluate

CHANGED_TOPIC = "people.changed"
# What a batch of events changes on people besides its definitions (events.ingestion).
INGESTION_CHANGES = frozenset({"tags", "attribute:score", "attribute:first_seen_at",
                               "attribute:last_seen_at", "attribute:lifecycle_stage"})


def on_events_ingested(message: OutboxMessage) -> None:
    payload = message.payload
    changes = {f"event:{pk}" for pk in payload.get("definition_ids", [])} | INGESTION_CHANGES
    segments_reevaluate(workspace_id=message.workspace_id,
                        person_ids=payload.get("person_ids", []), changes=changes)


def on_people_changed(message: OutboxMessage) -> None:
    payload = message.payload
    segments_reevaluate(workspace_id=message.workspace_id,
                        person_ids=payload.get("person_ids", []),
                        changes=payload.get("changes"))


def on_people_merged(message: OutboxMessage) -> None:
    segments_reevaluate(workspace_id=message.workspace_id,
                        person_ids=[message.payload["survivor_id"]])


def profile_changed(*, person, changes: Iterable[str] | None) -> None:
    """Write a ``people.changed`` message when the person's workspace has dynamic segments."""
    from events.outbox import outbox_write

    if not Segment.objects.filter(workspace_id=person.workspace_id,
                                  kind=Segment.Kind.DYNAMIC).exists():
        return
    outbox_write(workspace=person.workspace, topic=CHANGED_TOPIC, payload={
        "person_ids": [person.pk], "changes": sorted(changes) if changes is not None else None})


def memberships_merge(*, survivor, merged) -> None:
    """``people.merge`` handler: the survivor takes the merged person's static memberships;
    the rest end with the merged person (dynamic ones are re-evaluated for the survivor)."""
    current = SegmentMembership.objects.filter(exited_at__isnull=True)
    held = current.filter(person_id=survivor.pk).values("segment_id")
    moving = current.filter(person_id=merged.pk, segment__kind=Segment.Kind.STATIC).exclude(
        segment_id__in=held)
    moving.update(person_id=survivor.pk)
    for segment_id in current.filter(person_id=merged.pk).values_list("segment_id", flat=True):
        Segment.objects.filter(pk=segment_id, member_count__gt=0).update(
            member_count=F("member_count") - 1)
