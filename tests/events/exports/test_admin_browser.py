"""A marketer exports events by clicks alone, in a real browser (Debian's headless Chromium,
driven by Playwright, against pytest-django's live server): the new export form, Save, the
export's page, the file's Download link; the downloaded file's lines are the events. The run
happens in-process (eager Celery) when the request commits."""

import gzip
import os
from datetime import timedelta

import orjson
import pytest
from django.contrib.auth.models import Permission, User

from events.models import Event
from tests.events.exports.conftest import T0, ingest
from tests.factories import event

SCREENSHOT = os.environ.get("CDP_EXPORT_SCREENSHOT")  # a path: keep a picture of the page
pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),  # the live server's requests commit
]


@pytest.fixture
def marketer(workspace) -> User:
    """A staff member of the workspace who may request and read exports (permissions given
    directly: a flush after an earlier transactional test removes the groups)."""
    user = User.objects.create_user(username="mia", password="pw-mia-123", is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="events",
            codename__in=["view_exportrequest", "add_exportrequest", "view_exportfile"],
        )
    )
    workspace.members.add(user)
    return user


def test_marketer_requests_an_export_and_downloads_its_file(
    browser, live_server, shop, marketer, export_dir, tmp_path
):
    workspace, ann, bob = shop
    ingest(
        workspace,
        [
            event("c_order", ann, occurred_at=T0 + timedelta(hours=h), properties={"total": h})
            for h in (1, 2, 3)
        ]
        + [event("c_order", bob, occurred_at=T0 + timedelta(days=2))],  # outside the range
    )
    page = browser.new_context(
        viewport={"width": 1280, "height": 1000}, accept_downloads=True
    ).new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{live_server.url}/admin/login/?next=/admin/events/exportrequest/")
    page.fill("#id_username", "mia")
    page.fill("#id_password", "pw-mia-123")
    page.click("input[type=submit]")
    page.click("a.addlink")  # "Add export"
    page.fill("#id_start_time_0", "2024-05-01")
    page.fill("#id_start_time_1", "00:00:00")
    page.fill("#id_end_time_0", "2024-05-02")
    page.fill("#id_end_time_1", "00:00:00")
    page.select_option("#id_definition_ids", "c_order")
    assert page.locator("#files-group").count() == 0  # a new request has no file list
    page.click("input[name=_save]")
    page.wait_for_selector("#result_list")
    page.click("#result_list tbody tr th a")
    page.wait_for_selector("#files-group")
    assert not any(add.is_visible() for add in page.get_by_text("Add another").all())
    assert page.locator("#files-group input[type=checkbox]").count() == 0  # no delete boxes
    link = page.locator("#files-group a.cdp-export-download")
    assert link.count() == 1
    if SCREENSHOT:
        page.screenshot(path=SCREENSHOT, full_page=True)
    with page.expect_download() as info:
        link.click()
    download = info.value
    target = tmp_path / download.suggested_filename
    download.save_as(target)
    assert target.name.endswith(".json.gz")
    rows = [orjson.loads(line) for line in gzip.decompress(target.read_bytes()).splitlines()]
    expected = Event.objects.filter(
        workspace=workspace, occurred_at__lt=T0 + timedelta(days=1)
    ).order_by("occurred_at", "pk")
    assert [(r["eventId"], r["total"]) for r in rows] == [
        (str(e.pk), e.properties["total"]) for e in expected
    ]
    assert len(rows) == 3
    assert not errors
