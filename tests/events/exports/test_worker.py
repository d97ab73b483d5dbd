"""Exports run by real Celery workers (PostgreSQL and Redis; skipped on SQLite): a worker
killed with SIGKILL mid-export is replaced and the export completes with every event once,
in files named as §9 says, with no partial file or unfinished upload left; a running export
cancelled through the API stops between files.

Workers are ``celery -A cdp worker`` processes on the test database and the broker of
``CELERY_BROKER_URL`` (a Redis database of the test run's own), reaching moto's S3 through
``AWS_ENDPOINT_URL_S3``. Files hold 200 lines here, so the export has many files to stop in.
"""

import math
import re
import time
from datetime import timedelta

import pytest

from events.exports.models import ExportRequest
from events.exports.services import ExportSpec, export_submit, exports_requeue_stale
from tests.api_helpers import workspace_api
from tests.events.exports.conftest import T0, bulk_events, s3_environment
from tests.worker import skip_without_postgres_and_redis, wait_for, workers_for

pytestmark = [pytest.mark.postgres, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

EVENTS = 30_000
LINES = 200
STALE_SECONDS = 2
NAME_RE = re.compile(r"-events-(\d{17})-(\d{17})\.json\.gz$")


@pytest.fixture(autouse=True)
def _needs_postgres_and_redis():
    skip_without_postgres_and_redis()


@pytest.fixture
def workers(moto_endpoint, tmp_path):
    with workers_for(
        tmp_path,
        **s3_environment(moto_endpoint),
        CDP_EXPORT_S3="1",
        CDP_EXPORT_FILE_LINES=str(LINES),
        CDP_EXPORT_STALE_SECONDS=str(STALE_SECONDS),
    ) as pool:
        yield pool


def state(export: ExportRequest) -> ExportRequest:
    export.refresh_from_db()
    return export


def check_files(export: ExportRequest, s3) -> list[dict]:
    """The bucket holds exactly the export's finished files, each whole and named after its
    first and last events, and no unfinished upload; return all lines."""
    names = list(export.files.filter(status="done").order_by("seq").values_list("key", flat=True))
    assert s3.objects() == sorted(names)
    assert s3.pending_uploads() == []
    lines = []
    for key in names:
        file_lines = s3.lines(key)  # whole gzip, or this raises
        assert 0 < len(file_lines) <= LINES
        first, last = NAME_RE.search(key).groups()
        assert first == re.sub(r"\D", "", file_lines[0]["eventTime"][:23])
        assert last == re.sub(r"\D", "", file_lines[-1]["eventTime"][:23])
        lines += file_lines
    return lines


def test_worker_killed_mid_export_is_replaced_without_duplicate_or_partial_files(
    shop, s3, broker, workers, settings
):
    """SIGKILL to the worker between files; once its heartbeat is stale the sweep queues
    the export again, a new worker resumes after the last finished file, and the bucket ends
    with every event exactly once."""
    settings.CDP_EXPORT_STALE_SECONDS = STALE_SECONDS
    workspace = shop[0]
    bulk_events(workspace, EVENTS, T0)
    first = workers.start("first")
    export = export_submit(
        workspace=workspace,
        spec=ExportSpec(
            start_time=T0, end_time=T0 + timedelta(days=2), bucket=s3.name, path="killed"
        ),
    )
    wait_for(lambda: state(export).files_written >= 3, 120, "three files")
    workers.kill(first)
    killed = state(export)
    assert killed.status == "running"
    assert killed.files_written < math.ceil(EVENTS / LINES)

    time.sleep(STALE_SECONDS + 0.5)
    assert exports_requeue_stale() == 1
    workers.start("second")
    done = wait_for(lambda: state(export).status == "completed" and export, 180, "completion")

    assert done.attempts == 2
    assert (done.files_written, done.events_written) == (math.ceil(EVENTS / LINES), EVENTS)
    lines = check_files(done, s3)
    assert sorted(line["total"] for line in lines) == list(range(EVENTS))
    assert len({line["eventId"] for line in lines}) == EVENTS


def test_cancelled_through_the_api_the_worker_stops_between_files(shop, s3, broker, workers):
    """``DELETE`` while a worker runs the export: the answer says it is still running (the
    cancel is asynchronous); the worker stops after its current file and the status says
    cancelled, with the files written until then complete and listed."""
    workspace = shop[0]
    bulk_events(workspace, EVENTS, T0)
    workers.start("canceller")
    api = workspace_api(workspace).secret
    answer = api.post(
        "/api/v1/exports/events",
        {
            "startTime": T0.isoformat(),
            "endTime": (T0 + timedelta(days=2)).isoformat(),
            "bucket": s3.name,
            "path": "cancelled",
        },
    ).json()
    export = ExportRequest.objects.get(request_id=answer["requestId"])
    wait_for(lambda: state(export).files_written >= 2, 120, "two files")
    cancel = api.delete(f"/api/v1/exports/events/{answer['requestId']}")
    assert cancel.status_code == 202
    wait_for(lambda: state(export).status == "cancelled", 60, "the worker to stop")
    final = api.get(f"/api/v1/exports/events/{answer['requestId']}").json()
    assert final["status"] == "cancelled"
    assert 2 <= len(final["files"]) < math.ceil(EVENTS / LINES)
    lines = check_files(export, s3)
    assert len(lines) == final["eventCount"]
    assert final["progress"] < 100
