"""The Celery app. Tasks are discovered in each app's ``tasks.py``; settings use ``CELERY_*``."""

import gc
import os

from celery import Celery
from celery.signals import worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cdp.settings")

app = Celery("cdp")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_process_init.connect
def _freeze_startup_objects(**_) -> None:
    """Keep what each worker process loaded at start-up out of the cyclic collector's scans
    (as ``cdp.wsgi`` does for web processes)."""
    gc.freeze()
