"""Admin of exports: marketers see their workspace's export requests with status, progress,
files and error, request a new export from a form (through the service), cancel, and set up
scheduled exports whose beat task the service writes.

Real HTTP requests through Django's test client; forms read from the page and posted back
(helpers in ``tests/people/test_admin.py``).
"""

from datetime import timedelta

import pytest
from django_celery_beat.models import PeriodicTask

from events.exports.models import ExportRequest, ScheduledExport
from events.exports.services import ExportSpec, export_submit
from tests.events.exports.conftest import T0
from tests.factories import unreachable_broker
from tests.people.test_admin import (
    admin_url,
    changelist_rows,
    form_data,
    login,
    make_staff,
    messages_of,
    page_text,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def marketer_client(workspace):
    return login(make_staff("mia", workspace))


def pending_export(workspace) -> ExportRequest:
    with unreachable_broker():  # its run cannot be queued: it stays pending
        return export_submit(
            workspace=workspace, spec=ExportSpec(start_time=T0, end_time=T0 + timedelta(days=1))
        )


def test_list_shows_status_progress_files_and_error_of_own_workspace_only(
    shop, other_workspace, marketer_client
):
    running = pending_export(shop[0])
    ExportRequest.objects.filter(pk=running.pk).update(
        status="running", total_events=200, events_written=50, files_written=1
    )
    failed = pending_export(shop[0])
    ExportRequest.objects.filter(pk=failed.pk).update(status="failed", error="NoSuchBucket")
    theirs = pending_export(other_workspace)
    response = marketer_client.get(admin_url("events_exportrequest_changelist"))
    assert {e.pk for e in changelist_rows(response)} == {running.pk, failed.pk}
    page = page_text(response)
    assert '<progress class="cdp-progress" max="100" value="25">' in page
    assert "NoSuchBucket" in page
    assert (
        marketer_client.get(admin_url("events_exportrequest_change", theirs.pk)).status_code == 302
    )  # "does not exist": back to the list


def test_new_export_form_goes_through_the_service(shop, marketer_client, export_dir, committing):
    """The form's values become an export request of the user's workspace (origin admin),
    which then runs."""
    page = marketer_client.get(admin_url("events_exportrequest_add"))
    data = form_data(page, "exportrequest_form")
    assert "c_order" in page_text(page)
    data.update(
        start_time_0=["2024-05-01"],
        start_time_1=["00:00:00"],
        end_time_0=["2024-05-02"],
        end_time_1=["00:00:00"],
        definition_ids=["c_order"],
        path=["from-admin"],
    )
    with committing():
        response = marketer_client.post(admin_url("events_exportrequest_add"), data)
    assert response.status_code == 302, page_text(response)[:3000]
    export = ExportRequest.objects.get()
    assert (export.origin, export.workspace, export.definition_ids, export.path) == (
        "admin",
        shop[0],
        ["c_order"],
        "acme/from-admin",
    )
    assert export.status == "completed"


def test_new_export_errors_show_on_the_form(shop, marketer_client):
    """A bad time range is refused by the form, a bad bucket by the service: both appear on
    the field, and nothing is recorded."""
    url = admin_url("events_exportrequest_add")
    data = form_data(marketer_client.get(url), "exportrequest_form")
    data.update(
        start_time_0=["2024-05-02"],
        start_time_1=["00:00:00"],
        end_time_0=["2024-05-01"],
        end_time_1=["00:00:00"],
    )
    response = marketer_client.post(url, data)
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert errors["end_time"] == ["must be after the start time"]
    data.update(end_time_0=["2024-05-03"], bucket=["Bad_Bucket"])
    response = marketer_client.post(url, data)
    assert response.status_code == 200
    assert "S3 bucket name" in response.context["adminform"].form.errors["bucket"][0]
    assert not ExportRequest.objects.exists()


def test_cancel_action(shop, marketer_client):
    export = pending_export(shop[0])
    response = marketer_client.post(
        admin_url("events_exportrequest_changelist"),
        {"action": "cancel_exports", "_selected_action": [export.pk]},
        follow=True,
    )
    export.refresh_from_db()
    assert export.status == "cancelled"
    assert any("cancelled" in m for m in messages_of(response))
    again = marketer_client.post(
        admin_url("events_exportrequest_changelist"),
        {"action": "cancel_exports", "_selected_action": [export.pk]},
        follow=True,
    )
    assert any("already cancelled" in m for m in messages_of(again))


def test_change_page_is_read_only_with_its_files(shop, marketer_client, export_dir):
    export = pending_export(shop[0])
    page = page_text(marketer_client.get(admin_url("events_exportrequest_change", export.pk)))
    assert str(export.request_id) in page
    assert 'name="start_time_0"' not in page  # nothing to edit


def test_scheduled_export_from_the_admin_writes_its_beat_task(
    shop, marketer_client, export_dir, committing
):
    """A marketer sets up "daily at 02:00, the previous day"; the service writes the crontab
    task; "Run now" requests an export that shows under the schedule's last run."""
    page = marketer_client.get(admin_url("events_scheduledexport_add"))
    data = form_data(page, "scheduledexport_form")
    assert (data["hour"], data["minute"], data["window"]) == (["2"], ["0"], ["previous_day"])
    data.update(name=["Nightly"], definition_ids=["c_order"], timezone=["Europe/Berlin"])
    response = marketer_client.post(admin_url("events_scheduledexport_add"), data)
    assert response.status_code == 302, page_text(response)[:3000]
    scheduled = ScheduledExport.objects.get()
    task = PeriodicTask.objects.get(pk=scheduled.periodic_task_id)
    assert (task.crontab.hour, str(task.crontab.timezone), task.enabled) == (
        "2",
        "Europe/Berlin",
        True,
    )

    with committing():
        marketer_client.post(
            admin_url("events_scheduledexport_changelist"),
            {"action": "run_now", "_selected_action": [scheduled.pk]},
        )
    export = scheduled.requests.get()
    assert export.origin == "schedule"
    listing = page_text(marketer_client.get(admin_url("events_scheduledexport_changelist")))
    assert "Completed" in listing
    assert "0 2 * * * (Europe/Berlin)" in listing


def test_scheduled_export_errors_show_on_the_form(shop, marketer_client):
    data = form_data(
        marketer_client.get(admin_url("events_scheduledexport_add")), "scheduledexport_form"
    )
    data.update(name=["Broken"], hour=["25"], role_arn=["not-an-arn"])
    response = marketer_client.post(admin_url("events_scheduledexport_add"), data)
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert set(errors) >= {"hour", "role_arn"}
    assert not ScheduledExport.objects.exists()


def test_marketers_have_the_export_permissions(marketer_client, workspace):
    """The Marketer group may view, request and cancel exports and manage schedules."""
    index = page_text(marketer_client.get(admin_url("index")))
    assert "Exports" in index
    assert "Scheduled exports" in index
