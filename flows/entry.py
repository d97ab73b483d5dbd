"""Who enters which flow: event triggers, segment entries, exits through the exit segment.

Registered by ``flows.apps`` as outbox handlers, so triggers are handled after the commit
that stored the events or changed the segment:

- ``events.ingested``: active flows whose trigger names one of the batch's definitions enter
  the people of the events that pass the trigger's ``where``; waiting runs whose
  wait-for-event element reads those definitions are re-checked at once;
- ``segments.changed``: flows triggered by entering that segment enter who entered; live runs
  of people who entered a flow's exit segment end.

``flows_enter`` applies the flow's rules (active, within its dates, re-entry once or recurring
after the interval, not in the exit segment) to a batch of people at once and starts their
runs at the trigger element; one task per batch then moves them on (``flows.engine``).
"""

import logging
import time
from datetime import datetime

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from cdp.models import OutboxMessage
from events.models import Event, EventAggregate, WorkspaceDefinition
from flows.conditions import events_passing
from flows.engine import STEP_LEASE, runs_exit, runs_wake, steps_queue
from flows.models import Flow, FlowElement, FlowRun
from people.segments.models import SegmentMembership

logger = logging.getLogger(__name__)
S = Flow.Status
LISTENING_SECONDS = 5  # how long a process trusts its list of awaited definitions
_listening: dict[int, tuple[float, frozenset[int]]] = {}


def _open(flow: Flow, now: datetime) -> bool:
    return (
        flow.status == S.ACTIVE
        and (flow.starts_at is None or flow.starts_at <= now)
        and (flow.ends_at is None or flow.ends_at > now)
    )


def _kept_out(flow: Flow, person_ids: list[int], now: datetime) -> set[int]:
    """Who of ``person_ids`` may not enter now: the re-entry policy, the exit segment."""
    runs = FlowRun.objects.filter(flow=flow, person_id__in=person_ids)
    if flow.reentry == Flow.Reentry.ONCE:
        out = set(runs.values_list("person_id", flat=True))
    else:
        recent = Q(state__in=FlowRun.LIVE_STATES)
        if flow.reentry_interval:
            recent |= Q(entered_at__gt=now - flow.reentry_interval)
        out = set(runs.filter(recent).values_list("person_id", flat=True))
    if flow.exit_segment_id:
        out |= set(
            SegmentMembership.objects.filter(
                segment_id=flow.exit_segment_id, person_id__in=person_ids, exited_at__isnull=True
            ).values_list("person_id", flat=True)
        )
    return out


def flows_enter(
    *,
    flow: Flow,
    trigger: FlowElement,
    entries: list[tuple[int, dict]],
    now: datetime | None = None,
) -> list[FlowRun]:
    """Start runs at the trigger for ``(person_id, context)`` entries (a person's first entry
    counts) of those who may enter, and queue their first step (which records
    ``flowEntered``) after commit. Return the runs started."""
    now = now or timezone.now()
    if not _open(flow, now):
        return []
    first: dict[int, dict] = {}
    for person_id, context in entries:
        first.setdefault(person_id, context)
    out = _kept_out(flow, list(first), now)
    entering = [pk for pk in first if pk not in out]
    if not entering:
        return []
    with transaction.atomic():
        # A concurrent trigger may have entered someone first (the one-live-run constraint);
        # an erased person's row is gone: both are skipped, and the rows are read back.
        FlowRun.objects.bulk_create(
            [
                FlowRun(
                    flow=flow,
                    workspace_id=flow.workspace_id,
                    person_id=pk,
                    current_element=trigger,
                    context=first[pk],
                    entered_at=now,
                    resume_at=now + STEP_LEASE,
                )
                for pk in entering
            ],
            ignore_conflicts=True,
            batch_size=1000,
        )
        runs = list(
            FlowRun.objects.filter(
                flow=flow,
                person_id__in=entering,
                entered_at=now,
                step_no=0,
                state=FlowRun.State.ACTIVE,
            )
        )
        steps_queue(((run.pk, run.step_no) for run in runs), here=True)
    return runs


def _triggers(workspace_id: int, **config) -> list[tuple[Flow, FlowElement]]:
    elements = (
        FlowElement.objects.filter(
            flow__workspace_id=workspace_id, flow__status=S.ACTIVE, kind=FlowElement.Kind.TRIGGER
        )
        .filter(**{f"config__{key}": value for key, value in config.items()})
        .select_related("flow", "flow__workspace")
    )
    return [(e.flow, e) for e in elements]


def _event_context(event: Event, code: str, seq: int | None, count: int) -> dict:
    return {
        "trigger": "event",
        "eventId": event.pk,
        "track_event_uuid": code,
        "track_event_seq": seq,
        "track_event_count": count,
        "track_event_data": event.properties,
        "occurredTime": event.occurred_at.isoformat(),
    }


def on_events_ingested(message: OutboxMessage) -> None:
    """Enter people into event-triggered flows; re-check waits reading these events."""
    payload = message.payload
    workspace_id = message.workspace_id
    definitions = set(payload.get("definition_ids", []))
    now = timezone.now()
    flows = _triggers(workspace_id, type="event")
    if flows:
        events = list(
            Event.objects.filter(pk__in=payload.get("event_ids", []), definition_id__in=definitions)
            .select_related("definition")
            .order_by("occurred_at", "pk")
        )
        seqs = dict(
            WorkspaceDefinition.objects.filter(workspace_id=workspace_id).values_list(
                "definition_id", "seq"
            )
        )
        counts = {
            (person_id, definition_id): count
            for person_id, definition_id, count in EventAggregate.objects.filter(
                person_id__in={e.person_id for e in events},
                definition_id__in={e.definition_id for e in events},
            ).values_list("person_id", "definition_id", "count")
        }
        for flow, trigger in flows:
            code = trigger.config.get("event")
            named = [e for e in events if e.definition.definition_id == code]
            passing = (
                events_passing(
                    workspace=flow.workspace,
                    code=code,
                    now=now,
                    event_ids=[e.pk for e in named],
                    where=trigger.config.get("where") or [],
                )
                if named
                else ()
            )
            entries = [
                (
                    e.person_id,
                    _event_context(
                        e,
                        code,
                        seqs.get(e.definition_id),
                        counts.get((e.person_id, e.definition_id), 0),
                    ),
                )
                for e in named
                if e.pk in passing
            ]
            if entries:
                flows_enter(flow=flow, trigger=trigger, entries=entries, now=now)
    runs_wake(
        workspace_id=workspace_id,
        person_ids=payload.get("person_ids", []),
        definition_ids=definitions,
    )


def on_segments_changed(message: OutboxMessage) -> None:
    """Enter who entered a trigger segment; end the runs of who entered an exit segment."""
    payload = message.payload
    segment_id, entered = payload["segment_id"], payload.get("entered", [])
    if not entered:
        return
    now = timezone.now()
    runs_exit(
        runs=FlowRun.objects.filter(
            flow__exit_segment_id=segment_id, person_id__in=entered, state__in=FlowRun.LIVE_STATES
        ),
        reason="entered the exit segment",
        now=now,
    )
    context = {"trigger": "segment_entry", "segmentId": segment_id}
    for flow, trigger in _triggers(message.workspace_id, type="segment_entry", segment=segment_id):
        flows_enter(
            flow=flow,
            trigger=trigger,
            now=now,
            entries=[(person_id, context) for person_id in entered],
        )


def flows_listen(workspace_id: int, definition_pks: set[int]) -> bool:
    """Whether an active flow of the workspace names one of these definitions (a trigger, a
    wait, a branch): its batch is then dispatched at once, not with the debounced others.
    Read at most every few seconds per process, so single events cost no query."""
    now = time.monotonic()
    known = _listening.get(workspace_id)
    if known is None or known[0] < now:
        names = set()
        for dependencies in Flow.objects.filter(
            workspace_id=workspace_id, status=S.ACTIVE
        ).values_list("dependencies", flat=True):
            names.update(d for d in dependencies if d.startswith("event:"))
        known = (now + LISTENING_SECONDS, frozenset(int(d[6:]) for d in names))
        if len(_listening) > 10_000:
            _listening.clear()
        _listening[workspace_id] = known
    return not known[1].isdisjoint(definition_pks)


def flow_members_admit(*, flow_id: int, person_ids: list[int], now: datetime | None = None) -> int:
    """Enter these people, current members of a segment-triggered flow's segment, as
    activation's "let the current members enter" asks; return how many entered.

    Only people still in the segment enter, under the flow's rules (``flows_enter``: active,
    dates, re-entry, exit segment); those a previous delivery of the same ids already let in
    (their run's context says ``admitted``) are skipped, so a retried task admits nobody
    twice."""
    from flows.selectors import flow_segment_trigger

    flow = Flow.objects.select_related("workspace").filter(pk=flow_id).first()
    trigger = flow_segment_trigger(flow=flow) if flow is not None else None
    if trigger is None:
        return 0
    segment_id = trigger.config.get("segment")
    still_in = SegmentMembership.objects.filter(
        workspace_id=flow.workspace_id,
        segment_id=segment_id,
        person_id__in=person_ids,
        exited_at__isnull=True,
    ).values_list("person_id", flat=True)
    admitted = set(
        FlowRun.objects.filter(
            flow=flow, person_id__in=person_ids, context__admitted=True
        ).values_list("person_id", flat=True)
    )
    context = {"trigger": "segment_entry", "segmentId": segment_id, "admitted": True}
    entries = [(pk, context) for pk in sorted(set(still_in)) if pk not in admitted]
    if not entries:
        return 0
    return len(flows_enter(flow=flow, trigger=trigger, entries=entries, now=now))
