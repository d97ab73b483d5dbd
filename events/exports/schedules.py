"""Scheduled exports (SPEC §9): marketers set them up in the admin; beat runs them.

A ``ScheduledExport`` owns a django-celery-beat ``PeriodicTask`` on a ``CrontabSchedule``
(written here, never by the admin form) that calls ``scheduled_export_run_task``; each run
submits an ordinary export request over a window counted back from the run's time in the
schedule's time zone — "daily at 02:00, the previous day" — so every run is visible with its
progress among the export requests.
"""

import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django_celery_beat import validators
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from cdp.errors import ErrorCode, FieldError, ServiceError
from events.exports.models import ExportRequest, ScheduledExport
from events.exports.services import ExportSpec, export_spec_validate, export_submit
from people.models import Workspace

TASK = "events.exports.tasks.scheduled_export_run_task"
Window = ScheduledExport.Window
CRONTAB_FIELDS = {
    "minute": validators.minute_validator,
    "hour": validators.hour_validator,
    "day_of_week": validators.day_of_week_validator,
    "day_of_month": validators.day_of_month_validator,
    "month_of_year": validators.month_of_year_validator,
}


@dataclass(frozen=True)
class ScheduleInput:
    """A scheduled export as the admin form describes it (model field names)."""

    name: str
    window: str = Window.PREVIOUS_DAY
    minute: str = "0"
    hour: str = "2"
    day_of_week: str = "*"
    day_of_month: str = "*"
    month_of_year: str = "*"
    timezone: str = "UTC"
    definition_ids: tuple[str, ...] = ()
    bucket: str = ""
    region: str = ""
    path: str = ""
    role_arn: str = ""
    external_id: str = ""
    enrich_with_moments_info: bool = False
    enabled: bool = True


def window_bounds(*, window: str, now: datetime, zone: str) -> tuple[datetime, datetime]:
    """Return the UTC ``[start, end)`` of ``window`` for a run at ``now`` in time zone ``zone``."""
    local = now.astimezone(ZoneInfo(zone))
    tz = local.tzinfo
    today = local.date()
    if window == Window.PREVIOUS_HOUR:
        end = local.replace(minute=0, second=0, microsecond=0).astimezone(UTC)
        return end - timedelta(hours=1), end
    if window == Window.LAST_24_HOURS:
        return now - timedelta(hours=24), now
    if window == Window.PREVIOUS_WEEK:
        monday = today - timedelta(days=today.weekday())
        first, last = monday - timedelta(days=7), monday
    elif window == Window.PREVIOUS_MONTH:
        last = today.replace(day=1)
        first = (last - timedelta(days=1)).replace(day=1)
    else:
        first, last = today - timedelta(days=1), today
    return (
        datetime.combine(first, time(0), tzinfo=tz).astimezone(UTC),
        datetime.combine(last, time(0), tzinfo=tz).astimezone(UTC),
    )


def _spec(data: ScheduleInput, start: datetime, end: datetime) -> ExportSpec:
    return ExportSpec(
        start_time=start,
        end_time=end,
        definition_ids=tuple(data.definition_ids),
        bucket=data.bucket,
        region=data.region,
        path=data.path,
        role_arn=data.role_arn,
        external_id=data.external_id,
        enrich_with_moments_info=data.enrich_with_moments_info,
    )


def scheduled_export_validate(*, workspace: Workspace, data: ScheduleInput) -> None:
    """Check the schedule, the window and the destination; raise ``ServiceError``."""
    errors: list[FieldError] = []
    if not data.name.strip():
        errors.append(FieldError("name", ErrorCode.REQUIRED, "give the schedule a name"))
    if data.window not in Window.values:
        errors.append(FieldError("window", ErrorCode.INVALID, f"one of {', '.join(Window)}"))
    for name, validator in CRONTAB_FIELDS.items():
        try:
            validator(getattr(data, name))
        except ValidationError as exc:
            errors.append(FieldError(name, ErrorCode.INVALID, " ".join(exc.messages)))
    try:
        ZoneInfo(data.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        errors.append(
            FieldError("timezone", ErrorCode.INVALID, "a time zone name such as Europe/Berlin")
        )
    now = timezone.now()
    try:
        export_spec_validate(workspace=workspace, spec=_spec(data, now - timedelta(hours=1), now))
    except ServiceError as exc:
        errors.extend(exc.errors)
    if errors:
        raise ServiceError(errors)


def _periodic_task_sync(scheduled: ScheduledExport) -> None:
    """Point the schedule's beat task at its crontab, enabled as the schedule is."""
    crontab_fields = {name: getattr(scheduled, name) for name in CRONTAB_FIELDS}
    crontab = CrontabSchedule.objects.filter(**crontab_fields, timezone=scheduled.timezone).first()
    if crontab is None:
        crontab = CrontabSchedule.objects.create(**crontab_fields, timezone=scheduled.timezone)
    task = scheduled.periodic_task or PeriodicTask(
        name=f"scheduled-export-{scheduled.pk}", task=TASK
    )
    task.crontab, task.interval = crontab, None
    task.kwargs = json.dumps({"scheduled_export_id": scheduled.pk})
    task.enabled = scheduled.enabled
    task.description = f"Scheduled export {scheduled.name!r} of workspace {scheduled.workspace}"
    task.save()
    if scheduled.periodic_task_id != task.pk:
        scheduled.periodic_task = task
        ScheduledExport.objects.filter(pk=scheduled.pk).update(periodic_task=task)


def scheduled_export_create(*, workspace: Workspace, data: ScheduleInput) -> ScheduledExport:
    """Create a scheduled export and its beat task."""
    scheduled_export_validate(workspace=workspace, data=data)
    fields = asdict(data)
    fields["definition_ids"] = list(dict.fromkeys(data.definition_ids))
    with transaction.atomic():
        scheduled = ScheduledExport.objects.create(workspace=workspace, **fields)
        _periodic_task_sync(scheduled)
    return scheduled


def scheduled_export_update(
    *, scheduled_export: ScheduledExport, data: ScheduleInput
) -> ScheduledExport:
    """Change a scheduled export; its beat task follows."""
    scheduled_export_validate(workspace=scheduled_export.workspace, data=data)
    fields = asdict(data)
    fields["definition_ids"] = list(dict.fromkeys(data.definition_ids))
    with transaction.atomic():
        for name, value in fields.items():
            setattr(scheduled_export, name, value)
        scheduled_export.save()
        _periodic_task_sync(scheduled_export)
    return scheduled_export


def scheduled_export_delete(*, scheduled_export: ScheduledExport) -> None:
    """Delete a scheduled export and its beat task (the requests it made are kept)."""
    with transaction.atomic():
        task_id = scheduled_export.periodic_task_id
        scheduled_export.delete()
        if task_id:
            PeriodicTask.objects.filter(pk=task_id).delete()


def scheduled_export_run(
    *, scheduled_export: ScheduledExport, now: datetime | None = None
) -> ExportRequest:
    """Submit this run's export request: the schedule's window before ``now``."""
    start, end = window_bounds(
        window=scheduled_export.window, now=now or timezone.now(), zone=scheduled_export.timezone
    )
    data = ScheduleInput(
        **{name: getattr(scheduled_export, name) for name in ScheduleInput.__dataclass_fields__}
    )
    return export_submit(
        workspace=scheduled_export.workspace,
        spec=_spec(data, start, end),
        origin=ExportRequest.Origin.SCHEDULE,
        scheduled_export=scheduled_export,
    )
