"""Who enters which flow: event triggers, segment entries, exits through the exit segment.

Registered by ``flows.apps`` as outbox handlers, so triggers are handled after the commit
that stored the events or changed the segment:

- ``events.ingested``: active flows whose trigger names one of the batch's definitions enter
  the people of the events that pass the trigger's ``where``; waiting runs whose
  wait-for-event element reads those definitions are re-checked at once;
- ``segments.changed``: flows triggered by entering that segment enter who entered; live runs
  of people who entered a flow's exit segment end.

``flow_enter`` applies the flow's rules (active, within its dates, re-entry once or recurring
after the interval, not in the exit segment) and starts the run at the trigger element.
"""

import logging
import time
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from events.models import Event, EventAggregate, OutboxMessage, WorkspaceDefinition
from flows.conditions import event_where_holds
from flows.models import Flow, FlowElement, FlowRun
from people.segments.models import SegmentMembership

logger = logging.getLogger(__name__)
S = Flow.Status
LISTENING_SECONDS = 5  # how long a process trusts its list of awaited definitions
_listening: dict[int, tuple[float, frozenset[int]]] = {}


def _open(flow: Flow, now: datetime) -> bool:
    return (flow.status == S.ACTIVE and (flow.starts_at is None or flow.starts_at <= now)
            and (flow.ends_at is None or flow.ends_at > now))


def _may_enter(flow: Flow, person_id: int, now: datetime) -> bool:
    runs = FlowRun.objects.filter(flow=flow, person_id=person_id)
    if flow.reentry == Flow.Reentry.ONCE:
        if runs.exists():
            return False
    else:
        if runs.filter(state__in=FlowRun.LIVE_STATES).exists():
            return False
        if flow.reentry_interval and runs.filter(
                entered_at__gt=now - flow.reentry_interval).exists():
            return False
    in_exit = flow.exit_segment_id and SegmentMembership.objects.filter(
        segment_id=flow.exit_segment_id, person_id=person_id, exited_at__isnull=True).exists()
    return not in_exit


def flow_enter(*, flow: Flow, trigger: FlowElement, person_id: int, context: dict,
               now: datetime | None = None) -> FlowRun | None:
    """Start a run of ``person_id`` at the trigger, or return None when they may not enter."""
    from flows.engine import run_started

    now = now or timezone.now()
    if not _open(flow, now) or not _may_enter(flow, person_id, now):
        return None
    try:
        with transaction.atomic():
            run = FlowRun.objects.create(flow=flow, workspace_id=flow.workspace_id,
                                         person_id=person_id, current_element=trigger,
                                         context=context, entered_at=now)
            run_started(run, now)
    except IntegrityError:  # a concurrent trigger entered them first, or they were erased
        return None
    return run


def _triggers(workspace_id: int, **config) -> list[tuple[Flow, FlowElement]]:
    elements = (FlowElement.objects.filter(flow__workspace_id=workspace_id,
                                           flow__status=S.ACTIVE, kind=FlowElement.Kind.TRIGGER)
                .filter(**{f"config__{key}": value for key, value in config.items()})
                .select_related("flow", "flow__workspace"))
    return [(e.flow, e) for e in elements]


def _event_context(event: Event, code: str, seq: int | None, count: int) -> dict:
    return {"trigger": "event", "eventId": event.pk, "track_event_uuid": code,
            "track_event_seq": seq, "track_event_count": count,
            "track_event_data": event.properties,
            "occurredTime": event.occurred_at.isoformat()}


def on_events_ingested(message: OutboxMessage) -> None:
    """Enter people into event-triggered flows; re-check waits reading these events."""
    from flows.engine import runs_wake

    payload = message.payload
    workspace_id = message.workspace_id
    definitions = set(payload.get("definition_ids", []))
    now = timezone.now()
    events = (Event.objects.filter(pk__in=payload.get("event_ids", []),
                                   definition_id__in=definitions)
              .select_related("definition").order_by("occurred_at", "pk"))
    flows = [(flow, trigger) for flow, trigger in _triggers(workspace_id, type="event")]
    if flows:
        seqs = dict(WorkspaceDefinition.objects.filter(workspace_id=workspace_id)
                    .values_list("definition_id", "seq"))
        for event in events:
            code = event.definition.definition_id
            for flow, trigger in flows:
                if trigger.config.get("event") != code or not event_where_holds(
                        workspace=flow.workspace, event_id=event.pk, code=code,
                        where=trigger.config.get("where") or [], now=now):
                    continue
                count = (EventAggregate.objects.filter(person_id=event.person_id,
                                                       definition_id=event.definition_id)
                         .values_list("count", flat=True).first() or 0)
                flow_enter(flow=flow, trigger=trigger, person_id=event.person_id, now=now,
                           context=_event_context(event, code, seqs.get(event.definition_id),
                                                  count))
    runs_wake(workspace_id=workspace_id, person_ids=payload.get("person_ids", []),
              definition_ids=definitions)


def on_segments_changed(message: OutboxMessage) -> None:
    """Enter who entered a trigger segment; end the runs of who entered an exit segment."""
    from flows.engine import run_exit

    payload = message.payload
    segment_id, entered = payload["segment_id"], payload.get("entered", [])
    if not entered:
        return
    now = timezone.now()
    for run in (FlowRun.objects.filter(flow__exit_segment_id=segment_id,
                                       person_id__in=entered, state__in=FlowRun.LIVE_STATES)
                .select_related("flow")):
        run_exit(run_id=run.pk, reason="entered the exit segment", now=now)
    for flow, trigger in _triggers(message.workspace_id, type="segment_entry",
                                   segment=segment_id):
        for person_id in entered:
            flow_enter(flow=flow, trigger=trigger, person_id=person_id, now=now,
                       context={"trigger": "segment_entry", "segmentId": segment_id})



def flows_listen(workspace_id: int, definition_pks: set[int]) -> bool:
    """Whether an active flow of the workspace names one of these definitions (a trigger, a
    wait, a branch): its batch is then dispatched at once, not with the debounced others.
    Read at most every few seconds per process, so single events cost no query."""
    now = time.monotonic()
    known = _listening.get(workspace_id)
    if known is None or known[0] < now:
        names = set()
        for dependencies in Flow.objects.filter(workspace_id=workspace_id,
                                                status=S.ACTIVE).values_list("dependencies",
                                                                             flat=True):
            names.update(d for d in dependencies if d.startswith("event:"))
        known = (now + LISTENING_SECONDS, frozenset(int(d[6:]) for d in names))
        if len(_listening) > 10_000:
            _listening.clear()
        _listening[workspace_id] = known
    return not known[1].isdisjoint(definition_pks)
