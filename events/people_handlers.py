"""A person's events when the people app merges or erases them.

People sits below events, so it does not import them: these functions are registered at
``EventsConfig.ready()`` in ``people.merge.MERGE_HANDLERS`` / ``MERGED_HANDLERS`` and
``people.erasure.ERASE_HANDLERS``, and run inside the people service's transaction.
"""

import json
import logging
from collections import Counter
from functools import reduce
from operator import or_

from django.db.models import Exists, OuterRef, Q, TextField
from django.db.models.functions import Cast
from django.utils import timezone

from events.ingestion import events_ingest
from events.inputs import EventInput
from events.models import Event, EventAggregate, IngestionLogEntry
from events.selectors import definition_enabled_map, definition_get
from people.inputs import PersonRef
from people.models import Person, Workspace

logger = logging.getLogger(__name__)

MERGED_EVENT = "personMerged"


def person_events_merge(*, survivor: Person, merged: Person) -> int:
    """Move the merged person's events and aggregates to the survivor
    (``people.merge.MERGE_HANDLERS``); return the score of the events dropped as repeats."""
    dropped_counts, dropped_score = _events_move(survivor, merged)
    _aggregates_combine(survivor, merged, dropped_counts)
    return dropped_score


def _events_move(survivor: Person, merged: Person) -> tuple[Counter, int]:
    """Move the merged person's events; drop those repeating one of the survivor's.

    Return the dropped events per definition and the score they had added.
    """
    theirs = Event.objects.filter(person_id=merged.pk)
    repeats = theirs.filter(external_id__isnull=True).filter(
        Exists(
            Event.objects.filter(
                person_id=survivor.pk,
                external_id__isnull=True,
                definition_id=OuterRef("definition_id"),
                occurred_at=OuterRef("occurred_at"),
            )
        )
    )
    dropped = list(repeats.values_list("pk", "definition_id", "score", "definition__default_score"))
    counts: Counter = Counter()
    score = 0
    for _, definition_id, event_score, default_score in dropped:
        counts[definition_id] += 1
        score += event_score if event_score is not None else default_score
    if dropped:
        Event.objects.filter(pk__in=[row[0] for row in dropped]).delete()
    # The one change events ever see (§5 keeps them immutable): the happening stays the same,
    # only who did it is now known better.
    theirs.update(person_id=survivor.pk)
    return counts, score


def _aggregates_combine(survivor: Person, merged: Person, dropped: Counter) -> None:
    theirs = {a.definition_id: a for a in EventAggregate.objects.filter(person_id=merged.pk)}
    if not theirs:
        return
    mine = list(
        EventAggregate.objects.filter(person_id=survivor.pk, definition_id__in=list(theirs))
    )
    for aggregate in mine:
        other = theirs[aggregate.definition_id]
        aggregate.count = max(aggregate.count + other.count - dropped[aggregate.definition_id], 0)
        aggregate.first_at = min(aggregate.first_at, other.first_at)
        if other.last_at > aggregate.last_at:
            aggregate.last_at, aggregate.last_data = other.last_at, other.last_data
    if mine:
        EventAggregate.objects.bulk_update(mine, ["count", "first_at", "last_at", "last_data"])
        EventAggregate.objects.filter(
            person_id=merged.pk, definition_id__in=[a.definition_id for a in mine]
        ).delete()
    EventAggregate.objects.filter(person_id=merged.pk).update(person_id=survivor.pk)


def person_merged_record(
    *, workspace: Workspace, survivor: Person, merged_id: int, merged_external_id: str | None
) -> None:
    """Record ``personMerged`` on the survivor when the workspace has it enabled
    (``people.merge.MERGED_HANDLERS``)."""
    definition = definition_get(workspace=workspace, definition_id=MERGED_EVENT)
    if (
        definition is None
        or not definition_enabled_map(workspace=workspace, definitions=[definition])[definition.pk]
    ):
        return
    properties: dict = {"mergedPersonId": merged_id}
    if merged_external_id:
        properties["mergedExternalId"] = merged_external_id
    result = events_ingest(
        workspace=workspace,
        origin=Event.Origin.SYSTEM,
        events=[
            EventInput(
                definition_id=MERGED_EVENT,
                person=PersonRef(id=survivor.pk),
                occurred_at=timezone.now(),
                properties=properties,
            )
        ],
    )
    if result.rejected:
        logger.warning(
            "personMerged not recorded for person %s: %s", survivor.pk, result.items[0].errors
        )
    # The event added score and seen times to the stored row; keep the returned copy true.
    survivor.refresh_from_db()


# Erasure ----------------------------------------------------------------------------------------


def person_events_erase(*, person: Person, mentions: list[str]) -> dict[str, int]:
    """Delete the person's events and aggregates, and rejected payloads that mention one of
    ``mentions`` (``people.erasure.ERASE_HANDLERS``); return how many of each."""
    log_entries = _log_entries_delete(person.workspace_id, mentions)
    # Count by model: other apps' rows cascading from events are not events.
    _, deleted = Event.objects.filter(person_id=person.pk).delete()
    EventAggregate.objects.filter(person_id=person.pk).delete()
    return {"events": deleted.get(Event._meta.label, 0), "log_entries": log_entries}


def _log_entries_delete(workspace_id: int, values: list[str]) -> int:
    """Delete ingestion log entries whose payload holds one of ``values`` as a JSON string
    (quoted, so that a short external id like "42" does not match every number)."""
    needles = {
        needle for v in values if v for needle in (json.dumps(v), json.dumps(v, ensure_ascii=False))
    }
    if not needles:
        return 0
    mentions = reduce(or_, (Q(payload_text__icontains=needle) for needle in needles))
    mentioning = (
        IngestionLogEntry.objects.filter(workspace_id=workspace_id)
        .annotate(payload_text=Cast("payload", TextField()))
        .filter(mentions)
        .values("pk")
    )
    deleted, _ = IngestionLogEntry.objects.filter(pk__in=mentioning).delete()
    return deleted
