"""Move runs through their flow in batches, one Celery task per batch of steps (SPEC §8).

A step is "run R at its ``step_no`` N": ``flow_runs_advance(steps=[(R, N), …])`` locks the
runs, drops those no longer at that step (a duplicated or retried task finds them moved on),
and moves the rest as far as they go in one transaction, element by element: all the runs at
one element are handled together (tags, score and static segments changed for all of them
at once, branch rules asked in one query, product events recorded in one ingest), then each
follows the edge of its outcome. A run stops when it is parked (``waiting`` with a
``resume_at``: a wait, a wait for an event), ends, or reaches a webhook or email.

No worker sleeps: ``flow_runs_resume`` (periodic) queues the runs whose time has come, and a
batch of events wakes the runs waiting for them at once. An active run carries a lease in
``resume_at`` too (``STEP_LEASE``): if the task meant to move it is lost, the periodic resume
takes it on once the lease is over.

Every step writes its ``FlowStepLog`` row (unique per run, step and element). Actions with an
outside effect (webhook, email) get a task per run, ``flow_run_step``, done in three stages
so a retried task never repeats one that is known to be done: the row is committed as
``sending``, the effect happens outside any transaction, then the row becomes ``sent`` (or
``retrying`` / ``failed``) together with the move to the next element. A task that dies
between sending and recording it sends again with the same ``X-CDP-Delivery`` id, which
receivers can use to drop the repeat.
"""

import logging
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta

from celery import current_app
from django.db import transaction
from django.utils import timezone

from cdp.bulk import rows_update
from events.models import EventDefinition
from flows.conditions import branch_answers, wait_answer
from flows.effects import EXTERNAL, FlowEvent, effect_apply_many, effect_send, flow_events_record
from flows.elements.common import duration
from flows.models import Flow, FlowEdge, FlowElement, FlowRun, FlowStepLog

logger = logging.getLogger(__name__)
K, State = FlowElement.Kind, FlowRun.State
RESUME_BATCH = 1_000
STEP_BATCH = 500  # runs per advance task
MAX_HOPS = 50  # elements one task moves a run through before handing it to the next task
# The tasks of ``flows.tasks`` (which imports this module), by their registered names.
ADVANCE_TASK = "flows.tasks.flow_runs_advance_task"
STEP_TASK = "flows.tasks.flow_run_step_task"
SEND_LEASE = timedelta(seconds=60)  # longer than a webhook's timeout
STEP_LEASE = timedelta(seconds=30)  # an active run not moved by then is queued again
RUN_FIELDS = (
    "state",
    "current_element",
    "step_no",
    "resume_at",
    "finished_at",
    "exit_reason",
    "context",
)


def steps_queue(steps: Iterable[tuple[int, int]], *, here: bool = False) -> None:
    """After commit, move the runs of ``(run_id, step_no)`` pairs on, in batches: through
    advance tasks, or (``here``) in this process right away, saving the trip through the
    broker. Either way a run not moved by its ``resume_at`` lease is picked up again by the
    periodic resume."""
    flow_runs_advance_task = current_app.tasks[ADVANCE_TASK]
    steps = list(steps)
    for start in range(0, len(steps), STEP_BATCH):
        chunk = steps[start : start + STEP_BATCH]
        if here:
            transaction.on_commit(lambda c=chunk: _advance_here(c))
        else:
            transaction.on_commit(lambda c=chunk: flow_runs_advance_task.delay(c))


def _advance_here(steps: list[tuple[int, int]]) -> None:
    try:
        flow_runs_advance(steps=steps)
    except Exception:  # the runs keep their lease: the periodic resume takes them on
        logger.exception("moving %s runs failed; left to the periodic resume", len(steps))


def _external(element: FlowElement | None) -> bool:
    return (
        element is not None
        and element.kind == K.ACTION
        and element.config.get("action") in EXTERNAL
    )


class Batch:
    """What one transaction does to many runs, written at the end in a few statements."""

    def __init__(self, now: datetime):
        self.now = now
        self.elements: dict[int, FlowElement] = {}
        self.edges: dict[tuple[int, str], int] = {}
        self.loaded: set[int] = set()
        self.dirty: dict[int, FlowRun] = {}
        self.logs: dict[tuple[int, int, int | None], tuple[str, dict]] = {}
        self.events: list[FlowEvent] = []
        self.sends: list[tuple[int, int]] = []
        self.advances: list[tuple[int, int]] = []

    def load(self, flow_ids: Iterable[int]) -> None:
        """Read the elements and edges of these flows once."""
        wanted = set(flow_ids) - self.loaded
        if not wanted:
            return
        for element in FlowElement.objects.filter(flow_id__in=wanted):
            self.elements[element.pk] = element
        for source, outcome, target in FlowEdge.objects.filter(flow_id__in=wanted).values_list(
            "source_id", "outcome", "target_id"
        ):
            self.edges[(source, outcome)] = target
        self.loaded |= wanted

    def log(
        self, run: FlowRun, element: FlowElement | None, outcome: str, detail: dict | None = None
    ) -> None:
        key = (run.pk, run.step_no, element.pk if element is not None else None)
        _, before = self.logs.get(key, ("", {}))
        self.logs[key] = (outcome, {**before, **(detail or {})})

    def event(
        self,
        run: FlowRun,
        code: str,
        properties: dict,
        element: FlowElement | None = None,
        log_key=None,
        at: datetime | None = None,
    ) -> None:
        element = element if element is not None else self.elements.get(run.current_element_id)
        self.events.append(
            FlowEvent(
                run=run, code=code, properties=properties, element=element, log_key=log_key, at=at
            )
        )

    def save(self, run: FlowRun) -> None:
        self.dirty[run.pk] = run

    def end(self, run: FlowRun, state: str, reason: str) -> None:
        run.state, run.finished_at, run.resume_at, run.exit_reason = (state, self.now, None, reason)
        self.save(run)
        self.event(
            run,
            "flowExited",
            {"flowId": run.flow_id, "flowName": run.flow.name, "runId": run.pk, "reason": reason},
        )

    def move(self, run: FlowRun, element: FlowElement, outcome: str) -> bool:
        """Follow the edge of ``outcome``; return whether the run goes on (an element without
        that exit ends it: activation checks every exit)."""
        target = self.edges.get((element.pk, outcome))
        if target is None:
            self.end(run, State.FINISHED, "completed")
            return False
        run.current_element_id, run.step_no = target, run.step_no + 1
        run.state, run.resume_at = State.ACTIVE, self.now + STEP_LEASE
        self.save(run)
        return True

    def park(self, run: FlowRun, element: FlowElement, until: datetime) -> None:
        run.state, run.resume_at = State.WAITING, until
        self.save(run)
        self.log(run, element, "waiting", {"until": until.isoformat()})

    def flush(self) -> None:
        """Write everything: events first (a log may name one), logs, runs; queue tasks."""
        recorded = flow_events_record(self.events, now=self.now)
        for item, event_id in zip(self.events, recorded, strict=True):
            if item.log_key is not None:
                outcome, detail = self.logs[item.log_key]
                self.logs[item.log_key] = (outcome, {**detail, "eventId": event_id})
        self._logs_write()
        rows_update(FlowRun, list(self.dirty.values()), RUN_FIELDS)
        steps_queue(self.advances)
        if self.sends:
            flow_run_step_task = current_app.tasks[STEP_TASK]
            sends = list(self.sends)
            transaction.on_commit(lambda: [flow_run_step_task.delay(r, n) for r, n in sends])

    def _logs_write(self) -> None:
        if not self.logs:
            return
        run_ids = {run_id for run_id, _, _ in self.logs}
        low = min(step for _, step, _ in self.logs)
        existing = {
            (log.run_id, log.step_no, log.element_id): log
            for log in FlowStepLog.objects.filter(run_id__in=run_ids, step_no__gte=low)
        }
        new, changed = [], []
        for key, (outcome, detail) in self.logs.items():
            log = existing.get(key)
            if log is None:
                new.append(
                    FlowStepLog(
                        run_id=key[0],
                        step_no=key[1],
                        element_id=key[2],
                        outcome=outcome,
                        detail=detail,
                    )
                )
            else:
                log.outcome, log.detail = outcome, {**log.detail, **detail}
                changed.append(log)
        FlowStepLog.objects.bulk_create(new, batch_size=1000)
        rows_update(FlowStepLog, changed, ["outcome", "detail"])


def _locked(run_ids: Iterable[int]):
    return (
        FlowRun.objects.select_for_update(of=("self",))
        .select_related("flow", "flow__workspace", "person")
        .filter(pk__in=list(run_ids))
        .order_by("pk")
    )


def flow_runs_advance(
    *,
    steps: Iterable[tuple[int, int]],
    now: datetime | None = None,
) -> dict[int, str]:
    """Move the runs of ``(run_id, step_no)`` pairs as far as they go; return each moved run's
    last outcome (runs gone, moved on, over or in a paused flow are left alone)."""
    now = now or timezone.now()
    wanted = dict(steps)
    with transaction.atomic():
        runs = [
            run
            for run in _locked(wanted)
            if run.step_no == wanted[run.pk]
            and run.state in FlowRun.LIVE_STATES
            and run.flow.status == Flow.Status.ACTIVE
        ]
        if not runs:
            return {}
        batch = Batch(now)
        outcomes = runs_advance(runs, batch)
        batch.flush()
    return outcomes


def runs_advance(runs: list[FlowRun], batch: Batch) -> dict[int, str]:
    """Move ``runs`` (locked, live, in active flows) element by element, all the runs at one
    element together; record what they did in ``batch``."""
    batch.load({run.flow_id for run in runs})
    outcomes: dict[int, str] = {}
    moving = runs
    for _ in range(MAX_HOPS):
        if not moving:
            return outcomes
        at: dict[int | None, list[FlowRun]] = defaultdict(list)
        for run in moving:
            at[run.current_element_id].append(run)
        moving = []
        for element_id, group in at.items():
            moving += _element_step(batch.elements.get(element_id), group, batch, outcomes)
    batch.advances += [(run.pk, run.step_no) for run in moving]  # the next task goes on
    return outcomes


def _element_step(
    element: FlowElement | None, runs: list[FlowRun], batch: Batch, outcomes: dict[int, str]
) -> list[FlowRun]:
    """Do ``element``'s work for ``runs``; return the runs that moved on to another element."""
    if element is None:
        for run in runs:
            batch.end(run, State.FAILED, "its element was removed")
            outcomes[run.pk] = "failed"
        return []
    if _external(element):
        batch.sends += [(run.pk, run.step_no) for run in runs]
        return []
    answers = _answers(element, runs, batch)
    moved = []
    for run in runs:
        answer = answers.get(run.pk)
        if answer is None:
            continue  # parked, or not due yet
        outcomes[run.pk] = answer
        if element.kind == K.END:
            batch.log(run, element, "end")
            batch.end(run, State.FINISHED, "completed")
            continue
        if element.kind in (K.WAIT, K.WAIT_FOR_EVENT, K.BRANCH):
            batch.log(run, element, answer)
        if batch.move(
            run, element, "next" if element.kind in (K.ACTION, K.TRIGGER, K.WAIT) else answer
        ):
            moved.append(run)
    return moved


def _answers(element: FlowElement, runs: list[FlowRun], batch: Batch) -> dict[int, str]:
    """The outcome of each run at ``element`` (absent: it stays, parked or not due)."""
    now = batch.now
    if element.kind in (K.TRIGGER, K.END):
        if element.kind == K.TRIGGER:
            for run in runs:
                batch.log(run, element, "entered", {"trigger": run.context.get("trigger")})
                batch.event(
                    run,
                    "flowEntered",
                    {"flowId": run.flow_id, "flowName": run.flow.name, "runId": run.pk},
                    element=element,
                    at=run.entered_at,
                )
        return {run.pk: "next" if element.kind == K.TRIGGER else "end" for run in runs}
    if element.kind == K.WAIT:
        answers = {}
        for run in runs:
            if run.state != State.WAITING:
                batch.park(run, element, now + duration(element.config["duration"], "duration"))
            elif run.resume_at is None or run.resume_at <= now:
                answers[run.pk] = "next"
        return answers
    if element.kind == K.WAIT_FOR_EVENT:
        answers = {}
        for run in runs:
            if run.state != State.WAITING:
                run.context = {**run.context, "waitStart": now.isoformat()}
                batch.park(run, element, now + duration(element.config["within"], "within"))
                continue
            answer = wait_answer(
                workspace=run.flow.workspace,
                person_id=run.person_id,
                config=element.config,
                since=datetime.fromisoformat(run.context["waitStart"]),
                now=now,
                timed_out=run.resume_at is None or run.resume_at <= now,
            )
            if answer is not None:
                answers[run.pk] = answer
        return answers
    if element.kind == K.BRANCH:
        return branch_answers(
            workspace=runs[0].flow.workspace, runs=runs, config=element.config, now=now
        )
    details = effect_apply_many(runs=runs, element=element, batch=batch)
    for run in runs:
        batch.log(run, element, "done", details.get(run.pk))
    return {run.pk: "done" for run in runs}


def flow_run_step(*, run_id: int, step_no: int, now: datetime | None = None) -> str | None:
    """Do step ``step_no`` of one run; return its outcome (None: nothing to do yet). A
    webhook or email is sent here; any other element goes the batch way."""
    now = now or timezone.now()
    with transaction.atomic():
        run = _locked([run_id]).select_related("current_element").first()
        if (
            run is None
            or run.step_no != step_no
            or run.state not in FlowRun.LIVE_STATES
            or run.flow.status != Flow.Status.ACTIVE
        ):
            return None  # gone, moved on (a duplicate task), over, or paused
        element = run.current_element
        if not _external(element):
            batch = Batch(now)
            outcome = runs_advance([run], batch).get(run.pk)
            batch.flush()
            return outcome
        due = run.state != State.WAITING or run.resume_at is None or run.resume_at <= now
        log = FlowStepLog.objects.filter(run=run, step_no=run.step_no, element=element).first()
        if log is not None and log.outcome in ("sent", "failed"):
            _send_done(run, element, now)  # done before: never again
            return log.outcome
        if not due:
            return None  # another task holds the lease, or a retry's time has not come
        attempt = (log.detail.get("attempts", 0) if log else 0) + 1
        log, _ = FlowStepLog.objects.update_or_create(
            run=run,
            step_no=run.step_no,
            element=element,
            defaults={
                "outcome": "sending",
                "detail": {**(log.detail if log else {}), "attempts": attempt},
            },
        )
        # The lease: a duplicate task finds the run parked until the send is over; if this
        # task dies, the periodic resume tries again once it has passed.
        run.state, run.resume_at = State.WAITING, now + SEND_LEASE
        run.save(update_fields=["state", "resume_at"])
        config, context = element.config, dict(run.context)
    # Outside the transaction: the effect, its result recorded at once, then the move.
    result = effect_send(run=run, config=config, context=context, attempt=attempt, now=now)
    outcome = "sent" if result.ok else "failed" if result.final else "retrying"
    FlowStepLog.objects.filter(pk=log.pk).update(
        outcome=outcome, detail={**log.detail, **result.detail}
    )
    with transaction.atomic():
        run = _locked([run_id]).first()
        if run is None or run.step_no != step_no or run.state not in FlowRun.LIVE_STATES:
            return None
        if outcome == "retrying":
            run.state, run.resume_at = State.WAITING, now + result.retry_in
            run.save(update_fields=["state", "resume_at"])
        else:
            _send_done(run, element, now)
        return outcome


def _send_done(run: FlowRun, element: FlowElement, now: datetime) -> None:
    """Move a run past its webhook or email; the next task takes it on."""
    batch = Batch(now)
    batch.load([run.flow_id])
    if batch.move(run, element, "next"):
        batch.advances.append((run.pk, run.step_no))
    batch.flush()


def runs_exit(*, runs: Iterable[FlowRun], reason: str, now: datetime | None = None) -> int:
    """End live runs early (exit segment, flow finished); return how many were live."""
    now = now or timezone.now()
    with transaction.atomic():
        locked = [
            run for run in _locked([run.pk for run in runs]) if run.state in FlowRun.LIVE_STATES
        ]
        batch = Batch(now)
        batch.load({run.flow_id for run in locked})
        for run in locked:
            batch.end(run, State.EXITED, reason)
        batch.flush()
    return len(locked)


def run_exit(*, run_id: int, reason: str, now: datetime | None = None) -> bool:
    """End one live run early; return whether it was live."""
    return runs_exit(runs=[FlowRun(pk=run_id)], reason=reason, now=now) == 1


def runs_wake(*, workspace_id: int, person_ids, definition_ids) -> int:
    """Queue the runs of ``person_ids`` waiting for one of ``definition_ids``."""
    codes = set(
        EventDefinition.objects.filter(pk__in=definition_ids).values_list(
            "definition_id", flat=True
        )
    )
    waiting = FlowRun.objects.filter(
        workspace_id=workspace_id,
        person_id__in=person_ids,
        state=State.WAITING,
        current_element__kind=K.WAIT_FOR_EVENT,
    ).values_list("pk", "step_no", "current_element__config")
    woken = [
        (pk, step_no)
        for pk, step_no, config in waiting
        if {item.get("event") for item in config.get("occurred", [])} & codes
        and not config.get("notOccurred")
    ]
    steps_queue(woken)
    return len(woken)


def flow_runs_resume(*, now: datetime | None = None, limit: int = RESUME_BATCH) -> int:
    """Queue the runs whose time has come: waiting runs at the end of their wait, and active
    runs whose step was lost (their lease is over: a task that never ran or died)."""
    now = now or timezone.now()
    due = list(
        FlowRun.objects.filter(
            state__in=FlowRun.LIVE_STATES, resume_at__lte=now, flow__status=Flow.Status.ACTIVE
        )
        .order_by("resume_at")
        .values_list("pk", "step_no")[:limit]
    )
    with transaction.atomic():
        steps_queue(due)
    return len(due)
