"""Export requests, the files they wrote and scheduled exports (SPEC §9).

Imported by ``events.models`` so Django registers them in the events app (one migration
history). A request is one export of a time range of a workspace's events; each finished file
is one ``ExportFile`` row, which is what lets a restarted run resume after the last finished
file (``events.exports.runner``). A scheduled export owns a django-celery-beat
``PeriodicTask`` that creates a request on every run.
"""

import uuid

from django.db import models
from django.db.models import Q


class ExportRequest(models.Model):
    """One export of events to S3 or the local export folder."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    class Destination(models.TextChoices):
        LOCAL = "local", "Local export folder"
        S3 = "s3", "S3 bucket"

    class Origin(models.TextChoices):
        API = "api", "API"
        ADMIN = "admin", "Admin"
        SCHEDULE = "schedule", "Scheduled export"

    request_id = models.UUIDField(
        default=uuid.uuid4, unique=True, editable=False, verbose_name="request id"
    )
    workspace = models.ForeignKey(
        "people.Workspace", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    scheduled_export = models.ForeignKey(
        "events.ScheduledExport",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="requests",
        db_index=False,
    )
    origin = models.CharField(max_length=8, choices=Origin.choices, default=Origin.API)
    start_time = models.DateTimeField(help_text="Events that occurred at or after this time…")
    end_time = models.DateTimeField(help_text="…and before this time (exclusive).")
    definition_ids = models.JSONField(
        default=list,
        blank=True,
        verbose_name="definitions",
        help_text="Definition ids (codes) to export; empty exports every definition.",
    )
    destination = models.CharField(max_length=8, choices=Destination.choices)
    bucket = models.CharField(max_length=63, blank=True)
    region = models.CharField(max_length=32, blank=True)
    path = models.CharField(max_length=512, blank=True, verbose_name="path prefix")
    role_arn = models.CharField(max_length=2048, blank=True, verbose_name="role ARN")
    external_id = models.CharField(
        max_length=1224, blank=True, help_text="External id required by the role, if any."
    )
    enrich_with_moments_info = models.BooleanField(
        default=False,
        verbose_name="enrich with flow info",
        help_text="Events caused by a flow carry campaignName, elementName, campaignStart "
        "and flowElementId.",
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    error = models.TextField(blank=True)
    cancel_requested = models.BooleanField(default=False)
    total_events = models.BigIntegerField(
        null=True, blank=True, help_text="Events to export, counted when the run starts."
    )
    events_written = models.BigIntegerField(default=0, verbose_name="events written")
    files_written = models.PositiveIntegerField(default=0, verbose_name="files written")
    # Events with a larger id arrived after the run started and are left out, so that file
    # boundaries stay the same when a restarted run writes a file again.
    watermark_id = models.BigIntegerField(null=True, blank=True, editable=False)
    attempts = models.PositiveSmallIntegerField(default=0, help_text="Runs started.")
    run_token = models.UUIDField(null=True, blank=True, editable=False)
    heartbeat_at = models.DateTimeField(
        null=True, blank=True, help_text="Last sign of life of the running worker."
    )
    requeued_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "export"
        verbose_name_plural = "exports"
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["workspace", "created_at"], name="export_ws_created_idx"),
            # The stale-run sweep reads only unfinished requests.
            models.Index(
                fields=["heartbeat_at"],
                name="export_active_idx",
                condition=Q(status__in=["pending", "running"]),
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(end_time__gt=models.F("start_time")), name="export_time_range_check"
            ),
        ]

    def __str__(self) -> str:
        return f"export {self.request_id}"

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.COMPLETED, self.Status.FAILED, self.Status.CANCELLED)

    @property
    def progress(self) -> int:
        """Percent of the events written (100 once completed)."""
        if self.status == self.Status.COMPLETED:
            return 100
        if not self.total_events:
            return 0
        return min(99, self.events_written * 100 // self.total_events)


class ExportFile(models.Model):
    """A file of an export: ``writing`` while it is uploaded, ``done`` once it is in place.

    The keyset bounds (``after_*`` exclusive, ``last_*`` inclusive, over occurred time and id)
    say exactly which events the file holds; the next file starts after ``last_*``.
    """

    class Status(models.TextChoices):
        WRITING = "writing", "Writing"
        DONE = "done", "Done"

    request = models.ForeignKey(
        ExportRequest, on_delete=models.CASCADE, related_name="files", db_index=False
    )  # the (request, seq) constraint leads with it
    seq = models.PositiveIntegerField(verbose_name="number")
    name = models.CharField(max_length=255)
    key = models.CharField(max_length=1024, help_text="Object key or path under the folder.")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.WRITING)
    events = models.PositiveIntegerField(default=0, verbose_name="lines")
    size = models.BigIntegerField(default=0, help_text="Bytes (gzip).")
    after_time = models.DateTimeField(null=True, blank=True, editable=False)
    after_id = models.BigIntegerField(null=True, blank=True, editable=False)
    last_time = models.DateTimeField(editable=False)
    last_id = models.BigIntegerField(editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "export file"
        ordering = ["request", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["request", "seq"], name="exportfile_seq_uniq"),
        ]

    def __str__(self) -> str:
        return self.name


class ScheduledExport(models.Model):
    """An export run on a crontab schedule over a window relative to the run time."""

    class Window(models.TextChoices):
        PREVIOUS_HOUR = "previous_hour", "The previous full hour"
        PREVIOUS_DAY = "previous_day", "The previous day"
        PREVIOUS_WEEK = "previous_week", "The previous week (Monday to Sunday)"
        PREVIOUS_MONTH = "previous_month", "The previous month"
        LAST_24_HOURS = "last_24_hours", "The last 24 hours"

    workspace = models.ForeignKey(
        "people.Workspace", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    name = models.CharField(max_length=200)
    enabled = models.BooleanField(default=True)
    window = models.CharField(
        max_length=16,
        choices=Window.choices,
        default=Window.PREVIOUS_DAY,
        help_text="Which events each run exports, counted back from the run's time in the "
        "schedule's time zone.",
    )
    minute = models.CharField(
        max_length=240, default="0", help_text='Crontab minute: "0", "*/15", "0,30".'
    )
    hour = models.CharField(max_length=96, default="2", help_text='Crontab hour: "2", "*".')
    day_of_week = models.CharField(
        max_length=64, default="*", help_text='Crontab day of week: "*", "1-5" (0 is Sunday).'
    )
    day_of_month = models.CharField(
        max_length=124, default="*", help_text='Crontab day of month: "*", "1".'
    )
    month_of_year = models.CharField(
        max_length=64, default="*", help_text='Crontab month: "*", "1,7".'
    )
    timezone = models.CharField(
        max_length=63, default="UTC", help_text="Time zone of the schedule and of the window."
    )
    definition_ids = models.JSONField(
        default=list,
        blank=True,
        verbose_name="definitions",
        help_text="Definition ids (codes) to export; empty exports every definition.",
    )
    bucket = models.CharField(
        max_length=63, blank=True, help_text="Empty: the server's default destination."
    )
    region = models.CharField(max_length=32, blank=True)
    path = models.CharField(max_length=512, blank=True, verbose_name="path prefix")
    role_arn = models.CharField(max_length=2048, blank=True, verbose_name="role ARN")
    external_id = models.CharField(max_length=1224, blank=True)
    enrich_with_moments_info = models.BooleanField(
        default=False, verbose_name="enrich with flow info"
    )
    periodic_task = models.OneToOneField(
        "django_celery_beat.PeriodicTask",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    created_at = models.DateTimeField(auto_now_add=True)
    modified_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "scheduled export"
        ordering = ["workspace", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "name"], name="scheduledexport_ws_name_uniq"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def crontab_text(self) -> str:
        return (
            f"{self.minute} {self.hour} {self.day_of_month} {self.month_of_year} "
            f"{self.day_of_week} ({self.timezone})"
        )
