"""Fixtures of the export tests: moto's S3 (and STS) HTTP server on loopback, boto3 pointed at
it through the environment as in production, and helpers to read exported files back."""

import gzip
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import orjson
import pytest
from django.db import connection
from django.utils import timezone

from events.exports.models import ExportFile, ExportRequest
from events.ingestion import events_ingest
from events.models import Event, EventDefinition
from tests.factories import DefinitionFactory, PersonFactory, props

ACCOUNT = "123456789012"
T0 = datetime(2024, 5, 1, tzinfo=UTC)


@pytest.fixture(scope="session")
def moto_endpoint():
    """moto's server (S3 and STS) in a thread on a free loopback port, for the whole run."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@dataclass
class Bucket:
    """A bucket on moto's server and the client that reads it back."""

    name: str
    client: object

    def objects(self) -> list[str]:
        answer = self.client.list_objects_v2(Bucket=self.name)
        return sorted(item["Key"] for item in answer.get("Contents", []))

    def lines(self, key: str) -> list[dict]:
        body = self.client.get_object(Bucket=self.name, Key=key)["Body"].read()
        return [orjson.loads(line) for line in gzip.decompress(body).splitlines()]

    def raw(self, key: str) -> bytes:
        return self.client.get_object(Bucket=self.name, Key=key)["Body"].read()

    def pending_uploads(self) -> list[str]:
        answer = self.client.list_multipart_uploads(Bucket=self.name)
        return [u["Key"] for u in answer.get("Uploads", [])]


def s3_environment(endpoint: str) -> dict[str, str]:
    """The environment a server (or worker) uses to reach moto: endpoint and credentials."""
    return {
        "AWS_ENDPOINT_URL_S3": endpoint,
        "AWS_ENDPOINT_URL_STS": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
    }


@pytest.fixture
def s3(moto_endpoint, monkeypatch, settings):
    """S3 switched on, boto3 reaching moto through ``AWS_ENDPOINT_URL_S3``; a fresh bucket."""
    for name, value in s3_environment(moto_endpoint).items():
        monkeypatch.setenv(name, value)
    settings.CDP_EXPORT_S3 = True
    client = boto3.client("s3", region_name="us-east-1")
    name = f"exports-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=name)
    return Bucket(name=name, client=client)


@pytest.fixture
def export_dir(settings, tmp_path) -> Path:
    settings.CDP_EXPORT_DIR = tmp_path / "exports"
    return settings.CDP_EXPORT_DIR


def read_local(path: Path) -> list[dict]:
    return [orjson.loads(line) for line in gzip.decompress(path.read_bytes()).splitlines()]


@pytest.fixture
def shop(workspace):
    """A custom definition with a property named like a mandatory field, and two people."""
    DefinitionFactory(
        workspace=workspace,
        definition_id="c_order",
        properties=props(total="number", personId="text", note="text"),
    )
    ann = PersonFactory(workspace=workspace, external_id="ann")
    bob = PersonFactory(workspace=workspace, external_id=None)
    return workspace, ann, bob


def ingest(workspace, items, origin="api"):
    """Store events through the ingestion service; fail on any rejection."""
    result = events_ingest(workspace=workspace, events=items, origin=origin)
    assert result.rejected == 0, [r.errors for r in result.items if r.errors]
    return result


def window(minutes: int = 60 * 24) -> dict:
    return {"startTime": T0.isoformat(), "endTime": (T0 + timedelta(minutes=minutes)).isoformat()}


@pytest.fixture
def submit(django_capture_on_commit_callbacks):
    """Submit an export and run what its commit queues (in-process Celery); return it."""
    from events.exports.services import export_submit

    def _submit(workspace, spec, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            export = export_submit(workspace=workspace, spec=spec, **kwargs)
        export.refresh_from_db()
        return export

    return _submit


@pytest.fixture
def committing(django_capture_on_commit_callbacks):
    """Run the after-commit callbacks (queued tasks) of what happens inside the block."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def api_client(workspace):
    """A client with a secret key of ``workspace``."""
    from tests.api_helpers import workspace_api

    return workspace_api(workspace).secret


def bulk_events(workspace, count: int, start: datetime, seconds_apart: int = 1) -> None:
    """Insert ``count`` events of ``c_order`` ``seconds_apart`` apart (0: all at ``start``)
    with one set-based statement (the export reads the events table only; aggregates are not
    needed). Events at one time carry external ids ``bulk-<n>``, since a person's events of a
    definition at one time are told apart by them."""
    definition = EventDefinition.objects.get(workspace=workspace, definition_id="c_order")
    person = PersonFactory(workspace=workspace, external_id="bulk")
    external = "bulk-" if seconds_apart == 0 else None
    columns = (
        "workspace_id, definition_id, person_id, external_id, occurred_at, received_at,"
        " target_id, target_name, source, content_name, tags, campaign_code,"
        " campaign_name, summary, properties, origin"
    )
    if connection.vendor == "postgresql":
        sql = (
            f"INSERT INTO events_event ({columns}) SELECT %s, %s, %s, %s::text || g,"
            " %s::timestamptz + g * %s * interval '1 second', now(), '', '', '', '', '', '',"
            " '', '', jsonb_build_object('total', g), 'api'"
            " FROM generate_series(0, %s - 1) g"
        )
        params = [workspace.pk, definition.pk, person.pk, external, start, seconds_apart, count]
    else:
        sql = (
            "WITH RECURSIVE seq(g) AS (SELECT 0 UNION ALL SELECT g + 1 FROM seq"
            " WHERE g + 1 < %s)"
            f" INSERT INTO events_event ({columns}) SELECT %s, %s, %s, %s || g,"
            " strftime('%%Y-%%m-%%d %%H:%%M:%%S', %s, '+' || (g * %s) || ' seconds'),"
            " %s, '', '', '', '', '', '', '', '', json_object('total', g), 'api' FROM seq"
        )
        text = start.strftime("%Y-%m-%d %H:%M:%S")
        params = [
            count,
            workspace.pk,
            definition.pk,
            person.pk,
            external,
            text,
            seconds_apart,
            text,
        ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
    assert Event.objects.filter(workspace=workspace).count() == count


def crash_after_file(export: ExportRequest, done: int) -> ExportFile:
    """Put a completed export back as a worker that died while publishing file ``done + 1``
    leaves it: files after it unrecorded, that one ``writing``, heartbeat long gone; return
    that file's record."""
    files = list(export.files.order_by("seq"))
    interrupted = files[done]
    ExportFile.objects.filter(request=export, seq__gt=done + 1).delete()
    ExportFile.objects.filter(pk=interrupted.pk).update(
        status=ExportFile.Status.WRITING, completed_at=None
    )
    ExportRequest.objects.filter(pk=export.pk).update(
        status=ExportRequest.Status.RUNNING,
        files_written=done,
        events_written=sum(f.events for f in files[:done]),
        finished_at=None,
        run_token=None,
        heartbeat_at=timezone.now() - timedelta(hours=1),
    )
    return interrupted
