"""S3 through boto3 against moto's HTTP server (endpoint from the environment, as deployed):
STS AssumeRole on the role ARN with its external id, a missing bucket and an unreachable
endpoint failing the export with the error shown, the server's default bucket; the managed
transfer's create-only uploads (one PutObject or parts) and botocore's retries."""

import os
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from events.exports.destinations import PART_SIZE, FileExistsAtDestination, S3Destination
from events.exports.services import ExportSpec
from tests.events.exports.conftest import ACCOUNT, T0, ingest
from tests.factories import event

pytestmark = pytest.mark.django_db(transaction=True)

ROLE = f"arn:aws:iam::{ACCOUNT}:role/cdp-export"


def spec(bucket: str, **extra) -> ExportSpec:
    from datetime import timedelta

    return ExportSpec(start_time=T0, end_time=T0 + timedelta(days=1), bucket=bucket, **extra)


@pytest.fixture
def one_event(shop):
    workspace, ann, _ = shop
    ingest(workspace, [event("c_order", ann, occurred_at=T0, properties={"total": 1})])
    return workspace


def assumed_roles() -> list:
    """The roles moto's STS handed credentials for (read from the server's own state)."""
    from moto.sts.models import sts_backends

    return list(sts_backends[ACCOUNT]["aws"].assumed_roles)


def test_role_arn_is_assumed_and_its_credentials_write_the_files(one_event, s3, submit):
    """With ``roleArn`` the export asks STS for the role (with the external id and a session
    name naming the request) and uploads with those credentials."""
    before = len(assumed_roles())
    export = submit(one_event, spec(s3.name, role_arn=ROLE, external_id="ext-42", path="in"))
    assert export.status == "completed", export.error
    roles = assumed_roles()[before:]
    assert [(r.role_arn, r.external_id) for r in roles] == [(ROLE, "ext-42")]
    assert roles[0].session_name == f"cdp-export-{export.request_id}"
    [key] = s3.objects()
    assert key.startswith("in/")
    assert len(s3.lines(key)) == 1


def test_missing_bucket_fails_with_the_error_shown(one_event, s3, submit, api_client):
    """A bucket that does not exist is a permanent error: no retry, the request fails with
    S3's message, which the status answer shows."""
    export = submit(one_event, spec("no-such-bucket-here"))
    assert export.status == "failed"
    assert "NoSuchBucket" in export.error
    assert "no-such-bucket-here" in export.error
    state = api_client.get(f"/api/v1/exports/events/{export.request_id}").json()
    assert (state["status"], state["files"], state["eventCount"]) == ("failed", [], 0)
    assert "NoSuchBucket" in state["error"]


def test_unreachable_endpoint_fails_with_the_error(one_event, s3, submit, settings, monkeypatch):
    """An endpoint nobody answers on fails the request (once botocore gave up) with the
    connection error."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9")  # nobody listens there
    settings.CDP_EXPORT_S3_MAX_ATTEMPTS = 2
    export = submit(one_event, spec(s3.name))
    assert export.status == "failed"
    assert "Could not connect to the endpoint URL" in export.error


class SlowDown(BaseHTTPRequestHandler):
    """An S3 endpoint that answers every request 503 SlowDown and counts them."""

    protocol_version = "HTTP/1.1"  # answers ``Expect: 100-continue``, so bodies come at once
    requests: list[str]

    def do_PUT(self):
        self.requests.append(f"{self.command} {self.path}")
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = b"<Error><Code>SlowDown</Code><Message>Reduce your request rate.</Message></Error>"
        self.send_response(503)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_PUT

    def log_message(self, *args):
        pass


@pytest.fixture
def throttling(monkeypatch):
    """boto3's S3 endpoint is a ``SlowDown`` server; yield the requests it got."""
    handler = type("Handler", (SlowDown,), {"requests": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", f"http://127.0.0.1:{server.server_port}")
    yield handler.requests
    server.shutdown()
    server.server_close()


def test_throttling_is_retried_by_botocore_then_fails(one_event, s3, submit, settings, throttling):
    """S3's 503 SlowDown is retried by botocore ``CDP_EXPORT_S3_MAX_ATTEMPTS`` times after the
    first request (botocore's ``max_attempts``), with no second round of whole-file uploads;
    then the request fails with S3's message."""
    settings.CDP_EXPORT_S3_MAX_ATTEMPTS = 2
    export = submit(one_event, spec(s3.name))
    assert export.status == "failed"
    assert "SlowDown" in export.error
    assert "reached max retries: 2" in export.error
    [name] = export.files.values_list("key", flat=True)
    assert throttling == [f"PUT /{s3.name}/{name}"] * 3


def upload(s3, key: str, body: bytes, tag: str) -> int:
    """Publish ``body`` to ``key`` in ``s3``'s bucket as export ``tag`` would."""
    destination = S3Destination(bucket=s3.name, prefix="", tag=tag)
    with tempfile.TemporaryFile() as fileobj:
        fileobj.write(body)
        return destination.publish(fileobj, key)


@pytest.mark.parametrize("size", [1000, PART_SIZE + 2**20], ids=["put", "parts"])
def test_an_upload_never_replaces_an_object(s3, size):
    """A file (one PutObject, or one larger than a part: a multipart upload) is uploaded with
    its bytes counted and the request id as metadata. Another export's upload to that key is
    refused by S3 (``If-None-Match: *``): the object stays as it was and no unfinished
    upload is left. The same export's upload of as many bytes is taken as its own file."""
    ours = os.urandom(size)
    assert upload(s3, "f.json.gz", ours, tag="export-1") == size
    head = s3.client.head_object(Bucket=s3.name, Key="f.json.gz")
    assert head["Metadata"] == {"cdp-export": "export-1"}
    assert head["ContentType"] == "application/gzip"
    assert head["ETag"].endswith('-2"') == (size > PART_SIZE)  # two parts, or one put

    with pytest.raises(FileExistsAtDestination, match=r"f\.json\.gz already exists"):
        upload(s3, "f.json.gz", os.urandom(size), tag="export-2")
    assert s3.raw("f.json.gz") == ours
    assert s3.pending_uploads() == []
    assert upload(s3, "f.json.gz", os.urandom(size), tag="export-1") == size
    assert s3.raw("f.json.gz") == ours


def test_default_bucket_of_the_server_holds_each_workspace_in_its_folder(
    one_event, s3, submit, settings
):
    """Without ``bucket``, ``CDP_EXPORT_BUCKET`` is the destination, under the workspace's
    slug and the path."""
    settings.CDP_EXPORT_BUCKET = s3.name
    export = submit(one_event, spec("", path="nightly"))
    assert (export.status, export.destination, export.bucket) == ("completed", "s3", s3.name)
    [key] = s3.objects()
    assert key.startswith("acme/nightly/")
