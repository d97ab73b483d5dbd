"""The Celery app. Tasks are discovered in each app's ``tasks.py``; settings use ``CELERY_*``.

Without ``CELERY_BROKER_URL`` tasks run in the process that sends them (``task_always_eager``):
the web server's for requests, beat's for periodic work (``cdp.beat``); no worker runs then.

Each worker records a heartbeat (``cdp.heartbeats``) from a bootstep on the worker's timer, so
``/healthz`` and the admin can say when a worker was last seen.
"""

import gc
import os

from celery import Celery, bootsteps
from celery.signals import worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cdp.settings")

app = Celery("cdp")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


class HeartbeatStep(bootsteps.StartStopStep):
    """Record the worker's heartbeat at start and every ``CDP_HEARTBEAT_SECONDS``."""

    requires = {"celery.worker.components:Timer"}

    def __init__(self, worker, **kwargs):
        super().__init__(worker, **kwargs)
        self.tref = None

    def start(self, worker):
        from django.conf import settings

        self.node = worker.hostname
        self.beat()
        self.tref = worker.timer.call_repeatedly(settings.CDP_HEARTBEAT_SECONDS, self.beat)

    def beat(self):
        from cdp.heartbeats import WORKER, heartbeat_record

        heartbeat_record(kind=WORKER, node=self.node)

    def stop(self, worker):
        if self.tref is not None:
            self.tref.cancel()
            self.tref = None


app.steps["worker"].add(HeartbeatStep)


@worker_process_init.connect
def _freeze_startup_objects(**_) -> None:
    """Keep what each worker process loaded at start-up out of the cyclic collector's scans
    (as ``cdp.wsgi`` does for web processes)."""
    gc.freeze()
