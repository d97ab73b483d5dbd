"""Outbox handlers re-evaluating only the people concerned, for only the segments concerned.

Registered by ``people.apps`` for three topics:

- ``events.ingested`` (``{"event_ids", "person_ids", "definition_ids",
  "touched_person_ids"}``): segments reading those definitions, or what ingestion also changes
  (score, seen times, lifecycle stage, tags); people the batch created or gave an identifier
  or external id (``touched``), for every segment;
- ``people.changed`` (``{"person_ids", "changes"}``, written by ``people.services``): segments
  reading the changed attributes, tags or identifiers (``changes`` null: any);
- ``people.merged`` (``{"survivor_id", "merged_id"}``): the survivor, for every segment.

``profiles_changed`` is what ``people.services`` calls; it writes nothing for a workspace
without dynamic segments, so profile edits there cost one cheap query and no message.

``segments_reevaluate`` does the work in a fixed number of statements whatever the number of
segments concerned: one query returns, per person of the batch, one boolean per segment (each
segment's compiled tree as a column), one reads their current stays, and entries and exits are
written per segment that changed. No event is read in Python; the people compared are at most
``REEVALUATE_CHUNK`` per statement.
"""

import logging
from collections.abc import Iterable
from datetime import datetime

from django.db import connection, transaction
from django.db.models import BooleanField, ExpressionWrapper, F
from django.utils import timezone

from cdp.errors import ServiceError
from cdp.models import OutboxMessage
from cdp.outbox import outbox_write
from people.models import Person, Workspace
from people.segments.compiler import Context, compile_node, ids_in
from people.segments.models import Segment, SegmentMembership
from people.segments.refresh import RefreshResult, segment_changes_announce
from people.segments.rules import rules_validate

logger = logging.getLogger(__name__)
REEVALUATE_CHUNK = 1_000  # people per statement (SQLite allows 32,766 parameters)

CHANGED_TOPIC = "people.changed"
# What a batch of events changes on people besides its definitions (events.ingestion).
INGESTION_CHANGES = frozenset(
    {
        "tags",
        "attribute:score",
        "attribute:first_seen_at",
        "attribute:last_seen_at",
        "attribute:lifecycle_stage",
    }
)


def on_events_ingested(message: OutboxMessage) -> None:
    payload = message.payload
    changes = {f"event:{pk}" for pk in payload.get("definition_ids", [])} | INGESTION_CHANGES
    touched = set(payload.get("touched_person_ids", []))
    segments_reevaluate(
        workspace_id=message.workspace_id,
        person_ids=set(payload.get("person_ids", [])) - touched,
        changes=changes,
    )
    # New people, and people given an identifier or external id, are checked for every
    # segment: "has no email" or "country is not DE" may hold for them now.
    segments_reevaluate(workspace_id=message.workspace_id, person_ids=touched, changes=None)


def on_people_changed(message: OutboxMessage) -> None:
    payload = message.payload
    segments_reevaluate(
        workspace_id=message.workspace_id,
        person_ids=payload.get("person_ids", []),
        changes=payload.get("changes"),
    )


def on_people_merged(message: OutboxMessage) -> None:
    segments_reevaluate(
        workspace_id=message.workspace_id, person_ids=[message.payload["survivor_id"]]
    )


def profiles_changed(
    *, workspace_id: int, person_ids: list[int], changes: Iterable[str] | None
) -> None:
    """Write one ``people.changed`` message for ``person_ids`` when their workspace has
    dynamic segments."""
    if (
        not person_ids
        or not Segment.objects.filter(workspace_id=workspace_id, kind=Segment.Kind.DYNAMIC).exists()
    ):
        return
    outbox_write(
        workspace=Workspace(pk=workspace_id),
        topic=CHANGED_TOPIC,
        payload={
            "person_ids": list(person_ids),
            "changes": sorted(changes) if changes is not None else None,
        },
    )


def memberships_merge(*, survivor, merged) -> None:
    """``people.merge`` handler: the survivor takes the merged person's static memberships;
    the rest end with the merged person (dynamic ones are re-evaluated for the survivor)."""
    current = SegmentMembership.objects.filter(exited_at__isnull=True)
    held = current.filter(person_id=survivor.pk).values("segment_id")
    moving = current.filter(person_id=merged.pk, segment__kind=Segment.Kind.STATIC).exclude(
        segment_id__in=held
    )
    moving.update(person_id=survivor.pk)
    memberships_end(person_id=merged.pk)


def memberships_end(*, person_id: int) -> None:
    """End the current stays of a person who is going away (erased or merged into another):
    member counts drop at once and the exits are announced; the rows go with the person."""
    current = SegmentMembership.objects.filter(person_id=person_id, exited_at__isnull=True)
    for segment in (
        Segment.objects.filter(pk__in=current.values("segment_id"))
        .select_related("workspace")
        .order_by("pk")
    ):
        Segment.objects.filter(pk=segment.pk, member_count__gt=0).update(
            member_count=F("member_count") - 1
        )
        segment_changes_announce(segment=segment, entered=[], exited=[person_id])


def _affected(workspace_id: int, changed: set[str] | None) -> list[tuple[Segment, object]]:
    """Lock the dynamic segments ``changed`` can affect; return them with their checked trees."""
    segments = (
        Segment.objects.select_for_update(of=("self",))
        .select_related("workspace")
        .filter(workspace_id=workspace_id, kind=Segment.Kind.DYNAMIC)
        .order_by("pk")
    )
    checked = []
    for segment in segments:
        if changed is not None and not changed.intersection(segment.dependencies):
            continue
        try:
            tree = rules_validate(
                workspace=segment.workspace, rules=segment.rules, segment_id=segment.pk
            ).tree
        except ServiceError as exc:
            logger.warning("segment %s skipped: %s", segment.pk, exc)
            continue
        checked.append((segment, tree))
    return checked


def _close(segment: Segment, person_ids: list[int], now: datetime) -> None:
    SegmentMembership.objects.filter(
        segment=segment, person_id__in=person_ids, exited_at__isnull=True
    ).update(exited_at=now)


def _open(segment: Segment, person_ids: list[int], now: datetime) -> list[int]:
    """Insert stays for ``person_ids``; return those inserted (a concurrent entry wins)."""
    table = connection.ops.quote_name(SegmentMembership._meta.db_table)
    rows = ", ".join(["(%s, %s, %s, %s)"] * len(person_ids))
    params = [v for pid in person_ids for v in (segment.workspace_id, segment.pk, pid, now)]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (workspace_id, segment_id, person_id, entered_at)"
            f" VALUES {rows} ON CONFLICT DO NOTHING RETURNING person_id",
            params,
        )
        return [row[0] for row in cursor.fetchall()]


def segments_reevaluate(
    *,
    workspace_id: int,
    person_ids: Iterable[int],
    changes: Iterable[str] | None = None,
    now: datetime | None = None,
) -> list[RefreshResult]:
    """Re-evaluate only ``person_ids`` for the dynamic segments ``changes`` can affect.

    ``changes`` are dependency names (``event:<pk>``, ``attribute:<column>``,
    ``custom:<key>``, ``tags``, ``identifiers``, ``segment:<id>``); None means any. A
    segment whose rules no longer validate is skipped (its next full refresh reports why).
    A person who no longer exists leaves every segment concerned.
    """
    now = now or timezone.now()
    ids = sorted(set(person_ids))
    if not ids:
        return []
    changed = set(changes) if changes is not None else None
    with transaction.atomic():
        checked = _affected(workspace_id, changed)
        if not checked:
            return []
        moves = {segment.pk: ([], []) for segment, _ in checked}
        for start in range(0, len(ids), REEVALUATE_CHUNK):
            chunk = ids[start : start + REEVALUATE_CHUNK]
            ctx = Context(workspace_id=workspace_id, now=now, person_ids=tuple(chunk))
            columns = {
                f"s{segment.pk}": ExpressionWrapper(
                    compile_node(tree, ctx), output_field=BooleanField()
                )
                for segment, tree in checked
            }
            qualifying = {name: set() for name in columns}
            for row in (
                Person.objects.filter(ids_in("pk", chunk), workspace_id=workspace_id)
                .annotate(**columns)
                .values("pk", *columns)
            ):
                for name in columns:
                    if row[name]:
                        qualifying[name].add(row["pk"])
            current = {segment.pk: set() for segment, _ in checked}
            for segment_id, person_id in (
                SegmentMembership.objects.filter(
                    ids_in("person_id", chunk), segment_id__in=current, exited_at__isnull=True
                )
                .order_by()
                .values_list("segment_id", "person_id")
            ):
                current[segment_id].add(person_id)
            for segment, _ in checked:
                inside, now_in = current[segment.pk], qualifying[f"s{segment.pk}"]
                left, came = sorted(inside - now_in), sorted(now_in - inside)
                if left:
                    _close(segment, left, now)
                    moves[segment.pk][1].extend(left)
                if came:
                    moves[segment.pk][0].extend(_open(segment, came, now))
        results = []
        for segment, _ in checked:
            entered, exited = moves[segment.pk]
            count = segment.member_count + len(entered) - len(exited)
            if entered or exited:
                Segment.objects.filter(pk=segment.pk).update(
                    member_count=F("member_count") + len(entered) - len(exited)
                )
                segment_changes_announce(segment=segment, entered=entered, exited=exited)
            results.append(
                RefreshResult(
                    segment_id=segment.pk,
                    entered=tuple(entered),
                    exited=tuple(exited),
                    member_count=count,
                )
            )
    return results
