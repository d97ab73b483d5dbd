"""S3 through boto3 against moto's HTTP server (endpoint from the environment, as deployed):
STS AssumeRole on the role ARN with its external id, a missing bucket and an unreachable
endpoint failing the export with the error shown, the server's default bucket."""

import pytest

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


def test_unreachable_endpoint_is_retried_then_fails(one_event, s3, submit, settings, monkeypatch):
    """Connection errors are retried (botocore, then the whole file) and the request then
    fails naming the attempts and the error."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9")  # nobody listens there
    settings.CDP_EXPORT_S3_MAX_ATTEMPTS = 2
    settings.CDP_EXPORT_UPLOAD_ATTEMPTS = 3
    export = submit(one_event, spec(s3.name))
    assert export.status == "failed"
    assert "after 3 attempts" in export.error
    assert "Could not connect to the endpoint URL" in export.error


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
