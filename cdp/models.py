"""Kernel tables: the last sign of life of each background process (worker, scheduler)."""

from django.db import models


class Heartbeat(models.Model):
    """When a background process last said it was alive. One row per process kind and node
    (``worker:celery@host``, ``scheduler``); written by the process itself on a timer."""

    name = models.CharField(max_length=200, primary_key=True)
    kind = models.CharField(max_length=20, db_index=True)
    seen_at = models.DateTimeField()

    class Meta:
        verbose_name = "heartbeat"

    def __str__(self) -> str:
        return f"{self.name} at {self.seen_at:%Y-%m-%d %H:%M:%S}"
