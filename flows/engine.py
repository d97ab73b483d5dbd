"""Move runs through their flow, one Celery task per step (SPEC §8 runtime).

A step is ``flow_run_step(run_id, step_no)``: it locks the run, and does nothing unless the run
is still at ``step_no`` (a duplicated or retried task finds it moved on). It does the current
element's work, then either moves the run along the edge of the outcome (``step_no`` + 1, the
next step's task queued after commit), or parks it: ``waiting`` with a ``resume_at`` (a wait,
a wait for an event, a webhook retry). No worker sleeps: ``flow_runs_resume`` (periodic) queues
the steps whose time has come, and a batch of events wakes the runs waiting for them at once.

Every step writes its ``FlowStepLog`` row (unique per run, step and element). Actions with an
outside effect (webhook, email) are done in three stages so a retried task never repeats one
that is known to be done: the row is committed as ``sending``, the effect happens outside any
transaction, then the row becomes ``sent`` (or ``retrying`` / ``failed``) together with the
move to the next element. A task that dies between sending and recording it sends again with
the same ``X-CDP-Delivery`` id, which receivers can use to drop the repeat.
"""

import logging
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from flows.conditions import branch_answer, wait_answer
from flows.effects import EXTERNAL, effect_apply, effect_send, flow_event_record
from flows.elements.common import duration
from flows.models import Flow, FlowEdge, FlowElement, FlowRun, FlowStepLog

logger = logging.getLogger(__name__)
K, State = FlowElement.Kind, FlowRun.State
RESUME_BATCH = 1_000
SEND_LEASE = timedelta(seconds=60)  # longer than a webhook's timeout


def _queue(run: FlowRun) -> None:
    from flows.tasks import flow_run_step_task

    run_id, step_no = run.pk, run.step_no
    transaction.on_commit(lambda: flow_run_step_task.delay(run_id, step_no))


def run_started(run: FlowRun, now: datetime) -> None:
    """In the entering transaction: record ``flowEntered`` and queue the first step."""
    flow_event_record(run=run, code="flowEntered", now=now, properties={
        "flowId": run.flow_id, "flowName": run.flow.name, "runId": run.pk})
    _queue(run)


def _log(run: FlowRun, element: FlowElement, outcome: str, detail: dict | None = None,
         ) -> FlowStepLog:
    log, created = FlowStepLog.objects.get_or_create(
        run=run, step_no=run.step_no, element=element,
        defaults={"outcome": outcome, "detail": detail or {}})
    if not created:
        log.outcome, log.detail = outcome, {**log.detail, **(detail or {})}
        log.save(update_fields=["outcome", "detail"])
    return log


def _end(run: FlowRun, state: str, reason: str, now: datetime) -> None:
    run.state, run.finished_at, run.resume_at, run.exit_reason = state, now, None, reason
    run.save(update_fields=["state", "finished_at", "resume_at", "exit_reason"])
    flow_event_record(run=run, code="flowExited", now=now, properties={
        "flowId": run.flow_id, "flowName": run.flow.name, "runId": run.pk, "reason": reason})


def _move(run: FlowRun, element: FlowElement, outcome: str, now: datetime) -> None:
    edge = FlowEdge.objects.filter(source=element, outcome=outcome).select_related(
        "target").first()
    if edge is None:  # activation checks every exit; an element without one ends the run
        _end(run, State.FINISHED, "completed", now)
        return
    run.current_element, run.step_no = edge.target, run.step_no + 1
    run.state, run.resume_at = State.ACTIVE, None
    run.save(update_fields=["current_element", "step_no", "state", "resume_at"])
    _queue(run)


def _park(run: FlowRun, element: FlowElement, until: datetime, detail: dict) -> None:
    run.state, run.resume_at = State.WAITING, until
    run.save(update_fields=["state", "resume_at"])
    _log(run, element, "waiting", detail)


def _locked(run_id: int, step_no: int) -> FlowRun | None:
    run = (FlowRun.objects.select_for_update(of=("self",))
           .select_related("flow", "flow__workspace", "current_element", "person")
           .filter(pk=run_id).first())
    if run is None or run.step_no != step_no or run.state not in FlowRun.LIVE_STATES:
        return None  # gone, moved on (a duplicate task), or over
    return run


def flow_run_step(*, run_id: int, step_no: int, now: datetime | None = None) -> str | None:
    """Do step ``step_no`` of run ``run_id``; return its outcome (None: nothing to do yet)."""
    now = now or timezone.now()
    with transaction.atomic():
        run = _locked(run_id, step_no)
        if run is None:
            return None
        if run.flow.status != Flow.Status.ACTIVE:
            return None  # paused: the run stays where it is until the flow resumes
        element = run.current_element
        if element is None:
            _end(run, State.FAILED, "its element was removed", now)
            return "failed"
        due = run.resume_at is None or run.resume_at <= now
        if element.kind != K.ACTION or element.config.get("action") not in EXTERNAL:
            return _step_local(run, element, due, now)
        log = FlowStepLog.objects.filter(run=run, step_no=run.step_no, element=element).first()
        if log is not None and log.outcome in ("sent", "failed"):
            _move(run, element, "next", now)  # done before: never again
            return log.outcome
        if not due:
            return None  # another task holds the lease, or a retry's time has not come
        attempt = (log.detail.get("attempts", 0) if log else 0) + 1
        log = _log(run, element, "sending", {"attempts": attempt})
        # The lease: a duplicate task finds the run parked until the send is over; if this
        # task dies, the periodic resume tries again once it has passed.
        run.state, run.resume_at = State.WAITING, now + SEND_LEASE
        run.save(update_fields=["state", "resume_at"])
        config, context = element.config, dict(run.context)
    # Outside the transaction: the effect, its result recorded at once, then the move.
    result = effect_send(run=run, config=config, context=context, attempt=attempt, now=now)
    outcome = "sent" if result.ok else "failed" if result.final else "retrying"
    FlowStepLog.objects.filter(pk=log.pk).update(outcome=outcome,
                                                 detail={**log.detail, **result.detail})
    with transaction.atomic():
        run = _locked(run_id, step_no)
        if run is None:
            return None
        if outcome == "retrying":
            run.state, run.resume_at = State.WAITING, now + result.retry_in
            run.save(update_fields=["state", "resume_at"])
        else:
            _move(run, element, "next", now)
        return outcome


def _step_local(run: FlowRun, element: FlowElement, due: bool, now: datetime) -> str | None:
    """Elements whose work is all in the database (inside the step's transaction)."""
    workspace = run.flow.workspace
    if element.kind == K.TRIGGER:
        _log(run, element, "entered", {"trigger": run.context.get("trigger")})
        _move(run, element, "next", now)
        return "next"
    if element.kind == K.END:
        _log(run, element, "end")
        _end(run, State.FINISHED, "completed", now)
        return "end"
    if element.kind == K.WAIT:
        if run.state != State.WAITING:
            until = now + duration(element.config["duration"], "duration")
            _park(run, element, until, {"until": until.isoformat()})
            return "waiting"
        if not due:
            return None
        _log(run, element, "next")
        _move(run, element, "next", now)
        return "next"
    if element.kind == K.WAIT_FOR_EVENT:
        if run.state != State.WAITING:
            until = now + duration(element.config["within"], "within")
            run.context = {**run.context, "waitStart": now.isoformat()}
            run.save(update_fields=["context"])
            _park(run, element, until, {"until": until.isoformat()})
            return "waiting"
        since = datetime.fromisoformat(run.context["waitStart"])
        answer = wait_answer(workspace=workspace, person_id=run.person_id,
                             config=element.config, since=since, now=now, timed_out=due)
        if answer is None:
            return None
        _log(run, element, answer)
        _move(run, element, answer, now)
        return answer
    if element.kind == K.BRANCH:
        answer = branch_answer(workspace=workspace, person_id=run.person_id,
                               config=element.config, context=run.context, now=now)
        _log(run, element, answer)
        _move(run, element, answer, now)
        return answer
    detail = effect_apply(run=run, config=element.config, now=now)
    _log(run, element, "done", detail)
    _move(run, element, "next", now)
    return "done"


def run_exit(*, run_id: int, reason: str, now: datetime | None = None) -> bool:
    """End a live run early (exit segment, flow finished); return whether it was live."""
    now = now or timezone.now()
    with transaction.atomic():
        run = (FlowRun.objects.select_for_update(of=("self",)).select_related("flow")
               .filter(pk=run_id, state__in=FlowRun.LIVE_STATES).first())
        if run is None:
            return False
        _end(run, State.EXITED, reason, now)
    return True


def runs_wake(*, workspace_id: int, person_ids, definition_ids) -> int:
    """Queue a step for runs of ``person_ids`` waiting for one of ``definition_ids``."""
    from events.models import EventDefinition

    codes = set(EventDefinition.objects.filter(pk__in=definition_ids)
                .values_list("definition_id", flat=True))
    waiting = (FlowRun.objects.filter(workspace_id=workspace_id, person_id__in=person_ids,
                                      state=State.WAITING,
                                      current_element__kind=K.WAIT_FOR_EVENT)
               .select_related("current_element"))
    woken = 0
    for run in waiting:
        wanted = {item.get("event") for item in run.current_element.config.get("occurred", [])}
        if wanted & codes and not run.current_element.config.get("notOccurred"):
            from flows.tasks import flow_run_step_task

            flow_run_step_task.delay(run.pk, run.step_no)
            woken += 1
    return woken


def flow_runs_resume(*, now: datetime | None = None, limit: int = RESUME_BATCH) -> int:
    """Queue the steps of waiting runs whose time has come (periodic; a safety net too)."""
    from flows.tasks import flow_run_step_task

    now = now or timezone.now()
    due = list(FlowRun.objects.filter(state=State.WAITING, resume_at__lte=now,
                                      flow__status=Flow.Status.ACTIVE)
               .order_by("resume_at").values_list("pk", "step_no")[:limit])
    for run_id, step_no in due:
        flow_run_step_task.delay(run_id, step_no)
    return len(due)


def backoff(attempt: int) -> timedelta:
    """Wait before webhook attempt ``attempt`` + 1: 10 s, 20 s, 40 s, 80 s…"""
    return timedelta(seconds=10 * 2 ** max(attempt - 1, 0))
