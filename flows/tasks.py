"""Celery tasks of the flows app; each wraps the service of the same name."""

from celery import shared_task

from flows.engine import flow_run_step, flow_runs_resume
from flows.schedules import flow_schedule_fire


@shared_task(acks_late=True, autoretry_for=(Exception,), retry_backoff=True, max_retries=5)
def flow_run_step_task(run_id: int, step_no: int) -> str | None:
    """Do one step of a run (a duplicate or late task finds the run moved on and stops)."""
    return flow_run_step(run_id=run_id, step_no=step_no)


@shared_task
def flow_runs_resume_task() -> int:
    """Queue the steps of waiting runs whose time has come (periodic)."""
    return flow_runs_resume()


@shared_task(acks_late=True)
def flow_schedule_fire_task(flow_id: int) -> int:
    """Enter the trigger segment's members into a scheduled flow (run by beat)."""
    return flow_schedule_fire(flow_id=flow_id)
