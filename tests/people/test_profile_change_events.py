"""Profile-change events (SPEC §6, Infobip seed 000): switched on per workspace, recorded by
the people services on every path — the people API, identify, merge, the admin, a flow's bulk
tagging — and read back through the events API; never recorded while switched off."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from events.models import Event, EventDefinition
from events.services import definition_set_enabled
from people.models import Person
from people.services import people_tags_add
from tests.api_helpers import workspace_api
from tests.factories import DefinitionFactory, PersonFactory
from tests.people.test_admin import admin_url, form_data, login, make_staff

CHANGES = (
    "nameChanged",
    "locationChanged",
    "standardAttributeChanged",
    "tagAdded",
    "tagRemoved",
    "customAttributeChanged",
    "emailAdded",
    "emailRemoved",
    "phoneAdded",
    "phoneRemoved",
    "otherContactChanged",
    "personMerged",
)


def switch_on(workspace, *codes) -> None:
    for code in codes or CHANGES:
        definition_set_enabled(
            workspace=workspace,
            enabled=True,
            definition=EventDefinition.objects.get(workspace=None, definition_id=code),
        )


@pytest.fixture
def api(workspace):
    return workspace_api(workspace)


def events_of(api, person_id, codes=None) -> list[tuple[str, dict]]:
    """The person's events read back through the events API, oldest first."""
    params = {"person": person_id, "ordering": "occurredTime"}
    if codes:
        params["definitionId"] = ",".join(codes)
    response = api.secret.get("/api/v1/events", params)
    assert response.status_code == 200, response.content
    body = response.json()
    rows = body["results"] if isinstance(body, dict) else body
    return sorted(
        ((row["definitionId"], row["properties"]) for row in rows),
        key=lambda pair: (pair[0], sorted(pair[1].items())),
    )


def test_nothing_is_recorded_while_switched_off(api, workspace):
    """The standard profile-change definitions are off by default: changing a profile through
    the API records no event."""
    person = PersonFactory(workspace=workspace)
    assert api.secret.post(f"/api/v1/people/{person.pk}/tags", {"tags": ["vip"]}).status_code == 200
    response = api.secret.patch(
        f"/api/v1/people/{person.pk}", {"attributes": {"firstName": "Ann"}}, format="json"
    )
    assert response.status_code == 200, response.content
    assert events_of(api, person.pk) == []


def test_tags_through_the_api_record_tag_added_and_removed(api, workspace):
    """Adding tags records ``tagAdded`` per new tag (not for a tag the person had); removing
    records ``tagRemoved`` per tag taken away; only the switched-on definitions record."""
    switch_on(workspace, "tagAdded", "tagRemoved")
    person = PersonFactory(workspace=workspace)
    url = f"/api/v1/people/{person.pk}/tags"
    assert api.secret.post(url, {"tags": ["vip", "newsletter"]}, format="json").status_code == 200
    assert api.secret.post(url, {"tags": ["vip"]}, format="json").status_code == 200
    response = api.secret.delete(url, {"tags": ["newsletter", "never-had"]}, format="json")
    assert response.json() == {"tags": ["vip"]}
    assert events_of(api, person.pk) == [
        ("tagAdded", {"tagName": "newsletter"}),
        ("tagAdded", {"tagName": "vip"}),
        ("tagRemoved", {"tagName": "newsletter"}),
    ]


def test_tags_an_event_carries_record_tag_added(api, workspace):
    """An event sent with ``tags`` tags its person: each new tag records ``tagAdded`` (vip
    once, from the API, the event's own vip being no change)."""
    switch_on(workspace, "tagAdded")
    DefinitionFactory(workspace=workspace, definition_id="c_webinar")
    person = PersonFactory(workspace=workspace, external_id="CUST-7")
    api.secret.post(f"/api/v1/people/{person.pk}/tags", {"tags": ["vip"]}, format="json")
    response = api.secret.post(
        "/api/v1/events",
        {
            "definitionId": "c_webinar",
            "person": {"externalId": "CUST-7"},
            "tags": ["vip", "webinar"],
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    assert events_of(api, person.pk, ["tagAdded"]) == [
        ("tagAdded", {"tagName": "vip"}),
        ("tagAdded", {"tagName": "webinar"}),
    ]


def test_seed_segment_country_and_tag_added_matches(api, workspace):
    """The seed's segment example: country attribute and the event "tag added". A person
    tagged through the API is counted; one in the same country never tagged is not."""
    switch_on(workspace, "tagAdded")
    tagged = PersonFactory(workspace=workspace, standard={"country": "HR"})
    PersonFactory(workspace=workspace, standard={"country": "HR"})
    api.secret.post(f"/api/v1/people/{tagged.pk}/tags", {"tags": ["lead"]}, format="json")
    rules = {
        "all": [
            {"attribute": "country", "operator": "equals", "value": "HR"},
            {
                "event": "tagAdded",
                "count": {"operator": ">=", "value": 1},
                "window": {"lastDays": 30},
                "where": [{"property": "tagName", "operator": "equals", "value": "lead"}],
            },
        ]
    }
    response = api.secret.post("/api/v1/segments/preview", {"rules": rules}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["count"] == 1


def test_attribute_updates_record_name_location_other_and_custom_changes(api, workspace):
    """One PATCH changing a name, a city, the birth date and a custom attribute records one
    event of each kind with old and new values; an unchanged value records nothing."""
    switch_on(workspace)
    person = PersonFactory(
        workspace=workspace, standard={"firstName": "Ann", "city": "Split", "country": "HR"}
    )
    created = api.secret.post(
        "/api/v1/attribute-definitions",
        {"key": "plan", "name": "Plan", "type": "text"},
        format="json",
    )
    assert created.status_code == 201, created.content
    response = api.secret.patch(
        f"/api/v1/people/{person.pk}",
        {
            "attributes": {
                "firstName": "Anna",
                "city": "Zagreb",
                "country": "HR",
                "birthDate": "1990-01-31",
            },
            "customAttributes": {"plan": "pro"},
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    assert events_of(api, person.pk) == [
        ("customAttributeChanged", {"attribute": "plan", "newValue": "pro"}),
        ("locationChanged", {"attribute": "city", "newValue": "Zagreb", "oldValue": "Split"}),
        ("nameChanged", {"newValue": "Anna", "oldValue": "Ann"}),
        ("standardAttributeChanged", {"attribute": "birthDate", "newValue": "1990-01-31"}),
    ]


def test_contacts_added_and_removed_through_the_api(api, workspace):
    """Adding an email and a phone records ``emailAdded`` / ``phoneAdded``; removing the phone
    ``phoneRemoved``; an identifier that is not one of the seed's contact types records
    ``otherContactChanged``."""
    switch_on(workspace)
    person = PersonFactory(workspace=workspace)
    url = f"/api/v1/people/{person.pk}/identifiers"
    for body in (
        {"type": "email", "value": "ann@example.com"},
        {"type": "phone", "value": "+385911234567"},
        {"type": "open_id", "value": "wx-1"},
    ):
        assert api.secret.post(url, body, format="json").status_code == 201
    response = api.secret.delete(url, {"type": "phone", "value": "+385911234567"}, format="json")
    assert response.status_code == 200, response.content
    assert events_of(api, person.pk) == [
        ("emailAdded", {"value": "ann@example.com"}),
        ("otherContactChanged", {"type": "open_id", "value": "wx-1"}),
        ("phoneAdded", {"value": "+385911234567"}),
        ("phoneRemoved", {"value": "+385911234567"}),
    ]


def test_identify_records_traits_and_new_contacts(api, workspace):
    """The web SDK's identify (secret key) giving a known person a new email and a new first
    name records ``emailAdded`` and ``nameChanged``."""
    switch_on(workspace)
    person = PersonFactory(workspace=workspace, external_id="CUST-1", standard={"firstName": "Ann"})
    response = api.secret.post(
        "/api/v1/collect",
        {
            "anonymousId": "anon-1",
            "events": [
                {
                    "type": "identify",
                    "identifiers": {"externalId": "CUST-1", "email": "ann@example.com"},
                    "traits": {"firstName": "Anna"},
                    "messageId": "id-1",
                }
            ],
        },
        format="json",
    )
    assert response.status_code in (200, 202), response.content
    assert events_of(api, person.pk, ["emailAdded", "nameChanged"]) == [
        ("emailAdded", {"value": "ann@example.com"}),
        ("nameChanged", {"newValue": "Anna", "oldValue": "Ann"}),
    ]


def test_merge_records_what_the_survivor_gains(api, workspace):
    """Merging through the API gives the survivor the merged person's tags, contacts and the
    blanks it lacked: each gain is recorded on the survivor, with ``personMerged``."""
    switch_on(workspace)
    survivor = PersonFactory(workspace=workspace, standard={"firstName": "Ann"})
    merged = PersonFactory(workspace=workspace, standard={"city": "Split"})
    api.secret.post(f"/api/v1/people/{survivor.pk}/tags", {"tags": ["vip"]}, format="json")
    api.secret.post(f"/api/v1/people/{merged.pk}/tags", {"tags": ["vip", "lead"]}, format="json")
    api.secret.post(
        f"/api/v1/people/{merged.pk}/identifiers",
        {"type": "email", "value": "ann@example.com"},
        format="json",
    )
    response = api.secret.post(
        f"/api/v1/people/{survivor.pk}/merge", {"personId": merged.pk}, format="json"
    )
    assert response.status_code == 200, response.content
    recorded = events_of(api, survivor.pk)
    gained = [e for e in recorded if e[0] != "personMerged"]
    assert gained == [
        ("emailAdded", {"value": "ann@example.com"}),  # the merged person's own, moved over
        ("emailAdded", {"value": "ann@example.com"}),  # gained by the survivor
        ("locationChanged", {"attribute": "city", "newValue": "Split"}),
        ("tagAdded", {"tagName": "lead"}),  # the merged person's own, moved over
        ("tagAdded", {"tagName": "lead"}),  # gained by the survivor
        ("tagAdded", {"tagName": "vip"}),
        ("tagAdded", {"tagName": "vip"}),
    ]
    assert [e[0] for e in recorded].count("personMerged") == 1


def test_admin_edit_records_tag_added_and_name_changed(workspace, api):
    """A marketer editing a person in the admin (a new first name, a new tag row) records
    ``nameChanged`` and ``tagAdded``, read back through the events API."""
    switch_on(workspace, "tagAdded", "nameChanged")
    person = PersonFactory(workspace=workspace, standard={"firstName": "Ann"})
    client = login(make_staff("mia", workspace))
    url = admin_url("people_person_change", person.pk)
    data = form_data(client.get(url), "person_form")
    data["first_name"] = ["Anna"]
    prefix = next(
        k[: -len("-TOTAL_FORMS")] for k in data if k.endswith("TOTAL_FORMS") and "tag" in k
    )
    data[f"{prefix}-TOTAL_FORMS"] = ["1"]
    data[f"{prefix}-0-name"] = ["vip"]
    response = client.post(url, data)
    assert response.status_code == 302, response.content[:2000]
    assert events_of(api, person.pk) == [
        ("nameChanged", {"newValue": "Anna", "oldValue": "Ann"}),
        ("tagAdded", {"tagName": "vip"}),
    ]


def test_bulk_tagging_records_one_batch(workspace):
    """A flow tagging 2,000 people at once records 2,000 ``tagAdded`` events in a bounded
    number of statements (one ingestion batch), not one insert per person."""
    switch_on(workspace, "tagAdded")
    Person.objects.bulk_create(Person(workspace=workspace) for _ in range(2000))
    ids = list(Person.objects.filter(workspace=workspace).values_list("pk", flat=True))
    with CaptureQueriesContext(connection) as queries:
        people_tags_add(workspace_id=workspace.pk, person_ids=ids, names=["winback"])
    assert Event.objects.filter(definition__definition_id="tagAdded").count() == 2000
    inserts = [q for q in queries.captured_queries if q["sql"].startswith("INSERT")]
    # A few multi-row statements (SQLite splits them by its variable limit), not 2,000.
    assert len(inserts) < 100, len(inserts)
