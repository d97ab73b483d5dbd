"""Celery tasks of exports; each wraps the service of the same name and takes ids.

Imported by ``events.tasks`` so the worker registers them. ``export_run_task`` acknowledges
its message only when it returns (``acks_late``; a worker that dies re-delivers it), and the
run's claim makes a second delivery harmless.
"""

from celery import shared_task

from events.exports.models import ExportRequest, ScheduledExport
from events.exports.runner import export_run
from events.exports.schedules import scheduled_export_run
from events.exports.services import exports_requeue_stale


@shared_task(acks_late=True, reject_on_worker_lost=True)
def export_run_task(export_id: int) -> str | None:
    """Run one export; return its status (None when it was deleted meanwhile)."""
    export = ExportRequest.objects.filter(pk=export_id).first()
    if export is None:
        return None
    return export_run(export=export).status


@shared_task
def exports_requeue_stale_task() -> int:
    """Queue again exports whose worker went quiet (periodic, installed by a migration)."""
    return exports_requeue_stale()


@shared_task
def scheduled_export_run_task(scheduled_export_id: int) -> str | None:
    """Create this run's export request of a scheduled export (called by beat)."""
    scheduled = ScheduledExport.objects.filter(pk=scheduled_export_id).first()
    if scheduled is None or not scheduled.enabled:
        return None
    return str(scheduled_export_run(scheduled_export=scheduled).request_id)
