"""Celery tasks of the events app; each wraps the service of the same name."""

from celery import shared_task

from events.ingestion_log import ingestion_log_prune


@shared_task
def ingestion_log_prune_task() -> int:
    return ingestion_log_prune()


# Exports keep their tasks in their package; importing them registers them with the worker.
from events.exports import tasks as _export_tasks  # noqa: E402, F401
