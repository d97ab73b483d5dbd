"""Rate limits per API key (§11): over ``CDP_RATE_LIMIT`` a key gets 429 in the shape of the
endpoint it called; other keys are not affected. Counted in the configured cache (Redis when
``CELERY_BROKER_URL``/``REDIS_URL`` point at one)."""

import base64
import uuid

import pytest
from django.test import Client

from events.models import Event
from tests.api_helpers import workspace_api
from tests.factories import DefinitionFactory, PersonFactory, props

pytestmark = pytest.mark.django_db


@pytest.fixture
def limited(settings, workspace):
    """Three requests an hour per key, counted under a prefix of this test's own."""
    settings.CDP_RATE_LIMIT = "3/h"  # an hour: no window edge inside the test
    settings.RATELIMIT_CACHE_PREFIX = f"cdp:rl:test:{uuid.uuid4().hex}:"
    DefinitionFactory(workspace=workspace, definition_id="c_visit", properties=props(page="text"))
    PersonFactory(workspace=workspace, external_id="ann", identifiers={"email": "a@x.io"})
    return workspace_api(workspace)


def fire(send, times=4):
    return [send().status_code for _ in range(times)]


def test_native_api_answers_429_in_the_native_shape(limited, other_workspace):
    """The fourth request of a key in the window is a 429 ``throttled`` with Retry-After;
    another workspace's key still goes through."""
    client = limited.secret
    codes = fire(lambda: client.get("/api/v1/events"))
    assert codes == [200, 200, 200, 429]
    response = client.get("/api/v1/events")
    assert response.json()["error"]["code"] == "throttled"
    assert response["Retry-After"]
    assert workspace_api(other_workspace).secret.get("/api/v1/events").status_code == 200


def test_each_key_has_its_own_budget(limited):
    """The public key of the same workspace counts separately from the secret key."""
    body = {"definitionId": "c_visit", "person": {"externalId": "ann"}}
    assert fire(lambda: limited.secret.get("/api/v1/definitions")) == [200, 200, 200, 429]
    assert (
        limited.public.post("/api/v1/events", body, content_type="application/json").status_code
        == 201
    )


def test_infobip_answers_429_in_its_shape(limited):
    client = Client(HTTP_AUTHORIZATION=f"App {limited.secret_raw}")
    url = "/peopleevents/1/persons/a@x.io/definitions/c_visit/events"
    codes = fire(lambda: client.post(url, {"properties": {}}, content_type="application/json"))
    assert codes[-1] == 429
    body = client.post(url, {"properties": {}}, content_type="application/json").json()
    assert body["requestError"]["serviceException"]["messageId"] == "TOO_MANY_REQUESTS"


def test_dmhub_answers_429(limited):
    client = Client()
    url = f"/v1/customerevents?access_token={limited.secret_raw}"
    codes = fire(lambda: client.get(url))
    assert codes == [200, 200, 200, 429]
    assert client.get(url).json()["error"]["code"] == "too_many_requests"


def test_quick_audience_answers_429_in_its_shape(limited):
    client = Client(HTTP_AUTHORIZATION=f"App {limited.secret_raw}")
    url = "/quickaudience/v1/user-messages"
    codes = fire(lambda: client.post(url, [], content_type="application/json"))
    assert codes[-1] == 429
    body = client.post(url, [], content_type="application/json").json()
    assert body["success"] is False
    assert body["errorCode"] == "TOO_MANY_REQUESTS"


def test_segment_answers_429_in_its_shape(limited):
    """The Segment-compatible routes share the key's budget (HTTP Basic or ``writeKey`` in the
    body); the 429 is Segment's ``{"code", "message"}``, which its clients retry."""
    basic = "Basic " + base64.b64encode(f"{limited.secret_raw}:".encode()).decode()
    client = Client(HTTP_AUTHORIZATION=basic)
    body = {"userId": "ann", "event": "c_visit", "properties": {"page": "/"}}
    codes = fire(lambda: client.post("/v1/track", body, content_type="application/json"))
    assert codes == [200, 200, 200, 429]
    response = Client().post(
        "/v1/batch", {"writeKey": limited.secret_raw, "batch": []}, content_type="application/json"
    )
    assert response.status_code == 429
    assert response.json() == {
        "code": "too_many_requests",
        "message": "rate limit of this write key exceeded; retry later",
    }
    assert response["Retry-After"]
    assert Event.objects.count() == 3
    assert (
        Client(HTTP_AUTHORIZATION=f"App {limited.public_raw}")
        .post("/v1/track", body, content_type="application/json")
        .status_code
        == 200
    )


def test_switched_off(limited, settings):
    """An empty ``CDP_RATE_LIMIT`` switches limiting off."""
    settings.CDP_RATE_LIMIT = ""
    assert fire(lambda: limited.secret.get("/api/v1/events"), 6) == [200] * 6
