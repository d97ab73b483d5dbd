"""The beat scheduler: django-celery-beat's database scheduler, recording a heartbeat.

It runs in every install (``make run`` starts it). With a broker it sends due tasks to the
workers. Without one (the embedded default, ``task_always_eager``) Celery's
``Scheduler.apply_async`` calls ``Task.apply_async``, which runs the task inline: beat then
does its periodic work itself, one task after another, in its own process.
"""

import time

from django.conf import settings
from django_celery_beat.schedulers import DatabaseScheduler

from cdp.heartbeats import SCHEDULER, heartbeat_record


class HeartbeatScheduler(DatabaseScheduler):
    """``DatabaseScheduler`` that records the scheduler's heartbeat at most every
    ``CDP_HEARTBEAT_SECONDS``, and wakes at least that often to do so."""

    _last_beat = 0.0

    def tick(self, *args, **kwargs):
        now = time.monotonic()
        if now - self._last_beat >= settings.CDP_HEARTBEAT_SECONDS:
            self._last_beat = now
            heartbeat_record(kind=SCHEDULER)
        return min(super().tick(*args, **kwargs), settings.CDP_HEARTBEAT_SECONDS)
