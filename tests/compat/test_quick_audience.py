"""Quick Audience event and identity reporting (§6) with the seed's message models."""

import time

import orjson
import pytest

from events.models import Channel, Event, IngestionLogEntry
from events.services import PropertyInput, definition_create
from people.models import Identifier, Person

pytestmark = pytest.mark.django_db
EVENTS_URL = "/quickaudience/v1/event-messages"
USERS_URL = "/quickaudience/v1/user-messages"
# The seed's user identity example, verbatim.
SEED_USER_MESSAGES = (
    '[{"customerId":"customer001","customerIdList":[{"customerId":'
    '"13888888888","idMapping":"mobile"}],"organizationId":'
    '"56621289-820e-433a-9947-xxxxxxxxx","v":1}]'
)


@pytest.fixture
def channel(workspace):
    return Channel.objects.create(
        workspace=workspace, name="Shop app", app_type="app", app_key="eventsource001"
    )


@pytest.fixture
def definition(workspace, channel):
    return definition_create(
        workspace=workspace,
        definition_id="c_event001",
        name="Event 001",
        channel=channel,
        properties=[PropertyInput("key1"), PropertyInput("key2")],
    )


def seed_event_message(**overrides) -> dict:
    """The seed's event message model with the Java demo's values."""
    message = {
        "organizationId": "56621289-820e-433a-9947-xxxxxxxxx",
        "workspaceId": "ws-1",
        "customerId": "customer001",
        "eventSourceCode": "eventsource001",
        "eventCode": "event001",
        "eventTime": 1651114368518,
        "extendAttributes": {"key1": "value1", "key2": "123456", "outBizId": "biz-0001"},
        "customerIdList": [
            {"customerId": "13888888888", "idMapping": "mobile"},
            {"customerId": "xxxxx@alibaba.com", "idMapping": "email"},
        ],
        "v": 1,
    }
    message.update(overrides)
    return message


def post(client, url, body):
    return client.post(url, body, content_type="application/json")


def assert_answer_shape(body):
    assert set(body) >= {"success", "errorCode", "errorDesc", "traceId"}
    assert body["traceId"]


def test_seed_event_message_as_sdk_string(app_client, definition):
    """The SDK form {"eventMessageModelListStr": "<JSON array>"} is stored: outBizId becomes
    the external id, eventTime (ms) the occurred time, customerIdList identifiers of the
    person whose external id is customerId."""
    body = {"eventMessageModelListStr": orjson.dumps([seed_event_message()]).decode()}
    response = post(app_client, EVENTS_URL, body)
    assert response.status_code == 200
    answer = response.json()
    assert_answer_shape(answer)
    assert answer["success"] is True
    assert answer["errorCode"] is None
    event = Event.objects.get()
    assert event.definition == definition
    assert event.external_id == "biz-0001"
    assert event.properties == {"key1": "value1", "key2": "123456"}
    assert int(event.occurred_at.timestamp() * 1000) == 1651114368518
    assert event.person.external_id == "customer001"
    identifiers = set(Identifier.objects.filter(person=event.person).values_list("type", "value"))
    assert identifiers == {("mobile", "13888888888"), ("email", "xxxxx@alibaba.com")}


def test_plain_array_and_out_biz_id_dedupe(app_client, definition):
    """A JSON array is accepted too; the same outBizId twice is stored once."""
    now = int(time.time() * 1000)
    messages = [seed_event_message(eventTime=now), seed_event_message(eventTime=now + 5)]
    answer = post(app_client, EVENTS_URL, messages).json()
    assert answer["success"] is True
    assert [a["status"] for a in answer["data"]["accepted"]] == ["accepted", "duplicate"]
    assert Event.objects.count() == 1


def test_missing_out_biz_id_and_unknown_channel_are_rejected(app_client, definition):
    """outBizId is required and eventSourceCode must be a channel's APP_KEY; the good message
    of the same call is still stored, and errorDesc names the bad ones by index."""
    good = seed_event_message()
    no_biz = seed_event_message(extendAttributes={"key1": "x"})
    bad_channel = seed_event_message(eventSourceCode="nope", extendAttributes={"outBizId": "biz-9"})
    answer = post(app_client, EVENTS_URL, [good, no_biz, bad_channel]).json()
    assert_answer_shape(answer)
    assert answer["success"] is False
    assert "[1].extendAttributes.outBizId" in answer["errorDesc"]
    assert "[2].eventSourceCode" in answer["errorDesc"]
    assert answer["data"]["rejected"] == [1, 2]
    assert Event.objects.count() == 1
    assert IngestionLogEntry.objects.count() == 2


def test_more_than_100_messages_is_refused(app_client, definition):
    """At most 100 messages per call."""
    messages = [seed_event_message(extendAttributes={"outBizId": f"b{i}"}) for i in range(101)]
    response = post(app_client, EVENTS_URL, messages)
    assert response.status_code == 400
    assert response.json()["success"] is False
    assert not Event.objects.exists()


def test_malformed_body_and_bad_key(app_client, client, definition):
    """A body that is not an array (nor the SDK wrapper) and a bad key answer in QA's shape."""
    response = post(app_client, EVENTS_URL, {"something": 1})
    assert response.status_code == 400
    assert_answer_shape(response.json())
    response = client.post(
        EVENTS_URL, "[]", content_type="application/json", HTTP_AUTHORIZATION="App wrong"
    )
    assert response.status_code == 401
    assert response.json()["errorDesc"] == "Authentication failed!"


def test_seed_user_identity_message(app_client):
    """The seed's identity report creates customer001 with mobile 13888888888; repeating it
    changes nothing; a second report adds an email to the same person."""
    body = {"customerMessageModelListStr": SEED_USER_MESSAGES}
    answer = post(app_client, USERS_URL, body).json()
    assert_answer_shape(answer)
    assert answer["success"] is True
    person = Person.objects.get(external_id="customer001")
    assert set(person.identifiers.values_list("type", "value")) == {("mobile", "13888888888")}
    assert post(app_client, USERS_URL, body).json()["success"] is True
    more = [
        {
            "customerId": "customer001",
            "customerIdList": [{"customerId": "c1@example.com", "idMapping": "email"}],
        }
    ]
    assert post(app_client, USERS_URL, more).json()["success"] is True
    assert Person.objects.count() == 1
    assert person.identifiers.count() == 2


def test_user_message_with_bad_identifier_is_rejected(app_client):
    """An unknown idMapping type is rejected with its index and logged."""
    bad = [{"customerId": "c2", "customerIdList": [{"customerId": "x", "idMapping": "fax"}]}]
    answer = post(app_client, USERS_URL, bad).json()
    assert answer["success"] is False
    assert "[0]" in answer["errorDesc"]
    assert IngestionLogEntry.objects.count() == 1


# eventSourceCode, idMapping names and limits as the seed describes them ----------------------


def test_event_source_code_is_optional(app_client, definition):
    """The seed: "If the event message does not contain an app_key, the automated marketing
    task calculation is not restricted by the channel": the message is stored."""
    message = seed_event_message()
    del message["eventSourceCode"]
    answer = post(
        app_client,
        EVENTS_URL,
        [message, seed_event_message(eventSourceCode=None, extendAttributes={"outBizId": "biz-2"})],
    ).json()
    assert answer["success"] is True, answer
    assert Event.objects.count() == 2
    assert set(Event.objects.values_list("source", flat=True)) == {""}


def test_event_source_code_of_another_channel_is_rejected(app_client, workspace, definition):
    """A definition bound to one channel is refused under another channel's APP_KEY (in QA's
    answer shape, naming the message), and kept in the ingestion log; a definition without a
    channel is accepted under any known APP_KEY."""
    Channel.objects.create(
        workspace=workspace, name="Mini program", app_type="mini_program", app_key="mini001"
    )
    definition_create(workspace=workspace, definition_id="c_free", name="Free")
    wrong = seed_event_message(eventSourceCode="mini001")
    free = seed_event_message(
        eventSourceCode="mini001", eventCode="c_free", extendAttributes={"outBizId": "biz-free"}
    )
    right = seed_event_message(extendAttributes={"key1": "v", "outBizId": "biz-right"})
    response = post(app_client, EVENTS_URL, [wrong, free, right])
    assert response.status_code == 200
    answer = response.json()
    assert_answer_shape(answer)
    assert answer["success"] is False
    assert answer["errorCode"] == "INVALID_MESSAGE"
    assert "[0].eventSourceCode" in answer["errorDesc"]
    assert "another channel" in answer["errorDesc"]
    assert answer["data"]["rejected"] == [0]
    assert set(Event.objects.values_list("external_id", "source")) == {
        ("biz-free", "mini001"),
        ("biz-right", "eventsource001"),
    }
    entry = IngestionLogEntry.objects.get()
    assert (entry.endpoint, entry.field) == ("quick_audience", "[0].eventSourceCode")
    assert entry.payload == wrong


def test_seed_id_mapping_names_mac_org_and_weibo_id_org(app_client, definition):
    """The seed's idMapping list names the MAC address mac_org and the Weibo id weibo_id_org:
    both are accepted, in event and identity reports, as the mac and weibo_id types."""
    message = seed_event_message(
        customerIdList=[
            {"customerId": "AA-BB-CC-DD-EE-FF", "idMapping": "mac_org"},
            {"customerId": "wb-123", "idMapping": "weibo_id_org"},
        ]
    )
    assert post(app_client, EVENTS_URL, [message]).json()["success"] is True
    person = Event.objects.get().person
    assert set(person.identifiers.values_list("type", "value")) == {
        ("mac", "aa:bb:cc:dd:ee:ff"),
        ("weibo_id", "wb-123"),
    }
    users = [
        {
            "customerId": "customer002",
            "customerIdList": [
                {"customerId": "11:22:33:44:55:66", "idMapping": "mac_org"},
                {"customerId": "wb-456", "idMapping": "weibo_id_org"},
            ],
            "v": 1,
        }
    ]
    answer = post(
        app_client, USERS_URL, {"customerMessageModelListStr": orjson.dumps(users).decode()}
    ).json()
    assert answer["success"] is True, answer
    other = Person.objects.get(external_id="customer002")
    assert set(other.identifiers.values_list("type", "value")) == {
        ("mac", "11:22:33:44:55:66"),
        ("weibo_id", "wb-456"),
    }


def test_user_identity_report_allows_100_messages_and_refuses_101(app_client):
    """The seed: "The batch size limit is 100" for the identity report too."""
    users = [
        {
            "customerId": f"c{i}",
            "customerIdList": [{"customerId": f"u{i}@example.com", "idMapping": "email"}],
        }
        for i in range(101)
    ]
    response = post(app_client, USERS_URL, users)
    assert response.status_code == 400
    answer = response.json()
    assert_answer_shape(answer)
    assert (answer["success"], answer["errorCode"]) == (False, "BATCH_TOO_LARGE")
    assert not Person.objects.exists()
    assert IngestionLogEntry.objects.get().code == "batch_too_large"
    answer = post(app_client, USERS_URL, users[:100]).json()
    assert answer["success"] is True
    assert Person.objects.count() == 100


def test_openapi_lists_the_error_answers_of_quick_audience(client):
    schema = client.get("/api/v1/schema", HTTP_ACCEPT="application/json").json()
    for path in (EVENTS_URL, USERS_URL):
        responses = schema["paths"][path]["post"]["responses"]
        assert {"200", "400", "401", "429"} <= set(responses)
        ref = responses["400"]["content"]["application/json"]["schema"]
        if "$ref" in ref:  # a component (the answer's serializer)
            ref = schema["components"]["schemas"][ref["$ref"].rsplit("/", 1)[1]]
        assert {"success", "errorCode", "errorDesc", "traceId"} <= set(ref["properties"])


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"customerId": "customer\u0000001"}, "[0].customerId"),
        ({"eventCode": "event\u0000"}, "[0].eventCode"),
        ({"extendAttributes": {"key1": "v\u0000"}}, "[0].extendAttributes.key1"),
        (
            {"customerIdList": [{"customerId": "1\u0000", "idMapping": "mobile"}]},
            "[0].customerIdList[0].customerId",
        ),
    ],
)
def test_nul_characters_are_refused_naming_the_place(
    client, secret_key, definition, overrides, named
):
    """PostgreSQL cannot store NUL characters: an event message holding one, sent as an array
    or in the SDK's string wrapper, is answered 400 naming where it is; nothing is stored."""
    headers = {"HTTP_AUTHORIZATION": f"Bearer {secret_key}"}
    messages = orjson.dumps([seed_event_message(**overrides)])
    for body, prefix in (
        (messages, ""),
        (orjson.dumps({"eventMessageModelListStr": messages.decode()}), "eventMessageModelListStr"),
    ):
        response = client.post(EVENTS_URL, body, content_type="application/json", **headers)
        assert response.status_code == 400, response.content
        answer = response.json()
        assert answer["success"] is False
        assert answer["errorDesc"] == f"{prefix}{named} must not contain NUL characters"
    assert not Event.objects.exists()


@pytest.fixture
def typed_definition(workspace, channel):
    """The seed's event001 with key2 declared a number, and a boolean and a date-time
    property, as a marketer declares them before the Java SDK reports strings."""
    return definition_create(
        workspace=workspace,
        definition_id="c_event001",
        name="Event 001",
        channel=channel,
        properties=[
            PropertyInput("key1"),
            PropertyInput("key2", type="number"),
            PropertyInput("price", type="number"),
            PropertyInput("vip", type="boolean"),
            PropertyInput("paidAt", type="datetime"),
        ],
    )


def _stored_properties(app_client, event_id) -> dict:
    response = app_client.get(f"/api/v1/events/{event_id}")
    assert response.status_code == 200, response.content
    return response.json()["properties"]


def test_java_sdk_strings_convert_to_the_declared_types(app_client, typed_definition):
    """The Java demo's Map<String,String> (``"key2": "123456"``) for a number property is
    stored as the number 123456; "12.5", "true" and epoch milliseconds as a string become a
    number, true and the time, read back through the events API."""
    demo = seed_event_message()
    body = {"eventMessageModelListStr": orjson.dumps([demo]).decode()}
    answer = post(app_client, EVENTS_URL, body).json()
    assert answer["success"] is True, answer
    [accepted] = answer["data"]["accepted"]
    assert _stored_properties(app_client, accepted["eventId"]) == {
        "key1": "value1",
        "key2": 123456,
    }
    more = seed_event_message(
        extendAttributes={
            "key1": "value1",
            "key2": "-3",
            "price": "12.5",
            "vip": "true",
            "paidAt": "1651114368518",
            "outBizId": "biz-0002",
        }
    )
    iso = seed_event_message(
        extendAttributes={"vip": "FALSE", "paidAt": "2022-04-28T03:32:48Z", "outBizId": "biz-3"}
    )
    body = {"eventMessageModelListStr": orjson.dumps([more, iso]).decode()}
    answer = post(app_client, EVENTS_URL, body).json()
    assert answer["success"] is True, answer
    first, second = (a["eventId"] for a in answer["data"]["accepted"])
    assert _stored_properties(app_client, first) == {
        "key1": "value1",
        "key2": -3,
        "price": 12.5,
        "vip": True,
        "paidAt": 1651114368518,
    }
    assert _stored_properties(app_client, second) == {
        "vip": False,
        "paidAt": "2022-04-28T03:32:48Z",
    }


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("key2", "12,5"),
        ("key2", "abc"),
        ("key2", "NaN"),
        ("key2", "1_000"),
        ("key2", ""),
        ("vip", "yes"),
        ("paidAt", "yesterday"),
    ],
)
def test_a_string_that_does_not_convert_is_rejected_naming_the_property(
    app_client, typed_definition, key, value
):
    """A string that does not spell the declared type is rejected with errorDesc naming
    ``[index].extendAttributes.<key>``; the good message of the same call is stored."""
    bad = seed_event_message(extendAttributes={key: value, "outBizId": "biz-bad"})
    answer = post(app_client, EVENTS_URL, [seed_event_message(), bad]).json()
    assert answer["success"] is False
    assert f"[1].extendAttributes.{key}" in answer["errorDesc"]
    assert answer["data"]["rejected"] == [1]
    assert list(Event.objects.values_list("external_id", flat=True)) == ["biz-0001"]
    assert IngestionLogEntry.objects.count() == 1


def test_the_native_api_stays_strict_about_quoted_numbers(app_client, typed_definition):
    """Only the Quick Audience endpoint converts: the native API refuses "12.5" for a number
    property."""
    response = app_client.post(
        "/api/v1/events",
        {
            "definitionId": "c_event001",
            "person": {"externalId": "customer001"},
            "properties": {"price": "12.5"},
        },
        content_type="application/json",
    )
    assert response.status_code == 400, response.content
    assert response.json()["error"]["field"] == "properties.price"
    assert not Event.objects.exists()
