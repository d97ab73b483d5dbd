"""Export requests (SPEC §9): submit, cancel, and the sweep that resumes interrupted runs.

Every entry point (API, admin form, scheduled exports) builds an ``ExportSpec`` and calls
``export_submit``, which checks it against the workspace, decides the destination and queues
``export_run_task`` after commit. The run itself is ``events.exports.runner.export_run``.

Destination: a request naming a ``bucket`` goes to that S3 bucket under ``path``; one without
goes to the server's default bucket ``CDP_EXPORT_BUCKET`` when set, else to the local folder
``CDP_EXPORT_DIR``; both under ``<workspace slug>/<path>`` so workspaces never share a folder.
"""

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from kombu.exceptions import OperationalError

from cdp.errors import ErrorCode, FieldError, ServiceError
from events.exports.models import ExportRequest, ScheduledExport
from events.selectors import definition_list
from people.models import Workspace

logger = logging.getLogger(__name__)

MAX_DEFINITIONS = 1000
# Found by name (events.exports.tasks imports this module; events.tasks registers it).
RUN_TASK = "events.exports.tasks.export_run_task"
BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
REGION_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")
PATH_SEGMENT_RE = re.compile(r"^[A-Za-z0-9!_.*'()=-]+$")
ROLE_ARN_RE = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")
EXTERNAL_ID_RE = re.compile(r"^[\w+=,.@:/-]{2,1224}$")


@dataclass(frozen=True)
class ExportSpec:
    """What to export and where, as the API names it (§9 fixed contract)."""

    start_time: datetime
    end_time: datetime
    definition_ids: tuple[str, ...] = ()
    bucket: str = ""
    region: str = ""
    path: str = ""
    role_arn: str = ""
    external_id: str = ""
    enrich_with_moments_info: bool = False


def _path_errors(path: str) -> list[FieldError]:
    if len(path) > 400:
        return [FieldError("path", ErrorCode.TOO_LONG, "at most 400 characters")]
    segments = path.strip("/").split("/") if path.strip("/") else []
    for segment in segments:
        if segment in (".", "..") or not PATH_SEGMENT_RE.match(segment):
            return [
                FieldError(
                    "path",
                    ErrorCode.INVALID,
                    "a relative prefix of names made of letters, digits and "
                    "!_.*'()=- separated by single slashes",
                )
            ]
    return []


def export_spec_validate(*, workspace: Workspace, spec: ExportSpec) -> list[str]:
    """Check ``spec`` against the rules and the workspace's definitions; return the definition
    ids without repeats, or raise ``ServiceError`` naming each field at fault."""
    errors: list[FieldError] = []
    start, end = spec.start_time, spec.end_time
    if start is None or timezone.is_naive(start):
        errors.append(FieldError("startTime", ErrorCode.INVALID, "an ISO-8601 time with zone"))
    if end is None or timezone.is_naive(end):
        errors.append(FieldError("endTime", ErrorCode.INVALID, "an ISO-8601 time with zone"))
    elif not errors and end <= start:
        errors.append(FieldError("endTime", ErrorCode.INVALID, "must be after startTime"))
    codes = list(dict.fromkeys(spec.definition_ids))
    if len(codes) > MAX_DEFINITIONS:
        errors.append(
            FieldError(
                "definitionIds", ErrorCode.TOO_LONG, f"at most {MAX_DEFINITIONS} definitions"
            )
        )
    elif codes:
        known = set(
            definition_list(workspace=workspace)
            .filter(definition_id__in=codes)
            .values_list("definition_id", flat=True)
        )
        for i, code in enumerate(spec.definition_ids):
            if code not in known:
                errors.append(
                    FieldError(
                        f"definitionIds[{i}]",
                        ErrorCode.UNKNOWN_DEFINITION,
                        f"no definition {code!r} in this workspace",
                    )
                )
                break
    if spec.bucket and (not BUCKET_RE.match(spec.bucket) or ".." in spec.bucket):
        errors.append(
            FieldError(
                "bucket",
                ErrorCode.INVALID,
                "an S3 bucket name: 3-63 lower-case letters, digits, dots and hyphens",
            )
        )
    if spec.region and not REGION_RE.match(spec.region):
        errors.append(FieldError("region", ErrorCode.INVALID, "a region such as eu-central-1"))
    errors.extend(_path_errors(spec.path))
    if spec.role_arn and not ROLE_ARN_RE.match(spec.role_arn):
        errors.append(
            FieldError(
                "roleArn", ErrorCode.INVALID, "an IAM role ARN: arn:aws:iam::<account>:role/<name>"
            )
        )
    if spec.external_id and not EXTERNAL_ID_RE.match(spec.external_id):
        errors.append(
            FieldError("externalId", ErrorCode.INVALID, "2-1224 letters, digits and +=,.@:/-_")
        )
    elif spec.external_id and not spec.role_arn:
        errors.append(FieldError("externalId", ErrorCode.INVALID, "is used only with roleArn"))
    if errors:
        raise ServiceError(errors)
    return codes


def export_submit(
    *,
    workspace: Workspace,
    spec: ExportSpec,
    origin: str = ExportRequest.Origin.API,
    scheduled_export: ScheduledExport | None = None,
) -> ExportRequest:
    """Record an export request and queue its run after commit."""
    codes = export_spec_validate(workspace=workspace, spec=spec)
    prefix = spec.path.strip("/")
    if spec.bucket:
        destination, bucket = ExportRequest.Destination.S3, spec.bucket
    else:
        # The server's own bucket or folder: each workspace in its own folder.
        prefix = f"{workspace.slug}/{prefix}" if prefix else workspace.slug
        bucket = settings.CDP_EXPORT_BUCKET
        destination = ExportRequest.Destination.S3 if bucket else ExportRequest.Destination.LOCAL
    exports_requeue_stale()
    export = ExportRequest.objects.create(
        workspace=workspace,
        scheduled_export=scheduled_export,
        origin=origin,
        start_time=spec.start_time,
        end_time=spec.end_time,
        definition_ids=codes,
        destination=destination,
        bucket=bucket,
        region=spec.region,
        path=prefix,
        role_arn=spec.role_arn,
        external_id=spec.external_id,
        enrich_with_moments_info=spec.enrich_with_moments_info,
        heartbeat_at=timezone.now(),
    )
    transaction.on_commit(partial(_enqueue, export.pk))
    return export


def _enqueue(export_id: int) -> None:
    try:
        current_app.tasks[RUN_TASK].delay(export_id)
    except OperationalError as exc:
        # The broker is down: the stale sweep queues it again once it is back.
        logger.warning("could not queue export %s: %s", export_id, exc)


def export_cancel(*, export: ExportRequest) -> ExportRequest:
    """Cancel a pending export at once; ask a running one to stop after its current file."""
    with transaction.atomic():
        row = ExportRequest.objects.select_for_update().get(pk=export.pk)
        if row.is_finished:
            raise ServiceError(
                FieldError(
                    "requestId", ErrorCode.NOT_CANCELLABLE, f"the export is already {row.status}"
                )
            )
        if row.status == ExportRequest.Status.PENDING:
            row.status = ExportRequest.Status.CANCELLED
            row.finished_at = timezone.now()
        row.cancel_requested = True
        row.save(update_fields=["status", "finished_at", "cancel_requested"])
    return row


def exports_requeue_stale(*, now: datetime | None = None) -> int:
    """Queue again every unfinished export whose worker stopped giving signs of life (killed,
    or its message lost); cancel those asked to stop, fail those interrupted too often.
    Return how many were queued."""
    now = now or timezone.now()
    stale = now - timedelta(seconds=settings.CDP_EXPORT_STALE_SECONDS)
    unfinished = [ExportRequest.Status.PENDING, ExportRequest.Status.RUNNING]
    candidates = ExportRequest.objects.filter(status__in=unfinished, heartbeat_at__lt=stale).filter(
        Q(requeued_at__isnull=True) | Q(requeued_at__lt=stale)
    )
    queued = 0
    for export in candidates.only("pk", "cancel_requested", "attempts"):
        still_stale = ExportRequest.objects.filter(
            pk=export.pk, status__in=unfinished, heartbeat_at__lt=stale
        )
        if export.cancel_requested:
            still_stale.update(
                status=ExportRequest.Status.CANCELLED, finished_at=now, run_token=None
            )
        elif export.attempts >= settings.CDP_EXPORT_MAX_RUNS:
            still_stale.update(
                status=ExportRequest.Status.FAILED,
                finished_at=now,
                run_token=None,
                error=f"{ErrorCode.EXPORT_INTERRUPTED}: the "
                f"export was interrupted {export.attempts} times",
            )
        elif still_stale.update(requeued_at=now):
            logger.info("export %s is stale; queued again", export.pk)
            transaction.on_commit(partial(_enqueue, export.pk))
            queued += 1
    return queued
