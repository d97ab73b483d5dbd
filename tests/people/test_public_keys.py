"""Public keys never merge, move or relabel a known person (SPEC §2), through every endpoint
that takes one: the native events API, the web SDK's collect, Segment's identify, alias and
group, Quick Audience's identity report; their answers carry no internal ids; Infobip and
DM Hub, which would tell whether a customer exists, refuse them. Secret keys merge as before.
"""

import base64

import orjson
import pytest
from django.test import Client

from events.models import Event, IngestionLogEntry
from events.services import PropertyInput, definition_create
from people.models import Identifier, Person
from people.services import identifier_add, person_create
from tests.api_helpers import assert_error, workspace_api

pytestmark = pytest.mark.django_db

VICTIM_EMAIL = "victim@example.com"


@pytest.fixture
def api(workspace):
    return workspace_api(workspace)


@pytest.fixture
def purchase(workspace):
    return definition_create(
        workspace=workspace,
        definition_id="c_purchase",
        name="Purchase",
        properties=[PropertyInput("total", type="number")],
    )


@pytest.fixture
def victim(api, purchase):
    """A customer the shop's server created with a secret key, with one event."""
    response = api.secret.post(
        "/api/v1/events",
        event(
            {"externalId": "victim-1", "identifiers": {"email": VICTIM_EMAIL}},
            externalId="victim-order",
        ),
    )
    assert response.status_code == 201, response.content
    return Person.objects.get(external_id="victim-1")


def event(person: dict, **fields) -> dict:
    return {
        "definitionId": "c_purchase",
        "person": person,
        "properties": {"total": 1},
        "occurredTime": "2024-05-01T12:00:00Z",
        **fields,
    }


def anonymous_event(api, event_id: str, **identifiers):
    """Send one purchase naming its person by ``identifiers`` only, with the public key."""
    return api.public.post(
        "/api/v1/events", event({"identifiers": identifiers}, externalId=event_id)
    )


def identifiers(person: Person) -> set[tuple[str, str]]:
    return set(Identifier.objects.filter(person=person).values_list("type", "value"))


def events_of(person: Person) -> set[str]:
    return set(Event.objects.filter(person=person).values_list("external_id", flat=True))


def assert_untouched(victim: Person, *, events=frozenset({"victim-order"})) -> None:
    stored = Person.objects.get(pk=victim.pk)
    assert stored.external_id == "victim-1"
    assert identifiers(stored) == {("email", VICTIM_EMAIL)}
    assert events_of(stored) == set(events)


def known_person_log() -> list[IngestionLogEntry]:
    return list(IngestionLogEntry.objects.filter(code="known_person").order_by("pk"))


# The attack of issue 16 through the native API -------------------------------------------


@pytest.mark.parametrize("attacker_exists", [True, False], ids=["attacker-known", "new"])
def test_a_public_key_cannot_take_over_a_known_person_by_their_email(api, victim, attacker_exists):
    """``person: {externalId: "attacker", identifiers: {email: <victim's>}}`` with a public key
    leaves the victim untouched (external id, identifiers, events); the attacker's event is
    stored on the attacker's side, the answer has no ids, and the ignored email is logged."""
    if attacker_exists:
        assert (
            api.public.post(
                "/api/v1/events", event({"externalId": "attacker"}, externalId="a-0")
            ).status_code
            == 201
        )
    response = api.public.post(
        "/api/v1/events",
        event({"externalId": "attacker", "identifiers": {"email": VICTIM_EMAIL}}, externalId="a-1"),
    )

    assert response.status_code == 201, response.content
    assert response.json() == {"status": "accepted"}
    assert_untouched(victim)
    attacker = Person.objects.get(external_id="attacker")
    assert events_of(attacker) == ({"a-0", "a-1"} if attacker_exists else {"a-1"})
    assert identifiers(attacker) == set()
    assert Person.objects.count() == 2
    [entry] = known_person_log()
    assert (entry.field, entry.endpoint) == ("person.identifiers.email", "api")
    assert "known person" in entry.message
    assert entry.payload["person"]["identifiers"] == {"email": VICTIM_EMAIL}


def test_a_secret_key_still_merges_the_two_people(api, victim):
    """The same call with a secret key is trusted: the victim's person is merged into the one
    the external id names, identifiers and events with them."""
    api.secret.post("/api/v1/events", event({"externalId": "other"}, externalId="o-0"))
    response = api.secret.post(
        "/api/v1/events",
        event({"externalId": "other", "identifiers": {"email": VICTIM_EMAIL}}, externalId="o-1"),
    )
    assert response.status_code == 201, response.content
    assert set(response.json()) == {"status", "eventId", "personId"}
    survivor = Person.objects.get(external_id="other")
    assert response.json()["personId"] == survivor.pk
    assert not Person.objects.filter(pk=victim.pk).exists()
    assert identifiers(survivor) == {("email", VICTIM_EMAIL)}
    assert events_of(survivor) == {"o-0", "o-1", "victim-order"}
    assert not known_person_log()


def test_a_public_key_cannot_give_a_known_person_a_new_identifier(api, victim):
    """Naming the victim by external id with a new email does not add the email to them: the
    event goes to a new person holding that email, the external id is logged as ignored."""
    response = api.public.post(
        "/api/v1/events",
        event(
            {"externalId": "victim-1", "identifiers": {"email": "attacker@example.com"}},
            externalId="a-1",
        ),
    )
    assert response.status_code == 201, response.content
    assert_untouched(victim)
    holder = Person.objects.get(identifiers__value="attacker@example.com")
    assert (holder.external_id, holder.trusted, events_of(holder)) == (None, False, {"a-1"})
    assert [e.field for e in known_person_log()] == ["person.externalId"]


def test_a_public_key_reaches_a_known_person_named_alone(api, victim):
    """An event naming only the known person (their external id and their own email) is
    theirs: that moves nothing, and nothing is logged."""
    response = api.public.post(
        "/api/v1/events",
        event({"externalId": "victim-1", "identifiers": {"email": VICTIM_EMAIL}}, externalId="v-2"),
    )
    assert response.status_code == 201, response.content
    assert_untouched(victim, events={"victim-order", "v-2"})
    assert not known_person_log()


def test_two_known_people_named_by_a_public_key_are_not_merged(api, victim):
    """Naming two known people keeps the one named by external id and ignores the other."""
    other = person_create(workspace=api.workspace, external_id="other-1")
    response = api.public.post(
        "/api/v1/events",
        event({"externalId": "other-1", "identifiers": {"email": VICTIM_EMAIL}}, externalId="x-1"),
    )
    assert response.status_code == 201
    assert_untouched(victim)
    assert events_of(other) == {"x-1"}
    assert [e.field for e in known_person_log()] == ["person.identifiers.email"]


def test_a_public_key_may_still_merge_anonymous_people(api, purchase):
    """Two anonymous browsers' people (no external id, created by a public key) named by one
    call are one visitor: they are merged, as before."""
    anonymous_event(api, "e-1", anonymousId="b-1")
    anonymous_event(api, "e-2", email="v@example.com")
    response = anonymous_event(api, "e-3", anonymousId="b-1", email="v@example.com")
    assert response.status_code == 201
    [visitor] = Person.objects.all()
    assert identifiers(visitor) == {("anonymous_id", "b-1"), ("email", "v@example.com")}
    assert events_of(visitor) == {"e-1", "e-2", "e-3"}


def test_a_person_vouched_for_by_a_secret_key_is_known(api, purchase):
    """An anonymous person given an identifier by a secret key (no external id) is known from
    then on: a public key can no longer merge them into another visitor."""
    anonymous_event(api, "e-1", anonymousId="b-1")
    anonymous = Person.objects.get()
    assert anonymous.trusted is False
    identifier_add(person=anonymous, type="email", value="ann@example.com")
    assert Person.objects.get().trusted is True
    anonymous_event(api, "e-2", anonymousId="b-2")
    anonymous_event(api, "e-3", anonymousId="b-2", email="ann@example.com")
    assert Person.objects.count() == 2
    assert events_of(anonymous) == {"e-1"}
    assert [e.field for e in known_person_log()] == ["person.identifiers.email"]


def test_public_key_batch_answers_carry_no_event_ids(api, victim):
    """The batch answer to a public key has status and errors per item, no ``eventId``."""
    response = api.public.post(
        "/api/v1/events/batch",
        {
            "events": [
                event({"externalId": "someone"}, externalId="b-1"),
                event({"externalId": "victim-1", "identifiers": {"email": "new@example.com"}}),
                {"definitionId": "c_purchase"},
            ]
        },
    )
    assert response.status_code == 200, response.content
    results = response.json()["results"]
    assert [set(r) for r in results] == [{"index", "status", "errors"}] * 3
    assert [r["status"] for r in results] == ["accepted", "accepted", "rejected"]
    secret = api.secret.post("/api/v1/events/batch", {"events": [event({"externalId": "s"})]})
    assert set(secret.json()["results"][0]) == {"index", "status", "eventId", "errors"}


@pytest.mark.parametrize("exists", [True, False])
def test_a_public_key_cannot_name_a_person_by_internal_id(api, victim, exists):
    """``person: {id}`` is refused to a public key with the same answer whether or not the
    person exists."""
    person_id = victim.pk if exists else victim.pk + 1000
    response = api.public.post("/api/v1/events", event({"id": person_id}))
    error = assert_error(response, 400, code="invalid", field="person.id")
    assert error["message"] == "a public key names people by externalId or identifiers"
    assert_untouched(victim)


# Web SDK collect ----------------------------------------------------------------------------


def collect(api, *items, anonymous_id="browser-1", **body):
    return api.public.post(
        "/api/v1/collect", {"anonymousId": anonymous_id, "events": list(items), **body}
    )


def track(message_id: str) -> dict:
    return {
        "type": "track",
        "event": "c_purchase",
        "properties": {"total": 1},
        "messageId": message_id,
        "timestamp": "2024-05-01T12:00:00Z",
    }


def test_collect_identify_of_an_anonymous_visitor_with_a_new_email_still_links(api, purchase):
    """The browser flow keeps working: an anonymous visitor identified with an external id and
    an email nobody holds becomes that person, with their earlier events and the traits."""
    assert collect(api, track("before")).json()["accepted"] == 1
    answer = collect(
        api,
        {
            "type": "identify",
            "identifiers": {"externalId": "web-7", "email": "New@Example.com"},
            "traits": {"firstName": "Ann"},
        },
        track("after"),
        externalId="web-7",
    ).json()
    assert answer == {"accepted": 2, "duplicates": 0, "rejected": 0, "errors": []}
    [person] = Person.objects.all()
    assert (person.external_id, person.first_name, person.trusted) == ("web-7", "Ann", False)
    assert identifiers(person) == {("anonymous_id", "browser-1"), ("email", "new@example.com")}
    assert events_of(person) == {"before", "after"}
    assert not known_person_log()


def test_collect_identify_as_a_known_customer_does_not_merge_the_visitor(api, victim):
    """A public key signing a browser in as a known customer (their external id or email)
    neither merges the visitor into them nor links the browser to them nor changes their
    traits: the visitor keeps their events, the ignored names are logged, the answer is the
    same as for anyone."""
    collect(api, track("anonymous"))
    answer = collect(
        api,
        {
            "type": "identify",
            "identifiers": {"externalId": "victim-1", "email": VICTIM_EMAIL},
            "traits": {"firstName": "Mallory"},
        },
        track("signed-in"),
        externalId="victim-1",
    ).json()
    assert answer == {"accepted": 2, "duplicates": 0, "rejected": 0, "errors": []}
    assert_untouched(victim)
    assert Person.objects.get(pk=victim.pk).first_name == ""
    visitor = Person.objects.get(identifiers__value="browser-1")
    assert events_of(visitor) == {"anonymous", "signed-in"}
    identify_entry, track_entry = known_person_log()
    assert (identify_entry.endpoint, identify_entry.field) == ("sdk", "identifiers.externalId")
    assert "identifiers.email: held by a known person" in identify_entry.message
    assert (track_entry.endpoint, track_entry.field) == ("sdk", "person.externalId")


def test_collect_traits_of_a_known_customer_are_checked_but_not_applied(api, victim):
    """A known customer named alone by a public key keeps their profile: the traits are
    ignored (and logged); a bad trait is refused exactly as it is for an unknown id, so the
    answer never tells whether the customer exists."""
    identifier_add(person=victim, type="anonymous_id", value="victim-browser")
    victim_identify = {
        "type": "identify",
        "identifiers": {"externalId": "victim-1"},
        "traits": {"firstName": "Mallory"},
    }
    answer = collect(api, victim_identify, anonymous_id="victim-browser").json()
    assert answer == {"accepted": 1, "duplicates": 0, "rejected": 0, "errors": []}
    assert Person.objects.get(pk=victim.pk).first_name == ""
    assert [e.field for e in known_person_log()] == ["traits"]
    bad = {"type": "identify", "traits": {"gender": "robot"}}
    known = collect(api, {**bad, "identifiers": {"externalId": "victim-1"}}).json()
    unknown = collect(api, {**bad, "identifiers": {"externalId": "nobody"}}).json()
    assert known == unknown
    assert known["rejected"] == 1


# Segment-compatible identify, alias, group ------------------------------------------------


def basic(key: str) -> str:
    return "Basic " + base64.b64encode(f"{key}:".encode()).decode()


def segment(api, path: str, body: dict):
    response = Client(HTTP_AUTHORIZATION=basic(api.public_raw)).post(
        path, orjson.dumps(body), content_type="application/json"
    )
    assert response.status_code == 200, response.content
    assert response.json() == {"success": True}


def segment_visit(api) -> None:
    """An anonymous browser (``seg-anon``) tracks one purchase (``seg-1``) through Segment."""
    segment(
        api,
        "/v1/track",
        {
            "anonymousId": "seg-anon",
            "event": "c_purchase",
            "properties": {"total": 1},
            "messageId": "seg-1",
        },
    )


def test_segment_identify_with_a_public_key_cannot_merge_into_a_known_person(api, victim):
    """``/v1/identify`` with the victim's userId and email from an anonymous browser: no
    merge, no identifier moved, no trait set; the visitor keeps their id; logged."""
    segment_visit(api)
    segment(
        api,
        "/v1/identify",
        {
            "userId": "victim-1",
            "anonymousId": "seg-anon",
            "traits": {"email": VICTIM_EMAIL, "firstName": "Mallory"},
        },
    )
    assert_untouched(victim)
    assert Person.objects.get(pk=victim.pk).first_name == ""
    visitor = Person.objects.get(identifiers__value="seg-anon")
    assert (visitor.external_id, events_of(visitor)) == (None, {"seg-1"})
    [entry] = known_person_log()
    assert entry.field == "userId"
    assert "traits.email: held by a known person" in entry.message
    assert "traits: a public key cannot change a known person's profile" not in entry.message


def test_segment_identify_with_a_public_key_signs_an_anonymous_visitor_in(api, purchase):
    """Segment's browser flow still works: anonymousId + a new userId and email."""
    segment_visit(api)
    segment(
        api,
        "/v1/identify",
        {
            "userId": "u-1",
            "anonymousId": "seg-anon",
            "traits": {"email": "u1@example.com", "firstName": "Una"},
        },
    )
    [person] = Person.objects.all()
    assert (person.external_id, person.first_name) == ("u-1", "Una")
    assert identifiers(person) == {("anonymous_id", "seg-anon"), ("email", "u1@example.com")}
    assert events_of(person) == {"seg-1"}
    assert not known_person_log()


@pytest.mark.parametrize("previous", ["seg-anon", "victim-1"])
def test_segment_alias_with_a_public_key_cannot_merge_a_known_person(api, victim, previous):
    """``/v1/alias`` naming the known user (as userId, or as previousId) merges nothing and
    moves nothing; it is logged."""
    segment_visit(api)
    user_id = "victim-1" if previous == "seg-anon" else "attacker"
    segment(api, "/v1/alias", {"previousId": previous, "userId": user_id})
    assert_untouched(victim)
    visitor = Person.objects.get(identifiers__value="seg-anon")
    assert (visitor.external_id, events_of(visitor)) == (None, {"seg-1"})
    assert known_person_log()


def test_segment_alias_with_a_public_key_gives_an_anonymous_visitor_a_new_user_id(api, purchase):
    """Aliasing an anonymous id to a user id nobody holds still signs the visitor in."""
    segment_visit(api)
    segment(api, "/v1/alias", {"previousId": "seg-anon", "userId": "u-2"})
    [person] = Person.objects.all()
    assert (person.external_id, events_of(person)) == ("u-2", {"seg-1"})


def test_segment_group_with_a_public_key_does_not_tag_a_known_person(api, victim):
    """``/v1/group`` naming a known user leaves their tags alone."""
    segment(api, "/v1/group", {"userId": "victim-1", "groupId": "g-1"})
    assert not Person.objects.get(pk=victim.pk).tags.exists()
    assert [e.field for e in known_person_log()] == ["groupId"]


def test_a_trusted_merge_makes_the_survivor_known(api, purchase):
    """A secret key merging an untrusted visitor with a trusted person leaves a trusted
    survivor, whom a public key then cannot merge."""
    anonymous_event(api, "e-1", anonymousId="b-1")
    trusted = person_create(workspace=api.workspace, identifiers={"email": "t@example.com"})
    api.secret.post(
        "/api/v1/events",
        event({"identifiers": {"anonymousId": "b-1", "email": "t@example.com"}}, externalId="e-2"),
    )
    [survivor] = Person.objects.all()
    assert survivor.trusted is True
    assert trusted.pk != survivor.pk or survivor.external_id is None
    anonymous_event(api, "e-3", anonymousId="b-2")
    anonymous_event(api, "e-4", anonymousId="b-2", email="t@example.com")
    assert Person.objects.count() == 2
    assert events_of(survivor) == {"e-1", "e-2"}


# Quick Audience -----------------------------------------------------------------------------


def test_quick_audience_event_answers_to_a_public_key_carry_no_event_id(api, purchase):
    """Quick Audience's accepted list names index and status only for a public key."""
    message = {
        "customerId": "qa-1",
        "eventCode": "c_purchase",
        "eventTime": 1714564800000,
        "extendAttributes": {"outBizId": "qa-e-1", "total": 3},
    }
    answers = [
        Client(HTTP_AUTHORIZATION=f"App {key}")
        .post(
            "/quickaudience/v1/event-messages",
            orjson.dumps(
                [
                    {
                        **message,
                        "extendAttributes": {**message["extendAttributes"], "outBizId": f"qa-{i}"},
                    }
                ]
            ),
            content_type="application/json",
        )
        .json()
        for i, key in enumerate([api.public_raw, api.secret_raw])
    ]
    assert answers[0]["data"] == {"accepted": [{"index": 0, "status": "accepted"}]}
    assert set(answers[1]["data"]["accepted"][0]) == {"index", "status", "eventId"}


def test_quick_audience_user_messages_with_a_public_key(api, victim):
    """A public key's identity report cannot attach the victim's email to another customer
    id, and its answer carries no personId."""
    response = Client(HTTP_AUTHORIZATION=f"App {api.public_raw}").post(
        "/quickaudience/v1/user-messages",
        orjson.dumps(
            [
                {
                    "customerId": "qa-attacker",
                    "customerIdList": [{"customerId": VICTIM_EMAIL, "idMapping": "email"}],
                }
            ]
        ),
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    answer = response.json()
    assert answer["success"] is True
    assert answer["data"] == {"people": [{"index": 0}]}
    assert_untouched(victim)
    assert Person.objects.filter(external_id="qa-attacker").exists()
    assert [e.field for e in known_person_log()] == ["person.identifiers.email"]


# Customer-existence oracles -----------------------------------------------------------------


@pytest.mark.parametrize("customer", ["victim-1", VICTIM_EMAIL, "nobody"])
def test_infobip_refuses_a_public_key_whether_or_not_the_customer_exists(api, victim, customer):
    """The Infobip endpoint answers a public key 403 SECRET_KEY_REQUIRED, the same body for an
    existing and a missing person, and stores nothing."""
    response = Client(HTTP_AUTHORIZATION=f"App {api.public_raw}").post(
        f"/peopleevents/1/persons/{customer}/definitions/c_purchase/events",
        {"properties": {"total": 1}},
        content_type="application/json",
    )
    assert response.status_code == 403
    assert response.json() == {
        "requestError": {
            "serviceException": {
                "messageId": "SECRET_KEY_REQUIRED",
                "text": "this endpoint needs a secret API key",
            }
        }
    }
    assert_untouched(victim)
    secret = Client(HTTP_AUTHORIZATION=f"App {api.secret_raw}").post(
        f"/peopleevents/1/persons/{customer}/definitions/c_purchase/events",
        {"properties": {"total": 1}},
        content_type="application/json",
    )
    assert secret.status_code == (404 if customer == "nobody" else 200)


@pytest.mark.parametrize("customer", ["victim-1", "nobody"])
def test_dmhub_refuses_a_public_key_whether_or_not_the_customer_exists(api, victim, customer):
    """DM Hub's POST answers a public key 403 secret_key_required, the same body either way."""
    response = Client().post(
        f"/v1/customerevents?access_token={api.public_raw}",
        {"customerId": customer, "event": "c_purchase", "total": 1},
        content_type="application/json",
    )
    assert response.status_code == 403
    assert response.json() == {
        "error": {
            "code": "secret_key_required",
            "message": "the DM Hub endpoints need a secret key",
            "field": "access_token",
        }
    }
    assert_untouched(victim)
