"""Celery tasks of the flows app; each wraps the service of the same name."""

from celery import shared_task

from flows.engine import flow_run_step, flow_runs_advance, flow_runs_resume
from flows.schedules import flow_schedule_fire


@shared_task(acks_late=True, autoretry_for=(Exception,), retry_backoff=True, max_retries=5)
def flow_run_step_task(run_id: int, step_no: int) -> str | None:
    """Do one step of a run (a duplicate or late task finds the run moved on and stops)."""
    return flow_run_step(run_id=run_id, step_no=step_no)


@shared_task(acks_late=True, autoretry_for=(Exception,), retry_backoff=True, max_retries=5)
def flow_runs_advance_task(steps: list[list[int]]) -> int:
    """Move a batch of runs, each from its ``[run_id, step_no]`` (runs found moved on are
    left alone, so a duplicate or retried task does nothing twice)."""
    return len(flow_runs_advance(steps=[tuple(step) for step in steps]))


@shared_task
def flow_runs_resume_task() -> int:
    """Queue the steps of waiting runs whose time has come (periodic)."""
    return flow_runs_resume()


@shared_task(acks_late=True)
def flow_schedule_fire_task(flow_id: int) -> int:
    """Enter the trigger segment's members into a scheduled flow (run by beat)."""
    return flow_schedule_fire(flow_id=flow_id)


@shared_task(acks_late=True, autoretry_for=(Exception,), retry_backoff=True, max_retries=5)
def flow_members_admit_task(flow_id: int, person_ids: list[int]) -> int:
    """Let a chunk of a trigger segment's current members enter a just-activated flow (a
    duplicate or retried task admits nobody twice)."""
    from flows.entry import flow_members_admit

    return flow_members_admit(flow_id=flow_id, person_ids=person_ids)
