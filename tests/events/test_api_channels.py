"""Channels through the API (SPEC §4, §6): create, list, change and delete; a channel with
events is kept (409 naming them); a global property is carried to the channel's later events
of that person. Events arrive through Quick Audience's seed message model."""

import orjson
import pytest

from events.api.channels import ChannelOutSerializer
from events.models import Channel, Event
from people.workspaces import workspace_create
from tests.api_helpers import assert_described, assert_error, workspace_api

pytestmark = pytest.mark.django_db
EVENTS_URL = "/quickaudience/v1/event-messages"
SHOP_APP = {"name": "Shop app", "appType": "app", "appKey": "eventsource001"}


@pytest.fixture
def api(workspace):
    return workspace_api(workspace)


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


def report(api, *messages) -> list[int]:
    """Send the messages as the Java SDK does; return the stored event ids."""
    body = {"eventMessageModelListStr": orjson.dumps(list(messages)).decode()}
    answer = api.secret.post(EVENTS_URL, body).json()
    assert answer["success"] is True, answer
    return [a["eventId"] for a in answer["data"]["accepted"]]


def properties_of(api, event_id) -> dict:
    response = api.secret.get(f"/api/v1/events/{event_id}")
    assert response.status_code == 200, response.content
    return response.json()["properties"]


def define(api, code: str, properties: list[dict], channel: str | None = "eventsource001"):
    response = api.secret.post(
        "/api/v1/definitions",
        {"definitionId": code, "name": code, "channel": channel, "properties": properties},
    )
    assert response.status_code == 201, response.content


def test_create_list_change_delete(api):
    """A channel made through the API is listed and read back, its name, type and APP_KEY
    change, and an unused channel is deleted."""
    created = api.secret.post("/api/v1/channels", SHOP_APP)
    assert created.status_code == 201, created.content
    channel = created.json()
    assert {k: channel[k] for k in SHOP_APP} == SHOP_APP
    assert channel["globalProperties"] == []
    assert channel["createdTime"]
    listed = api.secret.get("/api/v1/channels").json()
    assert [c["id"] for c in listed] == [channel["id"]]
    url = f"/api/v1/channels/{channel['id']}"
    changed = api.secret.patch(url, {"name": "Shop", "appType": "mini_program"})
    assert changed.status_code == 200, changed.content
    assert api.secret.get(url).json() | {"createdTime": None} == {
        **channel,
        "name": "Shop",
        "appType": "mini_program",
        "createdTime": None,
    }
    assert api.secret.delete(url).status_code == 204
    assert api.secret.get("/api/v1/channels").json() == []
    assert_error(api.secret.get(url), 404, "not_found", "id")


def test_errors_name_the_field(api):
    """Missing or unknown values and a second channel with the same APP_KEY answer 400 naming
    the field; nothing is stored."""
    for body, field in (
        ({**SHOP_APP, "appKey": ""}, "appKey"),
        ({k: v for k, v in SHOP_APP.items() if k != "appKey"}, "appKey"),
        ({**SHOP_APP, "appType": "fax"}, "appType"),
        ({**SHOP_APP, "name": "x" * 101}, "name"),
        ({**SHOP_APP, "name": ["Shop"]}, "name"),
        ({**SHOP_APP, "appKey": {"k": 1}}, "appKey"),
    ):
        assert_error(api.secret.post("/api/v1/channels", body), 400, field=field)
    assert not Channel.objects.exists()
    first = api.secret.post("/api/v1/channels", SHOP_APP).json()
    assert_error(api.secret.post("/api/v1/channels", SHOP_APP), 400, "duplicate", "appKey")
    other = api.secret.post("/api/v1/channels", {**SHOP_APP, "appKey": "web-1"}).json()
    assert_error(
        api.secret.patch(f"/api/v1/channels/{other['id']}", {"appKey": "eventsource001"}),
        400,
        "duplicate",
        "appKey",
    )
    assert_error(
        api.secret.patch(f"/api/v1/channels/{first['id']}", {"name": ""}), 400, field="name"
    )
    assert Channel.objects.get(pk=first["id"]).name == "Shop app"


def test_workspace_scoped_and_secret_only(api, workspace):
    """Another workspace's channel is not found there (nor listed, changed or deleted), and
    a public key may not manage channels."""
    other = workspace_api(workspace_create(slug="globex", name="Globex"))
    theirs = other.secret.post("/api/v1/channels", SHOP_APP).json()
    url = f"/api/v1/channels/{theirs['id']}"
    assert api.secret.get("/api/v1/channels").json() == []
    assert_error(api.secret.get(url), 404, field="id")
    assert_error(api.secret.patch(url, {"name": "Mine"}), 404, field="id")
    assert_error(api.secret.delete(url), 404, field="id")
    assert Channel.objects.get(pk=theirs["id"]).name == "Shop app"
    assert api.public.get("/api/v1/channels").status_code == 403
    assert api.public.post("/api/v1/channels", SHOP_APP).status_code == 403
    # The same APP_KEY in another workspace is no conflict.
    assert api.secret.post("/api/v1/channels", SHOP_APP).status_code == 201


def test_a_channel_with_events_cannot_be_deleted(api):
    """Once the seed's message recorded an event of the channel's definition, deleting the
    channel answers 409 naming that definition, and the channel stays."""
    channel = api.secret.post("/api/v1/channels", SHOP_APP).json()
    define(api, "c_event001", [{"key": "key1"}, {"key": "key2"}])
    url = f"/api/v1/channels/{channel['id']}"
    report(api, seed_event_message())
    error = assert_error(api.secret.delete(url), 409, "protected", "channel")
    assert "c_event001" in error["message"]
    assert api.secret.get(url).status_code == 200
    assert Channel.objects.filter(pk=channel["id"]).exists()


def test_a_global_property_is_carried_to_the_channels_later_events(api):
    """loginId, declared global on the channel's event001, is sent once with the seed's
    message; the person's later events of the channel (event002 too) carry it until a message
    sends another value; another person's events and a definition of no channel do not get
    it. The channel lists it among its global properties."""
    channel = api.secret.post("/api/v1/channels", SHOP_APP).json()
    define(
        api,
        "c_event001",
        [{"key": "key1"}, {"key": "key2"}, {"key": "loginId", "scope": "global"}],
    )
    define(api, "c_event002", [{"key": "key1"}])
    define(api, "c_elsewhere", [{"key": "key1"}], channel=None)
    listed = api.secret.get(f"/api/v1/channels/{channel['id']}").json()
    assert [(p["key"], p["definitionId"]) for p in listed["globalProperties"]] == [
        ("loginId", "c_event001")
    ]

    def message(code, biz, customer="customer001", **attributes):
        return seed_event_message(
            eventCode=code,
            customerId=customer,
            customerIdList=[],
            extendAttributes={"key1": "value1", "outBizId": biz, **attributes},
        )

    [sent] = report(api, message("event001", "b1", loginId="u-1"))
    later, other_definition, other_person = report(
        api,
        message("event001", "b2"),
        message("event002", "b3"),
        message("event002", "b4", customer="customer002"),
    )
    [no_channel] = report(
        api,
        seed_event_message(
            eventCode="elsewhere",
            eventSourceCode="",
            extendAttributes={"key1": "x", "outBizId": "b5"},
        ),
    )
    assert properties_of(api, sent)["loginId"] == "u-1"
    assert properties_of(api, later) == {"key1": "value1", "loginId": "u-1"}
    assert properties_of(api, other_definition) == {"key1": "value1", "loginId": "u-1"}
    assert "loginId" not in properties_of(api, other_person)
    assert "loginId" not in properties_of(api, no_channel)
    _changed, after = report(
        api, message("event001", "b6", loginId="u-2"), message("event002", "b7")
    )
    assert properties_of(api, after)["loginId"] == "u-2"
    # A later call reads the latest value back from the stored events.
    [next_call] = report(api, message("event002", "b8"))
    assert properties_of(api, next_call)["loginId"] == "u-2"
    assert Event.objects.count() == 8


def test_a_channel_is_answered_as_described(api):
    """A channel with a global property, created, read, listed and changed, has the keys and
    value types ``ChannelOutSerializer`` documents in the OpenAPI schema."""
    created = api.secret.post("/api/v1/channels", SHOP_APP).json()
    define(api, "c_event001", [{"key": "loginId", "name": "Login", "scope": "global"}])
    url = f"/api/v1/channels/{created['id']}"
    assert_described(ChannelOutSerializer, created)
    assert_described(ChannelOutSerializer, api.secret.get(url).json())
    assert_described(ChannelOutSerializer, api.secret.patch(url, {"name": "Shop"}).json())
    [listed] = api.secret.get("/api/v1/channels").json()
    assert_described(ChannelOutSerializer, listed)
    assert listed["globalProperties"] == [
        {"key": "loginId", "name": "Login", "type": "text", "definitionId": "c_event001"}
    ]


def test_the_admin_keeps_a_channel_with_events(api, workspace):
    """In the admin, a developer's delete page of a channel with events lists what keeps it
    and offers no confirmation; posting the delete anyway leaves the channel. An unused
    channel is deleted from the same page."""
    from tests.people.test_admin import login, make_staff

    used = api.secret.post("/api/v1/channels", SHOP_APP).json()
    unused = api.secret.post("/api/v1/channels", {**SHOP_APP, "appKey": "web-1"}).json()
    define(api, "c_event001", [{"key": "key1"}, {"key": "key2"}])
    report(api, seed_event_message())
    admin = login(make_staff("dev", workspace, group="Developer"))
    url = f"/admin/events/channel/{used['id']}/delete/"
    page = admin.get(url)
    assert page.status_code == 200
    assert "events of c_event001 were recorded through it" in page.content.decode()
    admin.post(url, {"post": "yes"})
    assert Channel.objects.filter(pk=used["id"]).exists()
    response = admin.post(f"/admin/events/channel/{unused['id']}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not Channel.objects.filter(pk=unused["id"]).exists()
