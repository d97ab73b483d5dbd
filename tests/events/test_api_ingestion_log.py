"""The native ingest routes keep what they refuse in the ingestion log (§5), like the
compatible endpoints: refusals before the ingestion service (no definitionId, an item that is
not an object, unreadable JSON, a wrong top-level shape, too many events) and the service's
own rejections, each with its reason, the payload as sent (bounded) and the endpoint."""

import orjson
import pytest

from events.ingestion_log import MAX_PAYLOAD_BYTES
from events.models import Event, IngestionLogEntry
from tests.api_helpers import assert_error, workspace_api
from tests.factories import DefinitionFactory, PersonFactory, props

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(workspace):
    return workspace_api(workspace)


@pytest.fixture
def purchase(workspace):
    DefinitionFactory(
        workspace=workspace, definition_id="c_purchase", properties=props(total="number!")
    )
    PersonFactory(workspace=workspace, external_id="ann")


def good(**fields):
    return {
        "definitionId": "c_purchase",
        "person": {"externalId": "ann"},
        "occurredTime": "2024-05-01T12:00:00Z",
        "properties": {"total": 1},
        **fields,
    }


def entries(workspace):
    return list(IngestionLogEntry.objects.filter(workspace=workspace).order_by("id"))


def test_one_event_without_definition_id_is_logged(api, purchase):
    body = {"person": {"externalId": "ann"}, "properties": {"total": 1}}
    assert_error(api.secret.post("/api/v1/events", body), 400, "required", "definitionId")
    [entry] = entries(api.workspace)
    assert (entry.endpoint, entry.code, entry.field) == ("api", "required", "definitionId")
    assert entry.payload == body


def test_one_event_rejected_by_the_service_keeps_the_payload_as_sent(api, purchase):
    """A rejection inside the ingestion service is logged once, with the caller's JSON
    (not the mapped input)."""
    body = good(properties={"total": "many"})
    assert_error(api.secret.post("/api/v1/events", body), 400, field="properties.total")
    [entry] = entries(api.workspace)
    assert entry.field == "properties.total"
    assert entry.payload == body


@pytest.mark.parametrize("url", ["/api/v1/events", "/api/v1/events/batch"])
def test_unreadable_json_is_logged_with_the_raw_beginning(api, purchase, url):
    response = api.secret.post(url, b'{"definitionId": "c_purch', content_type="application/json")
    assert_error(response, 400, "invalid_json", "body")
    [entry] = entries(api.workspace)
    assert (entry.endpoint, entry.code, entry.field) == ("api", "invalid_json", "body")
    assert entry.payload == {"raw": '{"definitionId": "c_purch'}


@pytest.mark.parametrize("body", [[good()], {"items": [good()]}, {"events": "x"}, None])
def test_batch_with_a_wrong_top_level_shape_is_logged(api, purchase, body):
    response = api.secret.post(
        "/api/v1/events/batch", orjson.dumps(body), content_type="application/json"
    )
    assert_error(response, 400, "required", "events")
    [entry] = entries(api.workspace)
    assert (entry.endpoint, entry.field) == ("api", "events")
    assert entry.payload == (body if body is not None else {"body": None})


def test_batch_items_refused_before_the_service_are_logged_each(api, purchase):
    """A non-object item and an item without definitionId are each logged with their own
    payload; the valid item is stored; a service rejection is logged too."""
    items = [
        good(externalId="e-1"),
        "not an object",
        {"person": {"externalId": "ann"}},
        good(externalId="e-2", properties={"total": "many"}),
    ]
    response = api.secret.post("/api/v1/events/batch", {"events": items})
    assert response.status_code == 200
    assert [r["status"] for r in response.json()["results"]] == [
        "accepted",
        "rejected",
        "rejected",
        "rejected",
    ]
    assert Event.objects.count() == 1
    logged = {(e.code, e.field): e.payload for e in entries(api.workspace)}
    assert logged == {
        ("invalid_type", "event"): "not an object",
        ("required", "definitionId"): items[2],
        ("invalid_type", "properties.total"): items[3],
    }
    assert all(e.endpoint == "api" for e in entries(api.workspace))


def test_oversized_batch_is_logged_with_a_truncated_payload(api, purchase, settings):
    """Over CDP_MAX_BATCH_SIZE events: refused, logged, and the payload kept only as its
    beginning when it is huge."""
    settings.CDP_MAX_BATCH_SIZE = 3
    items = [good(externalId=f"e-{i}", summary="x" * 1000) for i in range(100)]
    assert len(orjson.dumps(items)) > MAX_PAYLOAD_BYTES
    assert_error(
        api.secret.post("/api/v1/events/batch", {"events": items}), 400, "batch_too_large", "events"
    )
    [entry] = entries(api.workspace)
    assert entry.code == "batch_too_large"
    assert set(entry.payload) == {"truncated"}
    assert len(entry.payload["truncated"]) <= MAX_PAYLOAD_BYTES
    assert not Event.objects.exists()


def test_unauthenticated_calls_are_not_logged(api, purchase):
    """Without a key there is no workspace to log into: nothing is kept."""
    from tests.api_helpers import key_client

    response = key_client(None).post("/api/v1/events", {"person": {}})
    assert response.status_code == 401
    assert not IngestionLogEntry.objects.exists()
