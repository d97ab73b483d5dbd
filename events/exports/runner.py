"""Run an export request: claim it, write its files one by one, resume after a crash.

Reliability (SPEC §9, docs/ARCHITECTURE.md "Exports"):

- **Claim.** A run takes the request with one conditional UPDATE (pending, or running with a
  heartbeat older than ``CDP_EXPORT_STALE_SECONDS``) and a fresh ``run_token``; every later
  write checks the token, so two deliveries of the task never write at once.
- **Deterministic files.** The first run records a watermark (the largest event id), and every
  file reads ``id <= watermark`` in (occurred time, id) order after the previous file's last
  event, at most ``CDP_EXPORT_FILE_LINES`` (50,000) lines: writing a file again yields the
  same events and so the same name.
- **Names never collide.** A file named like the one before it (more than a file's lines in
  one millisecond) is numbered ``-2``, ``-3`` … (``formats.next_file_name``), and publishing
  never replaces a file already under a name (``destinations``): such a file fails the export.
- **Counted.** Each file's bytes under its name are checked against the bytes written, and
  the export is ``completed`` only when its files' names are distinct and their lines add up
  to the events its range holds at the end; otherwise it fails saying so (events deleted or
  committed late while it ran).
- **Resume.** A file is recorded ``writing`` before it is published and ``done`` (with the
  request's counters, in one transaction) after; a run that finds a ``writing`` row (its
  predecessor died) removes whatever that file may have left (``discard``) and goes on after
  the last ``done`` file. Nothing appears under a final name before it is complete.
- **Heartbeat.** Every file recorded and finished refreshes ``heartbeat_at``; the beat task
  ``exports_requeue_stale_task`` queues again what has gone quiet for
  ``CDP_EXPORT_STALE_SECONDS``, and the task acks late, so a killed worker's export is
  finished by another.
- **Pipeline.** A file is published (uploaded) on a thread while the next one is written; it
  is recorded done before the next one is recorded, so at most one file is ``writing``.
- **Cancel.** Checked between files: the run stops and the status says cancelled.
"""

import logging
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack, suppress
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, F, Max, Q, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from cdp.errors import ErrorCode
from events.exports.destinations import DestinationError, LocalDestination, S3Destination
from events.exports.formats import next_file_name
from events.exports.models import ExportFile, ExportRequest
from events.exports.reader import export_reader
from events.exports.selectors import event_time, export_events
from events.exports.writer import LineWriter, WrittenFile, write_file
from events.models import Event

logger = logging.getLogger(__name__)

Status = ExportRequest.Status


class LeaseLost(Exception):
    """Another run took the request over (this one was thought dead) or it was deleted."""


class ExportFailure(Exception):
    """The export cannot go on; the message becomes the request's error."""


@dataclass
class _Run:
    export: ExportRequest
    token: uuid.UUID

    def update(self, **fields) -> None:
        """Update the request's row if this run still holds it, else raise ``LeaseLost``."""
        fields.setdefault("heartbeat_at", timezone.now())
        if not ExportRequest.objects.filter(pk=self.export.pk, run_token=self.token).update(
            **fields
        ):
            raise LeaseLost(self.export.pk)


def export_run(*, export: ExportRequest) -> ExportRequest:
    """Write the export's files (resuming after its last finished file); return it updated.

    A request that is finished, or running with a live worker, is left alone.
    """
    token = uuid.uuid4()
    now = timezone.now()
    stale = now - timedelta(seconds=settings.CDP_EXPORT_STALE_SECONDS)
    claimed = (
        ExportRequest.objects.filter(pk=export.pk, cancel_requested=False)
        .filter(Q(status=Status.PENDING) | Q(status=Status.RUNNING, heartbeat_at__lt=stale))
        .update(
            status=Status.RUNNING,
            run_token=token,
            heartbeat_at=now,
            requeued_at=None,
            attempts=F("attempts") + 1,
            started_at=Coalesce("started_at", now),
        )
    )
    export.refresh_from_db()
    if not claimed:
        return export
    run = _Run(export=export, token=token)
    try:
        status, error = _write_all(run), ""
    except LeaseLost:
        logger.info("export %s was taken over by another run", export.pk)
        export.refresh_from_db()
        return export
    except (ExportFailure, DestinationError) as exc:
        status, error = Status.FAILED, str(exc)
    except Exception as exc:  # a bug or the database: still show it on the request
        logger.exception("export %s failed", export.pk)
        status, error = Status.FAILED, f"internal error: {exc.__class__.__name__}: {exc}"
    with suppress(LeaseLost):
        run.update(status=status, error=error[:4000], finished_at=timezone.now(), run_token=None)
    export.refresh_from_db()
    return export


def _destination(export: ExportRequest):
    if export.destination == ExportRequest.Destination.LOCAL:
        return LocalDestination(prefix=export.path, tag=str(export.request_id))
    if not settings.CDP_EXPORT_S3:
        raise ExportFailure(
            f"{ErrorCode.S3_NOT_CONFIGURED}: S3 exports are not enabled on this "
            "server (set CDP_EXPORT_S3=1 with credentials, or send no bucket to "
            "use the server's default destination)"
        )
    return S3Destination(
        bucket=export.bucket,
        prefix=export.path,
        tag=str(export.request_id),
        region=export.region,
        role_arn=export.role_arn,
        external_id=export.external_id,
        session_name=f"cdp-export-{export.request_id}",
    )


def _write_all(run: _Run) -> str:
    """Write the remaining files; return the final status (completed or cancelled)."""
    export = run.export
    destination = _destination(export)
    if export.watermark_id is None:
        watermark = Event.objects.aggregate(top=Max("id"))["top"] or 0
        export.watermark_id = watermark
        export.total_events = export_events(export=export, after=None).count()
        run.update(watermark_id=watermark, total_events=export.total_events)
    # Whatever a run that died mid-file left behind is removed; that file is written again.
    for stale in ExportFile.objects.filter(request=export, status=ExportFile.Status.WRITING):
        destination.discard(stale.key, stale.size)
        stale.delete()
    last = (
        ExportFile.objects.filter(request=export, status=ExportFile.Status.DONE)
        .order_by("-seq")
        .first()
    )
    after = (last.last_time, last.last_id) if last else None
    seq = last.seq if last else 0
    previous = last.name if last else None
    with export_reader(export, after) as reader, _Publisher(run, destination) as publisher:
        lines = LineWriter(enrich=export.enrich_with_moments_info, codes=reader.codes)
        while True:
            # The next file is written while the previous one is published.
            with ExitStack() as stack:
                temporary = stack.enter_context(destination.temporary())
                written = write_file(chunks=reader.next_file(after), out=temporary, lines=lines)
                publisher.finish()
                if ExportRequest.objects.filter(pk=export.pk, cancel_requested=True).exists():
                    return Status.CANCELLED
                if written is None:
                    _check_counts(export)
                    return Status.COMPLETED
                seq += 1
                record = _record(run, destination, seq, after, written, previous)
                publisher.start(record, temporary, stack.pop_all())
                after = (record.last_time, record.last_id)
                previous = record.name


def _check_counts(export: ExportRequest) -> None:
    """Raise ``ExportFailure`` unless the finished files have distinct names and their lines
    add up to the events written and to the events the export's range holds now."""
    done = ExportFile.objects.filter(request=export, status=ExportFile.Status.DONE).aggregate(
        files=Count("pk"), keys=Count("key", distinct=True), lines=Coalesce(Sum("events"), 0)
    )
    if done["keys"] != done["files"]:
        raise ExportFailure(
            f"export_incomplete: {done['files']} files were written under only {done['keys']} names"
        )
    written = ExportRequest.objects.values_list("events_written", flat=True).get(pk=export.pk)
    events = export_events(export=export, after=None).count()
    if not done["lines"] == written == events:
        raise ExportFailure(
            f"export_incomplete: the {done['files']} files hold {done['lines']} lines but "
            f"{events} events of the export's range exist now; events were deleted (a person "
            "erased or merged) or stored late while the export ran, so the files are not one "
            "consistent copy: submit the export again"
        )


def _record(
    run: _Run,
    destination,
    seq: int,
    after: tuple[datetime, int] | None,
    written: WrittenFile,
    previous: str | None,
) -> ExportFile:
    """Record file ``seq`` as being written (before anything appears under its name), named
    after its first and last events and numbered after ``previous`` if it shares them."""
    name = next_file_name(
        str(run.export.request_id), written.first_time, written.last_time, previous
    )
    run.update()
    return ExportFile.objects.create(
        request=run.export,
        seq=seq,
        name=name,
        key=destination.key(name),
        events=written.events,
        size=written.size,
        after_time=after[0] if after else None,
        after_id=after[1] if after else None,
        last_time=event_time(event_id=written.last_id),
        last_id=written.last_id,
    )


class _Publisher:
    """Publish one file at a time on a thread (S3 uploads wait on the network) and record it
    done once it is in place. The thread touches the destination only, never the database."""

    def __init__(self, run: _Run, destination):
        self.run = run
        self.destination = destination
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cdp-export-upload")
        self.pending: tuple[Future, ExportFile, ExitStack] | None = None

    def __enter__(self) -> "_Publisher":
        return self

    def __exit__(self, *exc_info) -> None:
        if self.pending is not None:  # interrupted: the file stays "writing", for the next run
            future, _, stack = self.pending
            with stack, suppress(Exception):
                future.result()
        self.pool.shutdown()

    def start(self, record: ExportFile, temporary, stack: ExitStack) -> None:
        future = self.pool.submit(self.destination.publish, temporary, record.key)
        self.pending = (future, record, stack)

    def finish(self) -> None:
        """Wait for the file being published, then record it done with the counters."""
        if self.pending is None:
            return
        future, record, stack = self.pending
        with stack:  # the temporary file goes once published
            published = future.result()
        self.pending = None
        if published != record.size:
            raise ExportFailure(
                f"export_incomplete: {record.key} holds {published} bytes at "
                f"the destination but {record.size} were written"
            )
        with transaction.atomic():
            ExportFile.objects.filter(pk=record.pk).update(
                status=ExportFile.Status.DONE, completed_at=timezone.now()
            )
            self.run.update(
                files_written=F("files_written") + 1,
                events_written=F("events_written") + record.events,
            )
        logger.info(
            "export %s: file %s with %s events", self.run.export.pk, record.name, record.events
        )
