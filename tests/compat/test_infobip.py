"""Infobip People events endpoint (§6) with the seed's request."""

import pytest

from events.models import Event, IngestionLogEntry
from events.services import PropertyInput, definition_create
from people.services import person_create

pytestmark = pytest.mark.django_db
URL = "/peopleevents/1/persons/{person}/definitions/{definition}/events"


@pytest.fixture
def definition(workspace):
    return definition_create(
        workspace=workspace,
        definition_id="c_ticket_closed",
        name="Support ticket closed",
        properties=[PropertyInput("ticketNumber", type="number"), PropertyInput("closedBy")],
    )


@pytest.fixture
def person(workspace):
    return person_create(
        workspace=workspace,
        external_id="CS26_342",
        identifiers={"email": "ann@example.com", "phone": "+385 91 234 5678", "push": "reg-123"},
    )


def post(client, person_id, definition_id, body, **headers):
    return client.post(
        URL.format(person=person_id, definition=definition_id),
        body,
        content_type="application/json",
        **headers,
    )


@pytest.mark.parametrize("person_id", ["ann@example.com", "CS26_342", "+385912345678", "reg-123"])
def test_seed_request_is_stored_for_any_identifier(app_client, definition, person, person_id):
    """The seed's POST with properties stores the event on the person named by any
    identifier (email, external id, phone, push registration id)."""
    response = post(
        app_client,
        person_id,
        "c_ticket_closed",
        {"properties": {"ticketNumber": 1234, "closedBy": "agent-7"}},
    )
    assert response.status_code == 200, response.content
    event = Event.objects.get(pk=response.json()["eventId"])
    assert event.person_id == person.pk
    assert event.properties == {"ticketNumber": 1234, "closedBy": "agent-7"}
    assert event.origin == Event.Origin.INFOBIP


def test_empty_properties_object_is_valid(app_client, definition, person):
    """An event without properties is sent as {"properties": {}} and stored."""
    response = post(app_client, "CS26_342", "c_ticket_closed", {"properties": {}})
    assert response.status_code == 200
    assert Event.objects.filter(person=person).count() == 1


def test_missing_properties_is_an_error_in_infobip_shape(app_client, definition, person):
    """A body without "properties" is refused in Infobip's serviceException shape and logged."""
    response = post(app_client, "CS26_342", "c_ticket_closed", {})
    assert response.status_code == 400
    exception = response.json()["requestError"]["serviceException"]
    assert exception["messageId"] == "BAD_REQUEST"
    assert "properties" in exception["text"]
    assert not Event.objects.exists()
    assert IngestionLogEntry.objects.get().field == "properties"


def test_unknown_person_is_an_error_not_created(app_client, definition, person):
    """Unlike the SDK, the API never creates a person: an unknown identifier is a 404."""
    response = post(app_client, "nobody@example.com", "c_ticket_closed", {"properties": {}})
    assert response.status_code == 404
    assert response.json()["requestError"]["serviceException"]["messageId"] == "NOT_FOUND"
    assert not Event.objects.exists()
    entry = IngestionLogEntry.objects.get()
    assert entry.code == "person_not_found"
    assert entry.payload["personId"] == "nobody@example.com"


def test_quoted_number_is_rejected_naming_the_property(app_client, definition, person):
    """Strings are quoted and numbers are not: "1234" for a number property is an error."""
    response = post(
        app_client, "CS26_342", "c_ticket_closed", {"properties": {"ticketNumber": "1234"}}
    )
    assert response.status_code == 400
    assert "properties.ticketNumber" in response.json()["requestError"]["serviceException"]["text"]


def test_missing_or_wrong_key_is_unauthorized(client, definition, person):
    """Without a valid App key the answer is 401 in Infobip's shape."""
    for headers in ({}, {"HTTP_AUTHORIZATION": "App nope"}):
        response = post(client, "CS26_342", "c_ticket_closed", {"properties": {}}, **headers)
        assert response.status_code == 401
        assert response.json()["requestError"]["serviceException"]["messageId"] == "UNAUTHORIZED"


@pytest.mark.parametrize(
    ("person_id", "body", "named"),
    [
        ("CS26_342", {"properties": {"closedBy": "agent\u00007"}}, "properties.closedBy"),
        ("CS26_342", {"properties": {"closed\u0000By": "agent-7"}}, "properties.closed\u0000By"),
        ("CS26%00", {"properties": {"closedBy": "agent-7"}}, "personId"),
    ],
)
def test_nul_characters_are_refused_naming_the_place(
    app_client, definition, person, person_id, body, named
):
    """PostgreSQL cannot store NUL characters: a value, key or person id holding one is a 400
    naming where it is, never a server error, and nothing is stored."""
    response = post(app_client, person_id, "c_ticket_closed", body)
    assert response.status_code == 400, response.content
    assert named in response.json()["requestError"]["serviceException"]["text"]
    assert not Event.objects.exists()
