"""Downloading export files from the admin: the export's file list is read-only (no "Add
another", no delete) with a download link per finished file; a local file is streamed, an S3
file is a redirect to a presigned URL that moto's server answers with the same bytes; another
workspace's export is out of reach; a file no longer there is said, not a 500.

Real HTTP requests through Django's test client; the exports run in-process (eager Celery).
"""

import gzip
import urllib.request
from datetime import timedelta

import orjson
import pytest
from django.contrib.auth.models import Permission, User

from events.exports.models import ExportFile
from events.exports.services import ExportSpec
from events.models import Event
from tests.events.exports.conftest import T0, ingest
from tests.factories import event
from tests.people.test_admin import admin_url, login, messages_of, page_text

# The export reads committed events (its own connection); permissions are given directly,
# since the flush after a transactional test removes the groups.
pytestmark = pytest.mark.django_db(transaction=True)
EXPORT_PERMISSIONS = ["view_exportrequest", "add_exportrequest", "view_exportfile"]


def export_staff(username: str, workspace) -> User:
    """A staff member of ``workspace`` who may request and read exports."""
    user = User.objects.create_user(username=username, password=f"pw-{username}-1", is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="events", codename__in=EXPORT_PERMISSIONS
        )
    )
    workspace.members.add(user)
    return user


@pytest.fixture
def marketer_client(workspace):
    return login(export_staff("mia", workspace))


def two_orders(workspace, ann, bob) -> None:
    ingest(
        workspace,
        [
            event("c_order", ann, occurred_at=T0 + timedelta(hours=1), properties={"total": 3}),
            event("c_order", bob, occurred_at=T0 + timedelta(hours=2), properties={"total": 4}),
        ],
    )


def download_url(export_file: ExportFile) -> str:
    return admin_url("events_exportrequest_file_download", export_file.request_id, export_file.seq)


def lines(body: bytes) -> list[dict]:
    return [orjson.loads(line) for line in gzip.decompress(body).splitlines()]


def test_local_file_is_downloaded_from_the_change_page(shop, marketer_client, export_dir, submit):
    workspace, ann, bob = shop
    two_orders(workspace, ann, bob)
    export = submit(workspace, ExportSpec(start_time=T0, end_time=T0 + timedelta(days=1)))
    assert export.status == "completed", export.error
    [export_file] = export.files.all()
    page = page_text(marketer_client.get(admin_url("events_exportrequest_change", export.pk)))
    assert f'<a href="{download_url(export_file)}" class="cdp-export-download" download>' in page
    assert 'name="files-MAX_NUM_FORMS" value="0"' in page  # no "Add another" row
    assert 'name="files-0-DELETE"' not in page

    response = marketer_client.get(download_url(export_file))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/gzip"
    assert f'filename="{export_file.name}"' in response["Content-Disposition"]
    rows = lines(b"".join(response.streaming_content))
    assert [r["eventId"] for r in rows] == [
        str(pk)
        for pk in Event.objects.filter(workspace=workspace)
        .order_by("occurred_at")
        .values_list("pk", flat=True)
    ]

    (export_dir / export_file.key).unlink()
    gone = marketer_client.get(download_url(export_file), follow=True)
    assert f"{export_file.name} is no longer in the export folder." in messages_of(gone)
    missing = marketer_client.get(
        admin_url("events_exportrequest_file_download", export.pk, 99), follow=True
    )
    assert "This export has no finished file number 99." in messages_of(missing)


def test_s3_file_is_a_presigned_redirect(shop, marketer_client, s3, submit):
    workspace, ann, bob = shop
    two_orders(workspace, ann, bob)
    spec = ExportSpec(start_time=T0, end_time=T0 + timedelta(days=1), bucket=s3.name)
    export = submit(workspace, spec)
    assert export.status == "completed", export.error
    [export_file] = export.files.all()
    response = marketer_client.get(download_url(export_file))
    assert response.status_code == 302
    url = response["Location"]
    assert "X-Amz-Signature=" in url
    assert "X-Amz-Expires=300" in url
    with urllib.request.urlopen(url) as answer:  # moto's S3, over HTTP
        body = answer.read()
        assert f'filename="{export_file.name}"' in answer.headers["Content-Disposition"]
    assert body == s3.raw(export_file.key)
    assert len(lines(body)) == 2


def test_another_workspaces_file_is_out_of_reach(shop, other_workspace, export_dir, submit):
    workspace, ann, bob = shop
    two_orders(workspace, ann, bob)
    export = submit(workspace, ExportSpec(start_time=T0, end_time=T0 + timedelta(days=1)))
    [export_file] = export.files.all()
    stranger = login(export_staff("otto", other_workspace))
    response = stranger.get(download_url(export_file))
    assert response.status_code == 302
    assert response["Location"] == admin_url("index")
    assert not page_text(stranger.get(response["Location"])).count(export_file.name)
