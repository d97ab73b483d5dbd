"""Each answer body the fast ``*_json`` functions build is the one its ``*OutSerializer``
describes in the OpenAPI schema: the same keys, and values valid for each field (type,
nullability). The serializers are the description; these tests keep the two from drifting."""

import pytest

from events.api.schema import (
    DefinitionOutSerializer,
    EventBatchOutSerializer,
    EventOutSerializer,
    IngestAnswerSerializer,
)
from people.api.views import PersonOutSerializer
from tests.api_helpers import assert_described, undescribed, workspace_api

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(workspace):
    return workspace_api(workspace)


@pytest.fixture
def definition(api):
    body = {
        "definitionId": "c_booked",
        "name": "Booked",
        "properties": [{"key": "room", "type": "text", "required": False}],
        "defaultScore": 5,
        "lifecycleStage": "purchase",
    }
    response = api.secret.post("/api/v1/definitions", body)
    assert response.status_code == 201, response.content
    return response.json()


def test_a_definition_is_answered_as_described(api, definition):
    """A definition, created and read back (one with every optional value, the built-in
    catalogue's with none), has the keys and value types its serializer documents."""
    assert_described(DefinitionOutSerializer, definition)
    listed = api.secret.get("/api/v1/definitions?limit=500").json()
    for body in listed["results"] if isinstance(listed, dict) else listed:
        assert_described(DefinitionOutSerializer, body)


def test_an_event_is_answered_as_described(api, definition):
    """An event with every optional field and one with none read back as documented."""
    full = {
        "definitionId": "c_booked",
        "person": {"externalId": "ann"},
        "occurredTime": "2026-03-01T10:00:00Z",
        "properties": {"room": "12"},
        "externalId": "b-1",
        "sessionId": "s-1",
        "targetId": "t-1",
        "targetName": "Room 12",
        "source": "web",
        "contentName": "offer",
        "score": 3,
        "tags": "vip",
        "campaign": "spring",
        "campaignName": "Spring",
        "summary": "booked",
    }
    bare = {"definitionId": "c_booked", "person": {"externalId": "bob"}}
    for body in (full, bare):
        created = api.secret.post("/api/v1/events", body)
        assert created.status_code == 201, created.content
        answer = api.secret.get(f"/api/v1/events/{created.json()['eventId']}").json()
        assert_described(EventOutSerializer, answer)
    for answer in api.secret.get("/api/v1/events").json()["results"]:
        assert_described(EventOutSerializer, answer)


def test_ingest_answers_are_as_described(api, definition):
    """The answers of one event and of a batch (accepted, duplicate, rejected; secret and
    public keys) are as documented."""
    for prefix, client in (("s", api.secret), ("p", api.public)):
        body = {"definitionId": "c_booked", "person": {"externalId": "ann"}, "externalId": prefix}
        assert_described(IngestAnswerSerializer, client.post("/api/v1/events", body).json())
        again = {**body, "externalId": f"{prefix}-2"}
        batch = {"events": [body, again, {"definitionId": "c_booked"}]}
        answer = client.post("/api/v1/events/batch", batch).json()
        assert [r["status"] for r in answer["results"]] == ["duplicate", "accepted", "rejected"]
        assert_described(EventBatchOutSerializer, answer)


def test_a_person_is_answered_as_described(api):
    """A person with identifiers, attributes and tags, and one with nothing but an external
    id, read back as documented."""
    plan = {"key": "plan", "name": "Plan", "type": "text"}
    assert api.secret.post("/api/v1/attribute-definitions", plan).status_code == 201
    full = {
        "externalId": "ann",
        "identifiers": {"email": "ann@example.com"},
        "attributes": {"firstName": "Ann", "birthDate": "1990-05-01"},
        "customAttributes": {"plan": "gold"},
        "tags": ["vip"],
    }
    for body in (full, {"externalId": "bob"}):
        created = api.secret.post("/api/v1/people", body)
        assert created.status_code == 201, created.content
        assert_described(PersonOutSerializer, created.json())
        answer = api.secret.get(f"/api/v1/people/{created.json()['id']}").json()
        assert_described(PersonOutSerializer, answer)


def test_drift_is_found():
    """The check names a key the serializer does not document and a documented one missing."""
    assert undescribed(PersonOutSerializer(), {"id": 1, "extra": True}) == [
        ".extra: not described",
        ".externalId: described as required, missing",
        ".identifiers: described as required, missing",
        ".attributes: described as required, missing",
        ".customAttributes: described as required, missing",
        ".tags: described as required, missing",
        ".lifecycleStage: described as required, missing",
        ".score: described as required, missing",
        ".firstSeenTime: described as required, missing",
        ".lastSeenTime: described as required, missing",
        ".createdTime: described as required, missing",
        ".modifiedTime: described as required, missing",
    ]
