"""Kernel tables: the last sign of life of each background process (worker, scheduler), and
the transactional outbox every app writes its after-commit work to (``cdp.outbox``)."""

from django.db import models
from django.db.models import Q


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


class OutboxMessage(models.Model):
    """Work to do after a commit (segment updates, flow triggers), written in the same
    transaction as the change, so nothing is lost while the broker is down."""

    # Named by label: the kernel imports no app, and a workspace's messages go with it.
    workspace = models.ForeignKey("people.Workspace", on_delete=models.CASCADE, related_name="+")
    topic = models.CharField(max_length=32)
    payload = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)

    class Meta:
        # The table the events app created; the model moved to the kernel, its rows stayed.
        db_table = "events_outboxmessage"
        indexes = [
            models.Index(
                fields=["created_at"],
                condition=Q(processed_at__isnull=True),
                name="outbox_pending_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.topic} #{self.pk}"


class SentMail(Heartbeat):
    """The admin's "Sent mail" entry (``cdp.admin``): the messages in the local mail folder
    (``cdp.mail``). A proxy without rows of its own, for its page and its permission
    (``cdp.view_sentmail``)."""

    class Meta:
        proxy = True
        verbose_name = "sent mail"
        verbose_name_plural = "sent mail"
        default_permissions = ("view",)
