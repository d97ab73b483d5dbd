"""Celery tasks of the events app; each wraps the service of the same name."""

from celery import shared_task

from events.ingestion_log import ingestion_log_prune
from events.outbox import (
    outbox_dispatch,
    outbox_dispatch_pending,
    outbox_prune,
    outbox_sweep,
)


@shared_task(acks_late=True)
def outbox_dispatch_task(message_ids: list[int]) -> int:
    return outbox_dispatch(message_ids=message_ids)


@shared_task(acks_late=True)
def outbox_dispatch_pending_task() -> int:
    return outbox_dispatch_pending()


@shared_task
def outbox_sweep_task() -> int:
    return outbox_sweep()


@shared_task
def outbox_prune_task() -> int:
    return outbox_prune()


@shared_task
def ingestion_log_prune_task() -> int:
    return ingestion_log_prune()


# Exports keep their tasks in their package; importing them registers them with the worker.
from events.exports import tasks as _export_tasks  # noqa: E402, F401
