"""Heartbeats of the background processes, and what ``/healthz`` and the admin say of them.

A Celery worker (a bootstep in ``cdp.celery``) and the beat scheduler (``cdp.beat``) each
record a row every ``CDP_HEARTBEAT_SECONDS``. A process silent for longer than
``CDP_HEARTBEAT_SILENT_SECONDS`` is reported as silent. With no broker (the embedded default)
there is no worker to hear from: tasks run in the process that sends them, the web server's for
requests and the scheduler's for periodic work, so the scheduler is the process that matters.
"""

import logging
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import DatabaseError, connection
from django.db.models import Max
from django.utils import timezone

from cdp.models import Heartbeat

log = logging.getLogger(__name__)

WORKER = "worker"
SCHEDULER = "scheduler"


def heartbeat_record(*, kind: str, node: str = "") -> None:
    """Record that a process of ``kind`` (``worker`` or ``scheduler``) on ``node`` is alive.
    Never raises: a database outage must not stop the process that reports on it."""
    name = f"{kind}:{node}" if node else kind
    try:
        Heartbeat.objects.update_or_create(
            name=name, defaults={"kind": kind, "seen_at": timezone.now()}
        )
    except DatabaseError:  # the database may be down: the next beat reconnects and tries again
        log.warning("could not record the %s heartbeat", name, exc_info=True)
        connection.close()


@dataclass(frozen=True)
class ProcessStatus:
    kind: str
    expected: bool  # whether this deployment runs such a process
    seen_at: datetime | None
    age_seconds: float | None
    silent: bool  # expected and not seen within CDP_HEARTBEAT_SILENT_SECONDS

    @property
    def in_process(self) -> bool:
        """A worker that is not expected: its tasks run inside the web and beat processes."""
        return self.kind == WORKER and not self.expected

    def as_json(self) -> dict:
        mode = {"mode": "in-process"} if self.in_process else {}
        return {
            "expected": self.expected,
            **mode,
            "lastSeen": self.seen_at.isoformat() if self.seen_at else None,
            "ageSeconds": round(self.age_seconds, 1) if self.age_seconds is not None else None,
            "ok": not self.silent,
        }


def _status(kind: str, seen_at: datetime | None, expected: bool) -> ProcessStatus:
    age = (timezone.now() - seen_at).total_seconds() if seen_at else None
    silent = expected and (age is None or age > settings.CDP_HEARTBEAT_SILENT_SECONDS)
    return ProcessStatus(
        kind=kind, expected=expected, seen_at=seen_at, age_seconds=age, silent=silent
    )


def heartbeats_status() -> dict[str, ProcessStatus]:
    """Return the worker's and the scheduler's status, from the newest row of each kind.
    A worker is expected when tasks go through a broker; a scheduler always (periodic work
    runs only where beat runs)."""
    latest = dict(Heartbeat.objects.values_list("kind").annotate(seen=Max("seen_at")))
    with_broker = not settings.CELERY_TASK_ALWAYS_EAGER
    return {
        WORKER: _status(WORKER, latest.get(WORKER), expected=with_broker),
        SCHEDULER: _status(SCHEDULER, latest.get(SCHEDULER), expected=True),
    }
