"""An interrupted export resumes after its last finished file without duplicate or partial
files; stale runs are queued again by the sweep, cancelled or given up; two deliveries of the
run never write at once. (A real worker killed mid-export: ``test_worker.py``.)"""

from datetime import timedelta

import pytest
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from events.exports.models import ExportRequest
from events.exports.runner import export_run
from events.exports.services import ExportSpec, exports_requeue_stale
from tests.events.exports.conftest import T0, crash_after_file, ingest
from tests.factories import event

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def small_files(settings):
    settings.CDP_EXPORT_FILE_LINES = 10


@pytest.fixture
def events_35(shop):
    workspace, ann, bob = shop
    ingest(
        workspace,
        [
            event(
                "c_order",
                ann if i % 2 else bob,
                occurred_at=T0 + timedelta(minutes=i),
                properties={"total": i},
            )
            for i in range(35)
        ],
    )
    return workspace


def spec(bucket="") -> ExportSpec:
    return ExportSpec(start_time=T0, end_time=T0 + timedelta(days=1), bucket=bucket)


def test_a_run_interrupted_mid_file_resumes_after_the_last_finished_file(
    events_35, s3, submit, small_files
):
    """The run that takes over removes what the dead one left for its file (a completed
    object and an unfinished multipart upload), writes that file and the rest again under
    the same names with the same content, and the counters match the files."""
    export = submit(events_35, spec(s3.name))
    assert export.files_written == 4
    original = {key: s3.raw(key) for key in s3.objects()}
    interrupted = crash_after_file(export, done=2)
    s3.client.delete_object(Bucket=s3.name, Key=s3.objects()[-1])  # file 4 never started
    upload = s3.client.create_multipart_upload(Bucket=s3.name, Key=interrupted.key)
    s3.client.upload_part(
        Bucket=s3.name,
        Key=interrupted.key,
        PartNumber=1,
        UploadId=upload["UploadId"],
        Body=b"partial",
    )

    assert exports_requeue_stale() == 1  # in-process Celery runs it at once
    export.refresh_from_db()
    assert (export.status, export.attempts) == ("completed", 2)
    assert (export.files_written, export.events_written) == (4, 35)
    assert {key: s3.raw(key) for key in s3.objects()} == original
    assert s3.pending_uploads() == []
    assert list(export.files.values_list("seq", "status")) == [(i, "done") for i in (1, 2, 3, 4)]
    totals = [line["total"] for key in s3.objects() for line in s3.lines(key)]
    assert sorted(totals) == list(range(35))


def test_local_folder_resume_removes_the_partial_file(events_35, export_dir, submit, small_files):
    """In the local folder a dead run's hidden ``.part`` file is removed and the interrupted
    file written again; nothing else is left behind."""
    export = submit(events_35, spec())
    folder = export_dir / "acme"
    names = sorted(p.name for p in folder.iterdir())
    interrupted = crash_after_file(export, done=1)
    (folder / f".{export.request_id}-leftover.part").write_bytes(b"half a file")
    (folder / interrupted.name).unlink()

    exports_requeue_stale()
    export.refresh_from_db()
    assert export.status == "completed"
    assert sorted(p.name for p in folder.iterdir()) == names


def test_a_live_run_is_not_taken_over(events_35, export_dir, submit, small_files):
    """A second delivery of the task while a worker is running the export (fresh heartbeat)
    does nothing, and the sweep leaves that export alone."""
    export = submit(events_35, spec())
    ExportRequest.objects.filter(pk=export.pk).update(
        status=ExportRequest.Status.RUNNING, heartbeat_at=timezone.now()
    )
    again = export_run(export=export)
    assert (again.status, again.attempts) == ("running", 1)
    assert exports_requeue_stale() == 0


def test_sweep_cancels_or_gives_up_stale_exports(events_35, export_dir, submit, settings):
    """A stale export asked to cancel is marked cancelled; one interrupted
    ``CDP_EXPORT_MAX_RUNS`` times fails with the reason."""
    old = timezone.now() - timedelta(hours=1)
    cancelling = submit(events_35, spec())
    given_up = submit(events_35, spec())
    ExportRequest.objects.filter(pk=cancelling.pk).update(
        status="running", cancel_requested=True, heartbeat_at=old
    )
    ExportRequest.objects.filter(pk=given_up.pk).update(
        status="running", attempts=settings.CDP_EXPORT_MAX_RUNS, heartbeat_at=old
    )
    assert exports_requeue_stale() == 0
    cancelling.refresh_from_db()
    given_up.refresh_from_db()
    assert cancelling.status == "cancelled"
    assert given_up.status == "failed"
    assert given_up.error.startswith("export_interrupted: the export was interrupted 5 times")


@pytest.mark.django_db  # before any flush: the rows data migrations installed are there
def test_stale_sweep_is_installed_in_beat():
    """The migration installs the sweep as a periodic task of django-celery-beat."""
    task = PeriodicTask.objects.get(name="exports-requeue-stale")
    assert task.task == "events.exports.tasks.exports_requeue_stale_task"
    assert task.enabled
    assert task.interval.every == 1
    assert task.interval.period == "minutes"
