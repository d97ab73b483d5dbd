"""Scheduled exports (§9): a crontab in the schedule's time zone drives a beat task that the
service writes; each run requests an export of a window counted back from the run's time."""

import json
from datetime import UTC, datetime

import pytest
from django_celery_beat.models import PeriodicTask

from cdp.errors import ServiceError
from events.exports.models import ExportRequest, ScheduledExport
from events.exports.schedules import (
    ScheduleInput,
    scheduled_export_create,
    scheduled_export_delete,
    scheduled_export_run,
    scheduled_export_update,
    window_bounds,
)
from events.exports.tasks import scheduled_export_run_task

pytestmark = pytest.mark.django_db

Window = ScheduledExport.Window
RUN = datetime(2024, 5, 15, 0, 30, tzinfo=UTC)  # a Wednesday, 02:30 in Berlin (CEST)


@pytest.mark.parametrize(
    ("window", "zone", "start", "end"),
    [
        (Window.PREVIOUS_DAY, "UTC", "2024-05-14T00:00:00+00:00", "2024-05-15T00:00:00+00:00"),
        (
            Window.PREVIOUS_DAY,
            "Europe/Berlin",
            "2024-05-13T22:00:00+00:00",
            "2024-05-14T22:00:00+00:00",
        ),
        (Window.PREVIOUS_HOUR, "UTC", "2024-05-14T23:00:00+00:00", "2024-05-15T00:00:00+00:00"),
        (Window.PREVIOUS_WEEK, "UTC", "2024-05-06T00:00:00+00:00", "2024-05-13T00:00:00+00:00"),
        (Window.PREVIOUS_MONTH, "UTC", "2024-04-01T00:00:00+00:00", "2024-05-01T00:00:00+00:00"),
        (Window.LAST_24_HOURS, "UTC", "2024-05-14T00:30:00+00:00", "2024-05-15T00:30:00+00:00"),
    ],
)
def test_windows_count_back_from_the_run_in_the_schedules_time_zone(window, zone, start, end):
    bounds = window_bounds(window=window, now=RUN, zone=zone)
    assert [b.isoformat() for b in bounds] == [start, end]


def test_create_writes_the_beat_task_and_each_run_requests_an_export(shop, export_dir, committing):
    """Daily at 02:00 Berlin time for the previous day: the service creates the crontab and
    the periodic task; the task beat calls creates an export request of that window, which
    runs and shows in the schedule's requests."""
    workspace = shop[0]
    scheduled = scheduled_export_create(
        workspace=workspace,
        data=ScheduleInput(
            name="Nightly orders",
            hour="2",
            minute="0",
            timezone="Europe/Berlin",
            definition_ids=("c_order",),
            path="nightly",
        ),
    )
    task = PeriodicTask.objects.get(pk=scheduled.periodic_task_id)
    assert task.task == "events.exports.tasks.scheduled_export_run_task"
    assert json.loads(task.kwargs) == {"scheduled_export_id": scheduled.pk}
    assert (task.crontab.hour, task.crontab.minute, str(task.crontab.timezone)) == (
        "2",
        "0",
        "Europe/Berlin",
    )
    assert task.enabled

    with committing():
        request_id = scheduled_export_run_task(scheduled.pk)
    export = ExportRequest.objects.get(request_id=request_id)
    assert (export.origin, export.scheduled_export, export.definition_ids) == (
        "schedule",
        scheduled,
        ["c_order"],
    )
    assert export.status == "completed"
    assert (export.start_time, export.end_time) == window_bounds(
        window=Window.PREVIOUS_DAY, now=export.created_at, zone="Europe/Berlin"
    )
    assert export.path == "acme/nightly"


def test_update_moves_the_beat_task_and_delete_removes_it(shop):
    workspace = shop[0]
    scheduled = scheduled_export_create(workspace=workspace, data=ScheduleInput(name="Hourly"))
    scheduled_export_update(
        scheduled_export=scheduled,
        data=ScheduleInput(
            name="Hourly", minute="5", hour="*", window=Window.PREVIOUS_HOUR, enabled=False
        ),
    )
    task = PeriodicTask.objects.get(pk=scheduled.periodic_task_id)
    assert (task.crontab.minute, task.crontab.hour, task.enabled) == ("5", "*", False)
    assert scheduled_export_run_task(scheduled.pk) is None  # disabled: nothing requested
    scheduled_export_delete(scheduled_export=scheduled)
    assert not PeriodicTask.objects.filter(pk=task.pk).exists()


def test_bad_schedule_names_each_field(shop):
    with pytest.raises(ServiceError) as caught:
        scheduled_export_create(
            workspace=shop[0],
            data=ScheduleInput(
                name=" ",
                hour="25",
                timezone="Mars/Olympus",
                definition_ids=("c_nope",),
                bucket="UPPER",
            ),
        )
    fields = {e.field for e in caught.value.errors}
    assert fields == {"name", "hour", "timezone", "definitionIds[0]", "bucket"}


def test_run_now_is_an_ordinary_request(shop, export_dir, committing):
    scheduled = scheduled_export_create(
        workspace=shop[0], data=ScheduleInput(name="Weekly", window=Window.PREVIOUS_WEEK)
    )
    with committing():
        export = scheduled_export_run(scheduled_export=scheduled, now=RUN)
    export.refresh_from_db()
    assert (export.start_time.isoformat(), export.end_time.isoformat()) == (
        "2024-05-06T00:00:00+00:00",
        "2024-05-13T00:00:00+00:00",
    )
    assert export.status == "completed"
    assert list(scheduled.requests.all()) == [export]
