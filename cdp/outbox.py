"""Transactional outbox: rows written with a change, handed to Celery after commit.

Handlers register per topic (segments and flows register theirs), so the kernel calls into
the apps without importing them. The after-commit task (``cdp.tasks``, looked up by name) is
the main path; ``outbox_sweep`` (periodic) retries whatever a lost task left behind.
"""

import logging
from collections.abc import Callable
from datetime import timedelta

from django.core.cache import cache
from django.db import connection, models, transaction
from django.utils import timezone

from cdp.celery import app
from cdp.models import OutboxMessage

logger = logging.getLogger(__name__)
HANDLERS: dict[str, list[Callable[[OutboxMessage], None]]] = {}
# Whether a batch of events in a workspace is awaited (``(workspace_id, definition_pks)``):
# flows register theirs, and ingestion marks such batches urgent.
LISTENERS: list[Callable[[int, set[int]], bool]] = []
MAX_ATTEMPTS = 10
DISPATCH_SLOT_KEY = "cdp:outbox:dispatch-slot"
DISPATCH_SLOT_SECONDS = 1
DISPATCH_DELAY = 1.5  # longer than the slot: commits seen holding it are visible to the task
# The tasks of ``cdp.tasks`` (which imports this module), by their registered names.
DISPATCH_TASK = "cdp.tasks.outbox_dispatch_task"
DISPATCH_PENDING_TASK = "cdp.tasks.outbox_dispatch_pending_task"


def outbox_listener_register(listener: Callable[[int, set[int]], bool]) -> None:
    """Add a test of whether a batch's definitions are awaited (its message is urgent)."""
    if listener not in LISTENERS:
        LISTENERS.append(listener)


def outbox_awaited(workspace_id: int, definition_pks: set[int]) -> bool:
    return any(listener(workspace_id, definition_pks) for listener in LISTENERS)


def outbox_register(topic: str, handler: Callable[[OutboxMessage], None]) -> None:
    """Call ``handler(message)`` for every message of ``topic`` (once per handler)."""
    if handler not in HANDLERS.setdefault(topic, []):
        HANDLERS[topic].append(handler)


def outbox_write(
    *, workspace: models.Model, topic: str, payload: dict, urgent: bool = False
) -> OutboxMessage:
    """Write a message for ``workspace`` (a ``people.Workspace``) in the current transaction;
    dispatch it after commit.

    ``urgent`` messages (someone waits on them: a flow's trigger) get a task of their own at
    once; the others are dispatched together, at most one task per ``DISPATCH_DELAY``.
    """
    message = OutboxMessage.objects.create(workspace=workspace, topic=topic, payload=payload)

    transaction.on_commit(lambda: _enqueue(message.pk, urgent))
    return message


def _enqueue(message_id: int, urgent: bool = False) -> None:
    """Hand committed messages to Celery without one task per batch under load.

    In-process (eager) Celery runs the message now. With a broker, the first commit of a
    window claims a slot in the shared cache and schedules one task that dispatches every
    pending message after ``DISPATCH_DELAY`` seconds; commits while the slot is held are
    already visible to that task, so they enqueue nothing. If the cache is unreachable each
    message gets its own task; if the broker is, the sweep retries.
    """
    outbox_dispatch_task = app.tasks[DISPATCH_TASK]
    outbox_dispatch_pending_task = app.tasks[DISPATCH_PENDING_TASK]
    try:
        if app.conf.task_always_eager or urgent:
            outbox_dispatch_task.delay([message_id])
            return
        try:
            claimed = cache.add(DISPATCH_SLOT_KEY, 1, timeout=DISPATCH_SLOT_SECONDS)
        except Exception:  # no shared cache: one task for this message
            outbox_dispatch_task.delay([message_id])
            return
        if claimed:
            try:
                outbox_dispatch_pending_task.apply_async(countdown=DISPATCH_DELAY)
            except Exception:
                cache.delete(DISPATCH_SLOT_KEY)
                raise
    except Exception:  # broker down: the periodic sweep picks the row up later
        logger.warning("outbox message %s not enqueued; the sweep will retry", message_id)


def outbox_dispatch_pending(*, limit: int = 5000) -> int:
    """Dispatch every pending message, oldest first (the debounced after-commit task)."""
    ids = list(
        OutboxMessage.objects.filter(processed_at__isnull=True)
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )
    return outbox_dispatch(message_ids=ids)


def outbox_dispatch(*, message_ids: list[int]) -> int:
    """Run the handlers of pending messages; return how many were processed."""
    done = 0
    for message_id in message_ids:
        with transaction.atomic():
            query = OutboxMessage.objects.filter(pk=message_id, processed_at__isnull=True)
            if connection.vendor == "postgresql":
                query = query.select_for_update(skip_locked=True)
            message = query.first()
            if message is None:
                continue
            try:
                with transaction.atomic():
                    for handler in HANDLERS.get(message.topic, []):
                        handler(message)
            except Exception:
                logger.exception("outbox message %s failed", message.pk)
                message.attempts += 1
                if message.attempts >= MAX_ATTEMPTS:
                    message.processed_at = timezone.now()
                message.save(update_fields=["attempts", "processed_at"])
                continue
            message.processed_at = timezone.now()
            message.save(update_fields=["processed_at"])
            done += 1
    return done


def outbox_sweep(*, older_than: timedelta = timedelta(seconds=30), limit: int = 500) -> int:
    """Dispatch pending messages older than ``older_than`` (the safety net)."""
    cutoff = timezone.now() - older_than
    ids = list(
        OutboxMessage.objects.filter(processed_at__isnull=True, created_at__lt=cutoff)
        .order_by("created_at")
        .values_list("pk", flat=True)[:limit]
    )
    return outbox_dispatch(message_ids=ids)


def outbox_prune(*, older_than: timedelta = timedelta(days=7)) -> int:
    """Delete processed messages older than ``older_than``."""
    cutoff = timezone.now() - older_than
    deleted, _ = OutboxMessage.objects.filter(processed_at__lt=cutoff).delete()
    return deleted
