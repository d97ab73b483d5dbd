"""Native events API (§6): one event, batches with per-item answers, list filters, retrieve,
and key scoping (public keys ingest only; a key never reaches another workspace)."""

import gzip

import orjson
import pytest

from events.models import Event, EventAggregate
from tests.api_helpers import assert_error, key_client, workspace_api
from tests.factories import DefinitionFactory, PersonFactory, props

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(workspace):
    return workspace_api(workspace)


@pytest.fixture
def purchase(workspace):
    return DefinitionFactory(
        workspace=workspace,
        definition_id="c_purchase",
        properties=props(total="number!", orderId="text"),
    )


@pytest.fixture
def ann(workspace):
    return PersonFactory(
        workspace=workspace, external_id="ann", identifiers={"email": "ann@example.com"}
    )


def one(definition_id="c_purchase", person=None, **fields):
    person = {"externalId": "ann"} if person is None else person
    body = {
        "definitionId": definition_id,
        "person": person,
        "occurredTime": "2024-05-01T12:00:00Z",
        "properties": {"total": 12.5},
    }
    body.update(fields)
    return body


def test_post_one_event_is_stored_and_answered_201(api, purchase, ann):
    """A valid event answers 201 with its id and the person it was recorded on."""
    response = api.secret.post("/api/v1/events", one(externalId="o-1", sessionId="s-1"))
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "accepted"
    assert body["personId"] == ann.pk
    event = Event.objects.get(pk=body["eventId"])
    assert event.definition == purchase
    assert event.properties == {"total": 12.5}
    assert event.session_id == "s-1"
    assert event.origin == Event.Origin.API


def test_public_key_may_ingest(api, purchase, ann):
    """Public (browser) keys may send events."""
    response = api.public.post("/api/v1/events", one())
    assert response.status_code == 201, response.content


def test_repeat_with_external_id_answers_duplicate_with_existing_id(api, purchase, ann):
    """Retries are safe: the second send answers 200 duplicate with the first event's id."""
    first = api.secret.post("/api/v1/events", one(externalId="o-9")).json()
    second = api.secret.post("/api/v1/events", one(externalId="o-9"))
    assert second.status_code == 200
    assert second.json()["status"] == "duplicate"
    assert second.json()["eventId"] == first["eventId"]
    assert Event.objects.count() == 1


def test_person_by_identifier_is_created_when_unknown(api, purchase):
    """A person named only by identifiers is created (SDK-style callers)."""
    response = api.secret.post(
        "/api/v1/events", one(person={"identifiers": {"email": "Bob@Example.com"}})
    )
    assert response.status_code == 201
    event = Event.objects.get()
    assert event.person.identifiers.get().value == "bob@example.com"


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        (one(definitionId="c_nope"), "definitionId", "unknown_definition"),
        (one(properties={"total": "12"}), "properties.total", None),
        (one(properties={}), "properties.total", "required"),
        (one(properties={"total": 1, "colour": "red"}), "properties.colour", "unknown_property"),
        (one(person={"nickname": "x"}), "person.nickname", "invalid"),
        (one(person={}), "person", "required"),
        (one(occurredTime="yesterday"), "occurredTime", "invalid"),
        (one(bogus=1), "bogus", "invalid"),
    ],
)
def test_invalid_event_answers_400_naming_the_field(api, purchase, ann, body, field, code):
    """Each problem is a 400 in the native shape naming the field; nothing is stored."""
    assert_error(api.secret.post("/api/v1/events", body), 400, code=code, field=field)
    assert Event.objects.count() == 0


def test_malformed_bodies(api, purchase):
    """Bodies that are not JSON, empty or not an object get a JSON 400."""
    client = api.secret
    assert_error(
        client.post("/api/v1/events", "{", content_type="application/json"),
        400,
        code="invalid_json",
        field="body",
    )
    assert_error(
        client.post("/api/v1/events", "", content_type="application/json"), 400, field="body"
    )
    assert_error(client.post("/api/v1/events", [1, 2]), 400, field="event")


def test_gzip_body_is_accepted(api, purchase, ann):
    """``Content-Encoding: gzip`` bodies are decoded."""
    raw = gzip.compress(orjson.dumps(one()))
    response = api.secret.post(
        "/api/v1/events", raw, content_type="application/json", headers={"Content-Encoding": "gzip"}
    )
    assert response.status_code == 201, response.content


def test_authentication_errors(api, purchase):
    """No key or an unknown key is a 401 in the native shape."""
    assert_error(key_client(None).post("/api/v1/events", one()), 401)
    assert_error(key_client("sk_bogus").post("/api/v1/events", one()), 401)


@pytest.mark.parametrize("scheme", ["App", "Bearer"])
def test_key_schemes(api, purchase, ann, scheme):
    """``App`` (Infobip) and ``Bearer`` headers both carry the key."""
    response = key_client(api.secret_raw, scheme).post("/api/v1/events", one())
    assert response.status_code == 201


def test_batch_answers_per_item(api, purchase, ann):
    """A batch answers accepted / duplicate / rejected per item, in order, with counts."""
    events = [
        one(externalId="b-1"),
        one(externalId="b-1"),
        one(properties={"total": "x"}),
        "not an object",
        one(externalId="b-2", occurredTime="2024-05-02T00:00:00Z"),
    ]
    response = api.secret.post("/api/v1/events/batch", {"events": events})
    assert response.status_code == 200, response.content
    body = response.json()
    statuses = [r["status"] for r in body["results"]]
    assert statuses == ["accepted", "duplicate", "rejected", "rejected", "accepted"]
    assert [r["index"] for r in body["results"]] == [0, 1, 2, 3, 4]
    assert body["results"][1]["eventId"] == body["results"][0]["eventId"]
    assert body["results"][2]["errors"][0]["field"] == "properties.total"
    assert body["results"][3]["errors"][0]["field"] == "event"
    assert (body["accepted"], body["duplicates"], body["rejected"]) == (2, 1, 2)
    assert Event.objects.count() == 2
    aggregate = EventAggregate.objects.get(person=ann, definition=purchase)
    assert aggregate.count == 2


def test_batch_limit_and_shape(api, purchase, settings):
    """More than the batch limit, or no ``events`` list, is a 400 naming ``events``."""
    settings.CDP_MAX_BATCH_SIZE = 3
    assert_error(
        api.secret.post("/api/v1/events/batch", {"events": [one()] * 4}),
        400,
        code="batch_too_large",
        field="events",
    )
    assert_error(api.secret.post("/api/v1/events/batch", {"items": []}), 400, field="events")
    assert Event.objects.count() == 0


def test_body_size_limit(api, purchase, settings):
    """A body over the ingest limit is refused with 413 before it is parsed."""
    big = {"events": [one(summary="x" * 1000)] * 7000}
    assert_error(api.secret.post("/api/v1/events/batch", big), 413, code="body_too_large")


@pytest.fixture
def stored(api, purchase, ann, workspace):
    bob = PersonFactory(workspace=workspace, external_id="bob")
    signup = DefinitionFactory(workspace=workspace, definition_id="c_signup")
    rows = [
        one(externalId="e1", occurredTime="2023-12-31T23:00:00Z"),
        one(externalId="e2", occurredTime="2024-01-02T00:00:00Z"),
        one(
            "c_signup",
            person={"externalId": "bob"},
            properties={},
            externalId="e3",
            occurredTime="2024-03-01T00:00:00Z",
        ),
        one(person={"externalId": "bob"}, externalId="e4", occurredTime="2024-06-01T00:00:00Z"),
    ]
    result = api.secret.post("/api/v1/events/batch", {"events": rows}).json()
    assert result["accepted"] == 4
    return {"ann": ann, "bob": bob, "signup": signup}


def ids(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [e["externalId"] for e in response.json()["results"]]


def test_list_is_newest_first_and_filters(api, stored):
    """The list filters by person, definitions, occurred range and year; newest first."""
    client = api.secret
    assert ids(client.get("/api/v1/events")) == ["e4", "e3", "e2", "e1"]
    assert ids(client.get(f"/api/v1/events?person={stored['bob'].pk}")) == ["e4", "e3"]
    assert ids(client.get("/api/v1/events?definitionId=c_signup")) == ["e3"]
    assert ids(client.get("/api/v1/events?definitionId=c_signup,c_purchase")) == [
        "e4",
        "e3",
        "e2",
        "e1",
    ]
    assert ids(client.get("/api/v1/events?year=2024")) == ["e4", "e3", "e2"]
    assert ids(
        client.get(
            "/api/v1/events?occurredFrom=2024-01-01T00:00:00Z&occurredTo=2024-03-01T00:00:00Z"
        )
    ) == ["e2"]
    assert ids(client.get("/api/v1/events?ordering=occurredTime")) == ["e1", "e2", "e3", "e4"]


def test_list_paginates_with_a_cursor(api, stored):
    """``limit`` pages through every event exactly once."""
    seen, url = [], "/api/v1/events?limit=3"
    while url:
        body = api.secret.get(url).json()
        seen += [e["externalId"] for e in body["results"]]
        url = body["next"]
    assert seen == ["e4", "e3", "e2", "e1"]


def test_list_rejects_bad_filters(api, stored):
    """A filter value of the wrong type is a 400 naming the filter."""
    assert_error(api.secret.get("/api/v1/events?year=twenty"), 400, field="year")
    assert_error(api.secret.get("/api/v1/events?occurredFrom=soon"), 400, field="occurredFrom")


def test_retrieve_one_event(api, stored):
    """``GET /api/v1/events/{id}`` answers the event in camelCase."""
    event = Event.objects.get(external_id="e3")
    body = api.secret.get(f"/api/v1/events/{event.pk}").json()
    assert body["definitionId"] == "c_signup"
    assert body["personId"] == stored["bob"].pk
    assert body["occurredTime"] == "2024-03-01T00:00:00Z"


def test_public_key_cannot_read(api, stored):
    """A public key is refused on reads (403)."""
    assert_error(api.public.get("/api/v1/events"), 403)
    event = Event.objects.first()
    assert_error(api.public.get(f"/api/v1/events/{event.pk}"), 403)


def test_other_workspace_sees_nothing(api, stored, other_workspace):
    """A key of another workspace lists none of these events and cannot retrieve one."""
    other = workspace_api(other_workspace)
    assert ids(other.secret.get("/api/v1/events")) == []
    event = Event.objects.first()
    assert other.secret.get(f"/api/v1/events/{event.pk}").status_code == 404


def test_other_workspace_cannot_write_to_our_people(api, stored, other_workspace):
    """A person id of workspace A named with workspace B's key is not found, not written."""
    other = workspace_api(other_workspace)
    DefinitionFactory(
        workspace=other_workspace, definition_id="c_purchase", properties=props(total="number!")
    )
    response = other.secret.post("/api/v1/events", one(person={"id": stored["ann"].pk}))
    assert_error(response, 400, field="person.id")
    assert Event.objects.filter(workspace=other_workspace).count() == 0
