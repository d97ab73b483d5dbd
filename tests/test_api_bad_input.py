"""Bad input to the native API always gets a JSON error in the native shape, never a 500.

Each case is a malformed or impossible request that once slipped past validation somewhere
(NUL bytes, impossible dates, wrong JSON types, out-of-range paging).
"""

import pytest

from tests.api_helpers import workspace_api
from tests.factories import DefinitionFactory, PersonFactory, props

pytestmark = pytest.mark.django_db

CASES = [
    ("post", "/api/v1/definitions", {"definitionId": "c_x", "name": "a\u0000"}),
    ("post", "/api/v1/definitions", {"definitionId": "c_x", "name": "x", "defaultScore": 10**12}),
    ("post", "/api/v1/definitions", {"definitionId": "c_x", "name": "x", "properties": "no"}),
    ("post", "/api/v1/definitions", {"definitionId": "c_x", "name": "x", "properties": [5]}),
    (
        "post",
        "/api/v1/definitions",
        {"definitionId": "c_x", "name": "x", "properties": [{"key": "a\u0000"}]},
    ),
    ("post", "/api/v1/definitions", {"definitionId": "c_x", "name": "x", "lifecycleStage": "nope"}),
    ("post", "/api/v1/definitions", {"definitionId": "c_x", "name": "x", "channel": "a\u0000"}),
    ("post", "/api/v1/definitions", [1]),
    ("post", "/api/v1/definitions", "x"),
    (
        "patch",
        "/api/v1/definitions/c_p",
        {"properties": [{"key": "total", "type": "number", "name": "\u0000"}]},
    ),
    ("patch", "/api/v1/definitions/c_p", {"properties": [{"key": "orderId"}]}),
    ("patch", "/api/v1/definitions/pageView", {"name": "x"}),
    ("patch", "/api/v1/definitions/pageView", {"enabled": None}),
    ("delete", "/api/v1/definitions/pageView", None),
    ("post", "/api/v1/people", {"externalId": "a\u0000"}),
    ("post", "/api/v1/people", {"identifiers": {"email": "x"}}),
    ("post", "/api/v1/people", {"identifiers": {"bogus": "x"}}),
    ("post", "/api/v1/people", {"identifiers": "x"}),
    ("post", "/api/v1/people", {"attributes": {"birthDate": "x"}}),
    ("post", "/api/v1/people", {"attributes": {"birthDate": 5}}),
    ("post", "/api/v1/people", {"attributes": {"birthDate": "2024-02-30"}}),
    ("post", "/api/v1/people", {"attributes": {"firstName": "x" * 5000}}),
    ("post", "/api/v1/people", {"attributes": {"gender": 5}}),
    ("post", "/api/v1/people", {"attributes": {"gender": ["a"]}}),
    ("post", "/api/v1/people", {"customAttributes": {"nope": 1}}),
    ("post", "/api/v1/people", {"tags": ["a\u0000"]}),
    ("post", "/api/v1/people", {"externalId": "ann"}),
    ("post", "/api/v1/people", {"identifiers": {"externalId": "ann"}}),
    ("post", "/api/v1/people", {"identifiers": {"externalId": "x"}, "externalId": "y"}),
    ("post", "/api/v1/people", None),
    ("patch", "/api/v1/people/{pid}", {"attributes": {"birthDate": None}}),
    ("patch", "/api/v1/people/{pid}", {"attributes": {"gender": None}}),
    ("patch", "/api/v1/people/{pid}", {"customAttributes": None}),
    ("patch", "/api/v1/people/{pid}", [1]),
    ("post", "/api/v1/people/{pid}/identifiers", {"type": "email", "value": "ann@example.com"}),
    ("post", "/api/v1/people/{pid}/identifiers", {"type": "bogus", "value": "x"}),
    ("post", "/api/v1/people/{pid}/identifiers", {"type": "anonymous_id", "value": "a\u0000"}),
    ("delete", "/api/v1/people/{pid}/identifiers", {"type": "email", "value": "zz@example.com"}),
    ("delete", "/api/v1/people/{pid}/identifiers", None),
    ("post", "/api/v1/people/{pid}/tags", {"tags": []}),
    ("post", "/api/v1/people/{pid}/tags", {"tags": "x"}),
    ("delete", "/api/v1/people/{pid}/tags", {"tags": ["a\u0000"]}),
    ("post", "/api/v1/attribute-definitions", {"key": "k", "name": "n", "type": "bogus"}),
    ("post", "/api/v1/attribute-definitions", {"key": "k k", "name": "n", "type": "text"}),
    ("post", "/api/v1/events/batch", {"events": [1, None, "x", []]}),
    ("post", "/api/v1/events/batch", {"events": {}}),
    ("post", "/api/v1/events/batch", [1]),
    ("post", "/api/v1/events", {"definitionId": "c_p", "person": {"externalId": "a\u0000"}}),
    (
        "post",
        "/api/v1/events",
        {"definitionId": "c_p", "person": {"externalId": "a"}, "properties": {"total": "\u0000"}},
    ),
    (
        "post",
        "/api/v1/events/batch",
        {"events": [{"definitionId": "c_p\u0000", "person": {"externalId": "a"}}]},
    ),
    ("get", "/api/v1/events?occurredFrom=0001-01-01T00:00:00%2B05:00", None),
    ("get", "/api/v1/events?occurredFrom=9999-12-31T23:59:59-05:00", None),
    ("get", "/api/v1/events?limit=0", None),
    ("get", "/api/v1/events?limit=-1", None),
    ("get", "/api/v1/events?limit=100000", None),
    ("get", "/api/v1/people?limit=100000000000000000000000", None),
    ("get", "/api/v1/people?offset=100000000000000000000000", None),
    ("get", "/api/v1/people/lookup?type=phone&value=abc", None),
    ("get", "/api/v1/people/lookup?type=bogus&value=abc", None),
]


@pytest.mark.parametrize(("method", "url", "body"), CASES, ids=[str(i) for i in range(len(CASES))])
def test_bad_input_gets_a_native_json_error(workspace, method, url, body):
    """The answer is a 2xx/4xx; every 4xx carries ``{"error": {code, message, field}}``."""
    api = workspace_api(workspace)
    DefinitionFactory(
        workspace=workspace, definition_id="c_p", properties=props(total="number!", orderId="text")
    )
    ann = PersonFactory(
        workspace=workspace, external_id="ann", identifiers={"email": "ann@example.com"}
    )
    url = url.replace("{pid}", str(ann.pk))
    client = api.secret
    response = client.get(url) if method == "get" else getattr(client, method)(url, body)
    assert response.status_code < 500, response.content[:300]
    if response.status_code >= 400:
        error = response.json()["error"]
        assert error["code"]
        assert error["message"]


COMPAT_CASES = [
    ("/v1/customerevents?access_token={key}", b"null"),
    ("/v1/customerevents?access_token={key}", b""),
    ("/quickaudience/v1/event-messages", b"[null, null]"),
    ("/quickaudience/v1/user-messages", b"[null, null]"),
    ("/quickaudience/v1/event-messages", b"null"),
    ("/peopleevents/1/persons/0/definitions/appLaunch/events", b""),
    ("/peopleevents/1/persons/0/definitions/appLaunch/events", b"null"),
]


@pytest.mark.parametrize(
    ("url", "body"), COMPAT_CASES, ids=[str(i) for i in range(len(COMPAT_CASES))]
)
def test_compatible_endpoints_refuse_bad_bodies_without_500(workspace, url, body):
    """Empty and null bodies (schemathesis found these) are refused in the endpoint's shape
    and kept in the ingestion log."""
    from events.models import IngestionLogEntry

    api = workspace_api(workspace)
    response = api.secret.post(
        url.replace("{key}", api.secret_raw), body, content_type="application/json"
    )
    assert response.status_code < 500, response.content[:300]
    body = response.json()
    # Quick Audience answers HTTP 200 with success false, as the system it stands in for does.
    assert response.status_code >= 400 or body["success"] is False
    assert IngestionLogEntry.objects.filter(workspace=workspace).exists()


def test_collect_refuses_an_object_as_type(workspace):
    """A JSON object where the item type should be is a 400 naming the field (schemathesis
    found it answering 500)."""
    api = workspace_api(workspace)
    response = api.public.post(
        "/api/v1/collect", {"anonymousId": "a-1", "events": [{"type": {}, "event": "x"}]}
    )
    assert response.status_code < 500, response.content[:300]
    body = response.json()
    problems = body.get("errors") or [body.get("error")]
    assert any("type" in (p.get("field") or "") for p in problems), body


def test_nul_characters_and_impossible_partitions_are_refused_without_500(workspace):
    """NUL characters reach the ingestion log without breaking it (PostgreSQL's jsonb cannot
    store them) and a partition year beyond 9999 is a 400 (schemathesis found both)."""
    from events.models import IngestionLogEntry

    api = workspace_api(workspace)
    response = api.secret.post(
        "/quickaudience/v1/event-messages", b"\x00", content_type="application/json"
    )
    assert response.status_code < 500
    response = api.secret.post(
        "/peopleevents/1/persons/x/definitions/appLaunch/events",
        {"bogus\u0000": 1, "properties": {}},
    )
    assert 400 <= response.status_code < 500
    assert IngestionLogEntry.objects.filter(workspace=workspace).count() == 2
    response = api.secret.get(
        f"/v1/customerevents/1?access_token={api.secret_raw}&partition=106088"
    )
    assert response.status_code == 400


OVERSIZED_ROUTES = [
    ("post", "/api/v1/people"),
    ("post", "/api/v1/definitions"),
    ("patch", "/api/v1/definitions/c_p"),
    ("post", "/api/v1/attribute-definitions"),
]


@pytest.mark.parametrize(
    ("method", "url"), OVERSIZED_ROUTES, ids=[f"{m} {u}" for m, u in OVERSIZED_ROUTES]
)
def test_oversized_body_on_a_non_ingest_route_is_a_json_413(workspace, method, url):
    """A 4 MiB body over DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB) on a route that is not an
    ingest route answers 413 in the native error shape, not Django's HTML 400."""
    from django.conf import settings

    from tests.api_helpers import assert_error

    DefinitionFactory(workspace=workspace, definition_id="c_p", properties=props(total="number"))
    api = workspace_api(workspace)
    body = b'{"externalId": "' + b"x" * (4 * 1024 * 1024) + b'"}'
    assert len(body) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    response = getattr(api.secret, method)(url, body, content_type="application/json")
    assert response["Content-Type"] == "application/json"
    assert_error(response, 413, "body_too_large", "body")
