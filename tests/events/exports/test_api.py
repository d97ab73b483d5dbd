"""Exports API (§9 fixed contract): submit, status, cancel, definitions; every bad input a 400
naming the field; secret keys only; one workspace never sees another's exports."""

import uuid

import pytest

from events.exports.models import ExportRequest
from tests.api_helpers import assert_error, workspace_api
from tests.events.exports.conftest import ingest, read_local, window
from tests.factories import event, unreachable_broker

pytestmark = pytest.mark.django_db
# Exports that read events run on PostgreSQL over a connection of their own, which sees only
# committed rows: such tests commit.
committed = pytest.mark.django_db(transaction=True)

URL = "/api/v1/exports/events"


@pytest.fixture
def api(workspace):
    return workspace_api(workspace)


@committed
def test_submit_and_status_with_the_fixed_contract(shop, api, export_dir):
    """``POST`` answers 201 ``{"requestId", "status"}``; ``GET`` answers the state in the
    contract's names. Without a bucket and with no S3 configured the files go to the local
    export folder, under the workspace's slug and the path, with the same names as on S3."""
    workspace, ann, _ = shop
    ingest(
        workspace,
        [event("c_order", ann, occurred_at="2024-05-01T10:00:00Z", properties={"total": 3})],
    )
    response = api.secret.post(URL, {**window(), "definitionIds": ["c_order"], "path": "daily"})
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == {"requestId", "status"}
    state = api.secret.get(f"{URL}/{body['requestId']}").json()
    assert set(state) == {"requestId", "status", "files", "eventCount", "progress", "error"}
    assert (state["status"], state["eventCount"], state["progress"], state["error"]) == (
        "completed",
        1,
        100,
        None,
    )
    [name] = state["files"]
    assert name.startswith(f"{body['requestId']}-events-20240501100000000-")
    path = export_dir / "acme" / "daily" / name
    assert read_local(path)[0]["externalPersonId"] == "ann"
    assert not list((export_dir / "acme" / "daily").glob(".*"))  # no temporary files left


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"endTime": "2024-05-02T00:00:00Z"}, "startTime"),
        ({"startTime": "2024-05-02T00:00:00Z"}, "endTime"),
        ({"startTime": "yesterday", "endTime": "2024-05-02T00:00:00Z"}, "startTime"),
        ({"startTime": "2024-05-02T00:00:00Z", "endTime": "2024-05-01T00:00:00Z"}, "endTime"),
        ({**window(), "definitionIds": ["c_order", "c_nope"]}, "definitionIds[1]"),
        ({**window(), "definitionIds": "c_order"}, "definitionIds"),
        ({**window(), "bucket": "Not_A_Bucket"}, "bucket"),
        ({**window(), "bucket": "ab"}, "bucket"),
        ({**window(), "region": "eu central"}, "region"),
        ({**window(), "path": "../../etc"}, "path"),
        ({**window(), "path": "a//b"}, "path"),
        ({**window(), "roleArn": "arn:aws:iam::1:user/x"}, "roleArn"),
        ({**window(), "externalId": "ext-1"}, "externalId"),
        ({**window(), "enrichWithMomentsInfo": "maybe"}, "enrichWithMomentsInfo"),
        ({**window(), "startTime": "0001-01-01T00:00:00+05:00"}, "startTime"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(shop, api, payload, field):
    """Each mistake answers 400 in the native error shape with the field at fault, and
    nothing is recorded."""
    assert_error(api.secret.post(URL, payload), 400, field=field)
    assert not ExportRequest.objects.exists()


def test_body_that_is_not_an_object_is_a_400(api):
    assert_error(api.secret.post(URL, [1, 2]), 400)
    assert_error(api.secret.post(URL, "null"), 400)


@committed
def test_a_bucket_without_s3_on_the_server_fails_as_the_exports_error(shop, api, settings):
    """With S3 not enabled on the server, a request naming a bucket is accepted and fails at
    once with an explanation (no credentials are looked for, nothing reaches the network)."""
    settings.CDP_EXPORT_S3 = False
    response = api.secret.post(
        URL, {**window(), "bucket": "my-bucket", "roleArn": "arn:aws:iam::123456789012:role/x"}
    )
    assert response.status_code == 201
    state = api.secret.get(f"{URL}/{response.json()['requestId']}").json()
    assert state["status"] == "failed"
    assert state["error"].startswith("s3_not_configured: S3 exports are not enabled")


@committed
def test_public_keys_and_other_workspaces_see_nothing(shop, api, other_workspace, export_dir):
    """Public keys are refused; another workspace's key gets 404 for this request id, as does
    a malformed or unknown id."""
    request_id = api.secret.post(URL, window()).json()["requestId"]
    assert api.public.post(URL, window()).status_code == 403
    assert api.public.get(f"{URL}/{request_id}").status_code == 403
    other = workspace_api(other_workspace)
    assert_error(other.secret.get(f"{URL}/{request_id}"), 404, "not_found", "requestId")
    assert_error(other.secret.delete(f"{URL}/{request_id}"), 404, "not_found", "requestId")
    assert_error(api.secret.get(f"{URL}/not-a-uuid"), 404, "not_found", "requestId")
    assert_error(api.secret.get(f"{URL}/{uuid.uuid4()}"), 404, "not_found", "requestId")


@committed
def test_cancel_a_pending_export_at_once_and_a_finished_one_is_409(shop, api, export_dir):
    """``DELETE`` on a pending export cancels it (202 with the state); its queued run then
    does nothing. On a finished export it answers 409 naming the status."""
    from events.exports.runner import export_run

    with unreachable_broker():  # the run cannot be queued: the export stays pending
        response = api.secret.post(URL, window())
    request_id = response.json()["requestId"]
    cancelled = api.secret.delete(f"{URL}/{request_id}")
    assert cancelled.status_code == 202
    assert cancelled.json()["status"] == "cancelled"
    export = export_run(export=ExportRequest.objects.get(request_id=request_id))
    assert (export.status, export.files_written) == ("cancelled", 0)
    error = assert_error(api.secret.delete(f"{URL}/{request_id}"), 409, "not_cancellable")
    assert "cancelled" in error["message"]


def test_definitions_available_for_export(shop, api):
    """The workspace's own and the built-in definitions, in the definitions API's shape."""
    body = api.secret.get("/api/v1/exports/definitions").json()
    codes = {d["definitionId"] for d in body}
    assert {"c_order", "pageView", "itemViewed"} <= codes
    order = next(d for d in body if d["definitionId"] == "c_order")
    assert [p["key"] for p in order["properties"]] == ["total", "personId", "note"]
