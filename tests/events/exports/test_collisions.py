"""Export files never overwrite each other or anything else (SPEC §9): files sharing their
first and last milliseconds are numbered ``-2``, ``-3`` …; a file already under a name is left
alone and fails the export; an export whose files do not add up to its events fails. Local
folder and moto's S3 over HTTP."""

import gzip
from datetime import timedelta

import pytest
from django.db import transaction

from events.exports.services import ExportSpec, export_submit, exports_requeue_stale
from people.erasure import person_erase
from tests.events.exports.conftest import (
    T0,
    bulk_events,
    crash_after_file,
    ingest,
    read_local,
)
from tests.factories import event

pytestmark = pytest.mark.django_db(transaction=True)

EVENTS = 10_800
LINES = 2_000
SAME_MS = "20240501000000000"  # T0 as file names write it


class Local:
    """The workspace's folder under ``CDP_EXPORT_DIR`` (no bucket in the request)."""

    bucket = ""

    def __init__(self, root):
        self.folder = root / "acme"

    def names(self) -> list[str]:
        if not self.folder.exists():
            return []
        return sorted(p.name for p in self.folder.iterdir() if not p.name.startswith("."))

    def lines(self, name: str) -> list[dict]:
        return read_local(self.folder / name)

    def raw(self, name: str) -> bytes:
        return (self.folder / name).read_bytes()

    def put(self, name: str, body: bytes) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / name).write_bytes(body)

    def remove(self, name: str) -> None:
        (self.folder / name).unlink()


class Bucket:
    """A bucket on moto's server named in the request (keys are the names: no path)."""

    def __init__(self, s3):
        self.s3 = s3
        self.bucket = s3.name

    def names(self) -> list[str]:
        return self.s3.objects()

    def lines(self, name: str) -> list[dict]:
        return self.s3.lines(name)

    def raw(self, name: str) -> bytes:
        return self.s3.raw(name)

    def put(self, name: str, body: bytes) -> None:
        self.s3.client.put_object(Bucket=self.bucket, Key=name, Body=body)

    def remove(self, name: str) -> None:
        self.s3.client.delete_object(Bucket=self.bucket, Key=name)


@pytest.fixture(params=["local", "s3"])
def destination(request, settings, tmp_path):
    if request.param == "local":
        settings.CDP_EXPORT_DIR = tmp_path / "exports"
        return Local(settings.CDP_EXPORT_DIR)
    return Bucket(request.getfixturevalue("s3"))


def spec(destination) -> ExportSpec:
    return ExportSpec(start_time=T0, end_time=T0 + timedelta(days=1), bucket=destination.bucket)


def name(export, number: int = 1) -> str:
    suffix = f"-{number}" if number > 1 else ""
    return f"{export.request_id}-events-{SAME_MS}-{SAME_MS}{suffix}.json.gz"


@pytest.fixture
def same_millisecond(shop, settings):
    """10,800 events stored at one millisecond, files of 2,000 lines."""
    settings.CDP_EXPORT_FILE_LINES = LINES
    bulk_events(shop[0], EVENTS, T0, seconds_apart=0)
    return shop[0]


def test_files_sharing_a_millisecond_are_numbered_and_all_kept(
    same_millisecond, destination, submit, api_client
):
    """10,800 events in one millisecond with 2,000 lines a file: six files named
    ``…-<t>-<t>.json.gz``, ``…-2.json.gz`` … ``…-6.json.gz``, all at the destination with
    10,800 distinct events; the status lists them and says completed."""
    export = submit(same_millisecond, spec(destination))
    assert export.status == "completed", export.error
    assert (export.files_written, export.events_written) == (6, EVENTS)
    expected = [name(export, number) for number in range(1, 7)]
    assert destination.names() == sorted(expected)
    files = [destination.lines(n) for n in expected]
    assert [len(lines) for lines in files] == [LINES] * 5 + [800]
    ids = [int(line["eventId"]) for lines in files for line in lines]
    assert len(set(ids)) == EVENTS
    assert ids == sorted(ids)  # (occurred time, id) order across the numbered files
    state = api_client.get(f"/api/v1/exports/events/{export.request_id}").json()
    assert (state["status"], state["files"], state["eventCount"]) == ("completed", expected, EVENTS)
    assert list(export.files.values_list("events", flat=True)) == [LINES] * 5 + [800]


def test_a_resumed_run_goes_on_numbering(same_millisecond, destination, submit):
    """A run interrupted while publishing the third of six same-millisecond files resumes
    with ``-3`` and goes on to ``-6``; files the dead run had already put in place with the
    same bytes are taken as its own, not written over."""
    export = submit(same_millisecond, spec(destination))
    original = {n: destination.raw(n) for n in destination.names()}
    crash_after_file(export, done=2)

    assert exports_requeue_stale() == 1
    export.refresh_from_db()
    assert (export.status, export.attempts) == ("completed", 2), export.error
    assert list(export.files.values_list("name", flat=True)) == [
        name(export, number) for number in range(1, 7)
    ]
    assert {n: destination.raw(n) for n in destination.names()} == original


def test_an_existing_file_under_the_first_name_is_not_overwritten(shop, destination):
    """A file already under the name the export's first file gets (put there before the run)
    stays as it was; the export fails saying the name exists and was not overwritten."""
    workspace, ann, _ = shop
    ingest(workspace, [event("c_order", ann, occurred_at=T0, properties={"total": 1})])
    theirs = gzip.compress(b'{"someone": "else"}\n')
    with transaction.atomic():  # the run is queued on commit: the file is there before it
        export = export_submit(workspace=workspace, spec=spec(destination))
        destination.put(name(export), theirs)

    export.refresh_from_db()
    assert export.status == "failed"
    assert f"{name(export)} already exists" in export.error
    assert "not overwritten" in export.error
    assert destination.names() == [name(export)]
    assert destination.raw(name(export)) == theirs
    assert list(export.files.filter(status="done")) == []


def test_a_resumed_run_keeps_a_foreign_file_under_its_unfinished_name(
    shop, destination, submit, settings
):
    """The run taking over an interrupted file removes that file only when it is the dead
    run's own; another object under the name is kept and the export fails naming it."""
    settings.CDP_EXPORT_FILE_LINES = 10
    workspace, ann, _ = shop
    ingest(
        workspace, [event("c_order", ann, occurred_at=T0 + timedelta(minutes=i)) for i in range(25)]
    )
    export = submit(workspace, spec(destination))
    assert export.files_written == 3
    third = export.files.get(seq=3).name
    interrupted = crash_after_file(export, done=1)
    destination.remove(third)  # the third file never started
    theirs = gzip.compress(b'{"someone": "else"}\n')
    destination.remove(interrupted.name)
    destination.put(interrupted.name, theirs)

    exports_requeue_stale()
    export.refresh_from_db()
    assert export.status == "failed"
    assert f"{interrupted.name} already exists" in export.error
    assert destination.raw(interrupted.name) == theirs


def test_events_erased_while_an_export_ran_fail_it(shop, export_dir, submit, settings):
    """A worker dies after two files; a person is erased; the run that takes over writes the
    rest without that person, so the files hold events the range no longer does: the export
    fails saying how many lines the files hold and how many events exist, instead of
    reporting completed."""
    settings.CDP_EXPORT_FILE_LINES = 10
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
    export = submit(workspace, spec(Local(export_dir)))
    assert (export.status, export.files_written) == ("completed", 4)
    folder = Local(export_dir)
    last = export.files.get(seq=4).name
    crash_after_file(export, done=2)
    folder.remove(last)  # the fourth file never started
    person_erase(person=bob, requested_by="dpo@example.com", reason="test")

    exports_requeue_stale()
    export.refresh_from_db()
    assert export.status == "failed"
    # Files 1-2 hold 20 lines (10 of bob's); the rest of ann's are 7 more; ann has 17.
    assert export.error.startswith(
        "export_incomplete: the 3 files hold 27 lines but 17 events of the export's range exist now"
    ), export.error
    assert sum(len(folder.lines(n)) for n in folder.names()) == 27
