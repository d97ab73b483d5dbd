"""Celery tasks of the kernel: the outbox's; each wraps the service of the same name."""

from celery import shared_task

from cdp.outbox import outbox_dispatch, outbox_dispatch_pending, outbox_prune, outbox_sweep


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


# The names these tasks had in the events app, still answered: messages queued and beat rows
# written by an earlier version name them (beat's scheduler renames its rows from
# CELERY_BEAT_SCHEDULE when it starts).


@shared_task(name="events.tasks.outbox_dispatch_task", acks_late=True)
def outbox_dispatch_legacy_task(message_ids: list[int]) -> int:
    return outbox_dispatch(message_ids=message_ids)


@shared_task(name="events.tasks.outbox_dispatch_pending_task", acks_late=True)
def outbox_dispatch_pending_legacy_task() -> int:
    return outbox_dispatch_pending()


@shared_task(name="events.tasks.outbox_sweep_task")
def outbox_sweep_legacy_task() -> int:
    return outbox_sweep()


@shared_task(name="events.tasks.outbox_prune_task")
def outbox_prune_legacy_task() -> int:
    return outbox_prune()
