"""The one ingestion service. Every endpoint maps its payload to ``EventInput`` and calls
``events_ingest`` once per batch.

Per batch, in one transaction: load the batch's definitions (2–3 queries), validate each item
in Python, resolve people (≤ 3 queries + bulk inserts), drop duplicates inside the batch, insert
the events (``COPY`` on PostgreSQL), upsert the per person × definition aggregates (one query),
update people (score, first/last seen, lifecycle stage: one query), add event tags to people
(one bulk insert) and write one outbox row; after commit the outbox row is handed to Celery.
"""

import logging
import random
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime

from django.conf import settings
from django.db import IntegrityError, OperationalError, transaction
from django.db.models import Q
from django.utils import timezone

from cdp.errors import ErrorCode, FieldError, json_type_error
from cdp.outbox import outbox_awaited, outbox_write
from events.definition_cache import catalogue_get
from events.ingestion_log import ingestion_log_record
from events.inputs import EventInput, IngestResult, ItemResult, Status
from events.selectors import person_globals_latest
from events.services import workspace_definitions_ensure
from events.validation import core_validate
from events.writes import events_write, existing_event_ids
from people.changes import TAG_ADDED, ProfileChange, profile_changes_record
from people.models import LifecycleStage, Person, PersonTag, Workspace
from people.resolution import people_resolve

logger = logging.getLogger(__name__)
# Concurrent batches naming the same new customers, or people being merged, conflict on
# unique indexes, deadlock or find a person merged away; each retry resolves against what the
# others committed; jittered backoff keeps the retries from colliding again.
RETRIES = 8


def events_ingest(
    *,
    workspace: Workspace,
    events: Sequence[EventInput],
    origin: str,
    create_people: bool = True,
    payloads: Sequence | None = None,
    trusted: bool = True,
) -> IngestResult:
    """Validate, deduplicate and store a batch of events; answer per item.

    ``create_people`` creates unknown people (SDK, Segment-style calls); Infobip-style calls
    pass False and get ``person_not_found`` instead. Rejected items go to the ingestion log
    with ``payloads[i]`` (the input as the caller sent it) or else the mapped input.
    ``trusted`` is False for a public key's batch (``caller.is_secret``): people resolve under
    the public-key rule of ``people.resolution``, and a stored item whose person reference
    named a known person with something else is logged with the names ignored.
    """
    chunk = settings.CDP_MAX_BATCH_SIZE
    items: list[ItemResult] = []
    for start in range(0, len(events), chunk):
        part = events[start : start + chunk]
        for attempt in range(RETRIES):
            try:
                result = _ingest_chunk(workspace, part, origin, create_people, trusted)
                break
            except (IntegrityError, OperationalError) as exc:
                # A concurrent writer took an external id or identifier first, merged a
                # person away, or deadlocked with this batch (or SQLite was busy): the retry
                # resolves against what it wrote.
                if attempt == RETRIES - 1:
                    raise
                logger.info("ingest retry %s after %s", attempt + 1, exc)
                time.sleep(random.uniform(0.005, 0.01 * 2 ** min(attempt, 5)))
        if start:
            result = [
                ItemResult(
                    index=r.index + start,
                    status=r.status,
                    event_id=r.event_id,
                    person_id=r.person_id,
                    errors=r.errors,
                    ignored=r.ignored,
                )
                for r in result
            ]
        items.extend(result)
    rejected = [
        (
            payloads[i] if payloads is not None else _as_payload(events[i]),
            item.errors if item.status == Status.REJECTED else item.ignored,
        )
        for i, item in enumerate(items)
        if item.status == Status.REJECTED or item.ignored
    ]
    if rejected:
        ingestion_log_record(workspace=workspace, endpoint=origin, rejected=rejected)
    return IngestResult(items=tuple(items))


def _as_payload(item: EventInput) -> dict:
    payload = asdict(item)
    if isinstance(payload.get("occurred_at"), datetime):
        payload["occurred_at"] = payload["occurred_at"].isoformat()
    payload["flow_cause"] = item.flow_cause and item.flow_cause.as_json()
    return payload


def _ingest_chunk(workspace, events, origin, create_people, trusted) -> list[ItemResult]:
    now = timezone.now()
    n = len(events)
    errors: list[list[FieldError]] = [[] for _ in range(n)]
    with transaction.atomic():
        catalogue = catalogue_get(workspace)
        definitions, validators, enabled = (
            catalogue.definitions,
            catalogue.validators,
            catalogue.enabled,
        )
        prepared: list[dict | None] = [None] * n
        # Per definition code met in the batch: (pk, validator), or the error it gets.
        known: dict[str, tuple | FieldError] = {}
        workspace_id = workspace.pk
        for i, item in enumerate(events):
            values, occurred, errs = core_validate(item, now)
            code = item.definition_id
            if errs:
                errors[i].extend(errs)
            if code is not None and code.__class__ is not str:  # a list or object passed through
                errors[i].append(json_type_error(code, str, "definitionId"))
                continue
            found = known.get(code)
            if found is None:
                found = known[code] = _definition_found(code, definitions, enabled, validators)
            if found.__class__ is FieldError:
                errors[i].append(found)
                continue
            pk, validator = found
            properties = item.properties
            if item.data is not None:
                properties = item.data
                declared = validator.types
                errs = validator.validate({k: v for k, v in properties.items() if k in declared})
            else:
                errs = validator.validate(properties)
            if errs:
                errors[i].extend(errs)
            if not errors[i]:
                prepared[i] = {
                    **values,
                    "workspace_id": workspace_id,
                    "definition_id": pk,
                    "occurred_at": occurred,
                    "received_at": now,
                    "properties": validator.complete(properties),
                    "origin": origin,
                    "flow_cause": item.flow_cause and item.flow_cause.as_json(),
                }

        resolution = people_resolve(
            workspace=workspace,
            refs=[e.person if prepared[i] else None for i, e in enumerate(events)],
            create=create_people,
            trusted=trusted,
        )
        for i, row in enumerate(prepared):
            if row is None:
                continue
            if resolution.errors[i]:
                errors[i].extend(resolution.errors[i])
                prepared[i] = None
            else:
                row["person_id"] = resolution.person_ids[i]
        if catalogue.global_keys:
            _globals_carry(workspace_id, prepared, catalogue)

        # Duplicates inside the batch repeat the first occurrence.
        first_of: dict[int, int] = {}
        seen: dict[tuple, int] = {}
        to_insert: list[int] = []
        for i, row in enumerate(prepared):
            if row is None:
                continue
            key = (
                ("x", row["external_id"])
                if row["external_id"]
                else ("p", row["person_id"], row["definition_id"], row["occurred_at"])
            )
            if key in seen:
                first_of[i] = seen[key]
            else:
                seen[key] = i
                to_insert.append(i)

        default_scores = {d.pk: d.default_score for d in definitions.values()}
        new_ids = events_write(
            [prepared[i] for i in to_insert], default_scores=default_scores, now=now
        )
        event_ids: dict[int, int | None] = {}
        duplicate = set()
        repeated = [i for i, eid in zip(to_insert, new_ids, strict=True) if eid is None]
        for i, eid in zip(to_insert, new_ids, strict=True):
            event_ids[i] = eid
        if repeated:
            found = existing_event_ids(workspace.pk, [prepared[i] for i in repeated])
            for i, eid in zip(repeated, found, strict=True):
                event_ids[i] = eid
                duplicate.add(i)
        for i, first in first_of.items():
            event_ids[i] = event_ids[first]
            duplicate.add(i)

        accepted = [i for i in to_insert if i not in duplicate]
        if accepted:
            _side_effects(
                workspace,
                [prepared[i] for i in accepted],
                [event_ids[i] for i in accepted],
                catalogue,
                resolution.stages,
                now,
                resolution.touched,
            )

    results = []
    for i in range(n):
        if errors[i]:
            results.append(ItemResult(index=i, status=Status.REJECTED, errors=tuple(errors[i])))
        else:
            status = Status.DUPLICATE if i in duplicate else Status.ACCEPTED
            results.append(
                ItemResult(
                    index=i,
                    status=status,
                    event_id=event_ids.get(i),
                    person_id=prepared[i]["person_id"],
                    ignored=resolution.ignored.get(i, ()),
                )
            )
    return results


def _globals_carry(workspace_id: int, rows: list[dict | None], catalogue) -> None:
    """Carry global properties (SPEC §4, §6): an event of a channel that does not carry one of
    the channel's global properties gets the value the person's latest event of that channel
    carried (earlier in the batch, else the latest stored by occurred time), until a later
    event sends another value."""
    by_channel: dict[int, list[int]] = defaultdict(list)
    for definition in catalogue.definitions.values():
        if definition.channel_id in catalogue.global_keys:
            by_channel[definition.channel_id].append(definition.pk)
    channel_of = {pk: channel for channel, pks in by_channel.items() for pk in pks}
    if not channel_of:
        return
    known: dict[tuple[int, int], dict] = {}
    for row in rows:
        if row is None or row["definition_id"] not in channel_of:
            continue
        properties = row["properties"] if isinstance(row["properties"], dict) else {}
        channel = channel_of[row["definition_id"]]
        keys = catalogue.global_keys[channel]
        carried = known.get((row["person_id"], channel))
        if carried is None:
            carried = known[(row["person_id"], channel)] = person_globals_latest(
                workspace_id, row["person_id"], by_channel[channel], keys
            )
        missing = {k: v for k, v in carried.items() if k not in properties}
        if missing:
            row["properties"] = properties = {**properties, **missing}
        carried.update({k: properties[k] for k in keys if k in properties})


def _definition_found(code, definitions, enabled, validators) -> tuple | FieldError:
    """``(pk, validator)`` of a definition code, or the error an event naming it gets."""
    definition = definitions.get(code)
    if definition is None:
        return FieldError("definitionId", ErrorCode.UNKNOWN_DEFINITION, f"no definition {code!r}")
    if not enabled[definition.pk]:
        return FieldError(
            "definitionId",
            ErrorCode.DEFINITION_DISABLED,
            f"{definition.definition_id} is not enabled in this workspace",
        )
    return definition.pk, validators[code]


def _side_effects(workspace, rows, ids, catalogue, stages, now, touched) -> None:
    """Number first uses, move lifecycle stages forward, add event tags, write the outbox.

    (Aggregates, score and first/last seen were written with the events by ``events_write``.)
    """
    by_pk = {d.pk: d for d in catalogue.definitions.values()}
    # Number only definitions with a stored event, in the order of their first use.
    used = dict.fromkeys(r["definition_id"] for r in rows)
    if not catalogue.numbered.issuperset(used):
        catalogue.numbered.update(
            workspace_definitions_ensure(workspace=workspace, definition_pks=used)
        )
    tags: set[tuple[int, str]] = set()
    stage_targets: dict[int, set[str]] = defaultdict(set)
    for row in rows:
        definition = by_pk[row["definition_id"]]
        if definition.lifecycle_stage:
            stage_targets[row["person_id"]].add(definition.lifecycle_stage)
        if row["tags"]:
            for tag in row["tags"].split(","):
                if tag.strip():
                    tags.add((row["person_id"], tag.strip()[:64]))

    if stage_targets:
        positions = dict(
            LifecycleStage.objects.filter(workspace=workspace).values_list("code", "position")
        )
        moves: dict[str, list[int]] = defaultdict(list)
        for pid, targets in sorted(stage_targets.items()):
            best = max(targets, key=lambda c: positions.get(c, -1))
            if positions.get(best, -1) > positions.get(stages.get(pid, ""), -1):
                moves[best].append(pid)
        for code, pids in moves.items():
            # Conditional, so a slower concurrent batch never moves anyone backwards.
            behind = [c for c, position in positions.items() if position < positions[code]]
            Person.objects.filter(pk__in=pids).filter(
                Q(lifecycle_stage="") | Q(lifecycle_stage__in=behind)
            ).update(lifecycle_stage=code, modified_at=now)
    if tags:
        # tagAdded for the tags people did not have yet, when the workspace switched it on.
        tag_added = catalogue.definitions.get(TAG_ADDED)
        record = tag_added is not None and catalogue.enabled.get(tag_added.pk, False)
        had: set[tuple[int, str]] = set()
        if record:
            had = set(
                PersonTag.objects.filter(
                    workspace=workspace,
                    person_id__in={p for p, _ in tags},
                    name__in={t for _, t in tags},
                ).values_list("person_id", "name")
            )
        PersonTag.objects.bulk_create(
            [PersonTag(workspace=workspace, person_id=p, name=t) for p, t in sorted(tags)],
            ignore_conflicts=True,
        )
        if record:
            profile_changes_record(
                workspace_id=workspace.pk,
                changes=[
                    ProfileChange(p, TAG_ADDED, {"tagName": t})
                    for p, t in sorted(tags)
                    if (p, t) not in had
                ],
            )
    definition_ids = {r["definition_id"] for r in rows}
    outbox_write(
        workspace=workspace,
        topic="events.ingested",
        payload={
            "event_ids": ids,
            "person_ids": sorted({r["person_id"] for r in rows}),
            "definition_ids": sorted(definition_ids),
            "touched_person_ids": sorted(touched),
        },
        urgent=outbox_awaited(workspace.pk, definition_ids),
    )
