"""Segment-compatible tracking API (§6) with the example payloads of Segment's HTTP API docs:
each route, batches, gzip, Segment's size limits, dedupe by messageId, the unknown-track
policy, authentication and null fields."""

import base64
import gzip
import random
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from django.test import Client

from events.compat import segment
from events.models import Event, EventDefinition, IngestionLogEntry
from events.selectors import definition_get
from events.services import PropertyInput, definition_create, definition_set_enabled
from people.models import ApiKey, AttributeDefinition, Identifier, Person
from people.services import attribute_definition_create
from people.workspaces import api_key_create, api_key_revoke, workspace_update

pytestmark = pytest.mark.django_db

# Segment's HTTP API docs, verbatim but for the write key (sent as HTTP Basic instead).
DOC_IDENTIFY = {
    "userId": "019mr8mf4r",
    "traits": {"email": "pgibbons@example.com", "name": "Peter Gibbons", "industry": "Technology"},
    "context": {"ip": "24.5.68.47"},
    "timestamp": "2012-12-02T00:30:08.276Z",
}
DOC_TRACK = {
    "userId": "019mr8mf4r",
    "event": "Item Purchased",
    "properties": {"name": "Leap to Conclusions Mat", "revenue": 14.99},
    "context": {"ip": "24.5.68.47"},
    "timestamp": "2012-12-02T00:30:12.984Z",
}
DOC_PAGE = {
    "userId": "019mr8mf4r",
    "name": "Tracking HTTP API",
    "timestamp": "2012-12-02T00:31:29.738Z",
}
DOC_SCREEN = dict(DOC_PAGE)
DOC_GROUP = {
    "userId": "019mr8mf4r",
    "groupId": "8e9df332ac",
    "traits": {"name": "Initech", "industry": "Technology", "employees": 420},
    "timestamp": "2012-12-02T00:31:38.208Z",
}
DOC_ALIAS = {
    "previousId": "39239-239239-239239-23923",
    "userId": "019mr8mf4r",
    "timestamp": "2012-12-02T00:31:29.738Z",
}
DOC_BATCH = {
    "batch": [
        {
            "type": "identify",
            "userId": "019mr8mf4r",
            "traits": {"email": "jake@yahoo.com", "name": "Jake Peterson", "age": 26},
            "timestamp": "2012-12-02T00:30:08.276Z",
        },
        {
            "type": "track",
            "userId": "019mr8mf4r",
            "event": "Song Played",
            "properties": {"name": "Fallin for You", "artist": "Dierks Bentley"},
            "timestamp": "2012-12-02T00:30:12.984Z",
        },
        {
            "type": "identify",
            "userId": "971mj8mk7p",
            "traits": {"email": "cindy@example.com", "name": "Cindy Gonzalez", "age": 23},
            "timestamp": "2015-2-02T00:30:08.276Z",
        },
        {
            "type": "track",
            "userId": "971mj8mk7p",
            "event": "Song Played",
            "properties": {"name": "Get Right", "artist": "Jennifer Lopez"},
            "timestamp": "2015-2-02T00:30:12.984Z",
        },
    ],
    "context": {"device": {"type": "phone", "name": "Apple iPhone 6"}},
}
CHROME_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36"
)


def basic(key: str) -> str:
    return "Basic " + base64.b64encode(f"{key}:".encode()).decode()


@pytest.fixture
def client(secret_key) -> Client:
    """A client sending the write key as Segment libraries do: HTTP Basic, key as user."""
    return Client(HTTP_AUTHORIZATION=basic(secret_key))


def post(client, path, body, *, compress=False, **headers):
    data = body if isinstance(body, bytes) else orjson.dumps(body)
    if compress:
        data = gzip.compress(data)
        headers["HTTP_CONTENT_ENCODING"] = "gzip"
    return client.post(path, data, content_type="application/json", **headers)


def assert_success(response):
    assert response.status_code == 200, response.content
    assert response.json() == {"success": True}


def assert_segment_error(response, status: int, code: str) -> str:
    """Segment's error shape, never DRF's ``{"detail"}`` or the native ``{"error"}``."""
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"code", "message"}, body
    assert body["code"] == code, body
    assert body["message"]
    return body["message"]


def log_entries():
    return list(IngestionLogEntry.objects.filter(endpoint=Event.Origin.SEGMENT).order_by("pk"))


def person(external_id: str) -> Person:
    return Person.objects.get(external_id=external_id)


def identifiers(who: Person) -> set[tuple[str, str]]:
    return set(Identifier.objects.filter(person=who).values_list("type", "value"))


# identify ------------------------------------------------------------------------------------


def test_identify_doc_example(client):
    """The docs' identify creates the person under userId with the email identifier and the
    name split into first and last name; ``industry`` (no attribute definition) is ignored."""
    assert_success(post(client, "/v1/identify", DOC_IDENTIFY))
    peter = person("019mr8mf4r")
    assert (peter.first_name, peter.last_name) == ("Peter", "Gibbons")
    assert identifiers(peter) == {("email", "pgibbons@example.com")}
    assert peter.attributes == {}
    assert log_entries() == []


def test_identify_custom_attributes_need_a_definition(client, workspace):
    """Traits with an attribute definition become custom attributes; others are ignored."""
    attribute_definition_create(workspace=workspace, key="plan", name="Plan", type="text")
    attribute_definition_create(workspace=workspace, key="logins", name="Logins", type="number")
    body = {
        "userId": "97980cfea0067",
        "traits": {
            "name": "Peter Gibbons",
            "email": "peter@example.com",
            "plan": "premium",
            "logins": 5,
            "industry": "Technology",
        },
    }
    assert_success(post(client, "/v1/identify", body))
    assert person("97980cfea0067").attributes == {"plan": "premium", "logins": 5}


def test_identify_rudderstack_context_traits(client):
    """RudderStack sends traits in ``context.traits``: they map like top-level traits, with
    gender normalised, a date-time birthday cut to its date and Segment's address object."""
    body = {
        "userId": 12345,
        "anonymousId": "anon-1",
        "context": {
            "traits": {
                "firstName": "Ann",
                "last_name": "Lee",
                "gender": "F",
                "phone": "+1 (415) 555-0100",
                "birthday": "1990-01-31T00:00:00.000Z",
                "timezone": "Europe/Zagreb",
                "address": {"street": "Ilica 1", "city": "Zagreb", "country": "HR"},
            }
        },
    }
    assert_success(post(client, "/v1/identify", body))
    ann = person("12345")
    assert (ann.first_name, ann.last_name, ann.gender) == ("Ann", "Lee", "female")
    assert ann.birth_date.isoformat() == "1990-01-31"
    assert (ann.address, ann.city, ann.country, ann.time_zone) == (
        "Ilica 1",
        "Zagreb",
        "HR",
        "Europe/Zagreb",
    )
    assert identifiers(ann) == {("phone", "+14155550100"), ("anonymous_id", "anon-1")}


def test_identify_refused_trait_is_logged_and_the_rest_applied(client, workspace):
    """A trait the services refuse is dropped and logged under its trait name; the others
    are stored and the answer is still 200."""
    attribute_definition_create(workspace=workspace, key="logins", name="Logins", type="number")
    body = {
        "userId": "u-1",
        "traits": {
            "email": "not-an-email",
            "firstName": "Ann",
            "birthday": "31/01/1990",
            "logins": "five",
        },
    }
    assert_success(post(client, "/v1/identify", body))
    ann = person("u-1")
    assert ann.first_name == "Ann"
    assert ann.birth_date is None
    assert identifiers(ann) == set()
    [entry] = log_entries()
    assert entry.payload["traits"]["email"] == "not-an-email"
    assert "traits.email" in entry.message
    assert "traits.birthday" in entry.message
    assert "traits.logins" in entry.message


def test_identify_email_of_another_person_is_logged(client):
    """An email already another person's stays theirs: the identify is logged naming the
    trait, and its other traits apply."""
    assert_success(
        post(client, "/v1/identify", {"userId": "u-1", "traits": {"email": "ann@example.com"}})
    )
    assert_success(
        post(
            client,
            "/v1/identify",
            {"userId": "u-2", "traits": {"email": "ANN@example.com", "firstName": "Bob"}},
        )
    )
    assert identifiers(person("u-1")) == {("email", "ann@example.com")}
    assert person("u-2").first_name == "Bob"
    [entry] = log_entries()
    assert (entry.code, entry.field) == ("duplicate", "traits.email")


def test_identify_merges_the_anonymous_visitor_into_the_known_user(client, workspace):
    """An anonymous visitor's events move to the signed-in user named in identify."""
    definition_create(workspace=workspace, definition_id="c_clicked", name="Clicked")
    assert_success(
        post(
            client, "/v1/track", {"anonymousId": "anon-7", "event": "c_clicked", "messageId": "m-1"}
        )
    )
    assert_success(
        post(client, "/v1/track", {"userId": "u-7", "event": "c_clicked", "messageId": "m-2"})
    )
    assert Person.objects.count() == 2
    assert_success(post(client, "/v1/identify", {"userId": "u-7", "anonymousId": "anon-7"}))
    user = person("u-7")
    assert Person.objects.count() == 1
    assert identifiers(user) == {("anonymous_id", "anon-7")}
    assert set(Event.objects.values_list("person_id", flat=True)) == {user.pk}


def test_identify_gives_the_anonymous_visitor_the_user_id(client):
    """An anonymous visitor who signs in keeps their person, now under the userId."""
    assert_success(
        post(client, "/v1/identify", {"anonymousId": "anon-8", "traits": {"firstName": "Bo"}})
    )
    visitor = Person.objects.get()
    assert visitor.external_id is None
    assert_success(post(client, "/v1/identify", {"userId": "u-8", "anonymousId": "anon-8"}))
    assert person("u-8").pk == visitor.pk


# track ---------------------------------------------------------------------------------------


def test_track_doc_example_auto_defines(client, workspace):
    """An unknown event name is defined as c_<snake_case> with its properties typed from the
    message, and the event is stored with the message's timestamp."""
    assert_success(post(client, "/v1/track", {**DOC_TRACK, "messageId": "doc-track-1"}))
    definition = definition_get(workspace=workspace, definition_id="c_item_purchased")
    assert definition.kind == EventDefinition.Kind.CUSTOM
    assert definition.name == "Item Purchased"
    assert dict(definition.properties.values_list("key", "type")) == {
        "name": "text",
        "revenue": "number",
    }
    event = Event.objects.get()
    assert event.definition == definition
    assert event.properties == {"name": "Leap to Conclusions Mat", "revenue": 14.99}
    assert event.occurred_at == datetime(2012, 12, 2, 0, 30, 12, 984000, tzinfo=UTC)
    assert event.external_id == "doc-track-1"
    assert event.origin == Event.Origin.SEGMENT
    assert event.person.external_id == "019mr8mf4r"


def test_track_uses_an_existing_definition(client, workspace):
    """A name equal to a definition id is that definition (here a built-in template)."""
    assert_success(
        post(
            client,
            "/v1/track",
            {"userId": "u-1", "event": "itemPurchased", "properties": {"itemId": 7, "price": 9.5}},
        )
    )
    event = Event.objects.get()
    assert event.definition.definition_id == "itemPurchased"
    assert event.definition.workspace is None
    assert not EventDefinition.objects.filter(workspace=workspace).exists()


def test_message_id_dedupes_retries(client):
    """A retried message (same messageId) is stored once."""
    body = {**DOC_TRACK, "messageId": "retry-1"}
    for _ in range(3):
        assert_success(post(client, "/v1/track", body))
    assert Event.objects.filter(external_id="retry-1").count() == 1
    assert log_entries() == []


def test_message_id_may_be_a_number_but_not_an_object(client):
    """A numeric messageId is an external id like a string one; an object is logged."""
    for message_id in (1234, 1234, {"id": 1}):
        assert_success(
            post(client, "/v1/track", {"userId": "u-1", "event": "Opened", "messageId": message_id})
        )
    assert list(Event.objects.values_list("external_id", flat=True)) == ["1234"]
    [entry] = log_entries()
    assert (entry.code, entry.field) == ("invalid_type", "messageId")


def test_unknown_track_rejected_into_the_log(client, workspace):
    """With the reject policy an unknown event is not defined or stored; the message is in the
    ingestion log with the reason, and the answer is still 200 (fire and forget)."""
    workspace_update(workspace=workspace, fields={"unknown_track": "reject"})
    assert_success(post(client, "/v1/track", DOC_TRACK))
    assert not Event.objects.exists()
    assert definition_get(workspace=workspace, definition_id="c_item_purchased") is None
    [entry] = log_entries()
    assert entry.code == "unknown_definition"
    assert entry.field == "event"
    assert "Item Purchased" in entry.message
    assert "c_item_purchased" in entry.message
    assert entry.payload["event"] == "Item Purchased"
    assert entry.payload["properties"] == DOC_TRACK["properties"]


def test_auto_define_within_the_property_limit(client, workspace, settings):
    """Auto-definition types at most CDP_MAX_CUSTOM_PROPERTIES properties, first seen first,
    skipping objects and lists; a message carrying a property the definition lacks is rejected
    into the log naming it, the others are stored."""
    settings.CDP_MAX_CUSTOM_PROPERTIES = 3
    wide = {
        "userId": "u-1",
        "event": "Order Completed",
        "messageId": "wide",
        "properties": {
            "products": [{"sku": "a"}],
            "orderId": "o-1",
            "total": 30,
            "coupon": "X",
            "paid": True,
        },
    }
    narrow = {
        "userId": "u-1",
        "event": "Order Completed",
        "messageId": "narrow",
        "properties": {"orderId": "o-2", "total": 12.5, "coupon": None},
    }
    assert_success(
        post(
            client, "/v1/batch", {"batch": [{"type": "track", **wide}, {"type": "track", **narrow}]}
        )
    )
    definition = definition_get(workspace=workspace, definition_id="c_order_completed")
    assert dict(definition.properties.values_list("key", "type")) == {
        "orderId": "text",
        "total": "number",
        "coupon": "text",
    }
    assert list(Event.objects.values_list("external_id", flat=True)) == ["narrow"]
    [entry] = log_entries()
    assert entry.code == "unknown_property"
    assert "products" in entry.message
    assert entry.payload["messageId"] == "wide"


def test_unnamed_track_is_logged(client):
    """A track without an event name is logged (Segment: "Track event is missing name")."""
    assert_success(post(client, "/v1/track", {"userId": "u-1", "event": None}))
    [entry] = log_entries()
    assert (entry.code, entry.field) == ("required", "event")
    assert not Event.objects.exists()


# page, screen --------------------------------------------------------------------------------


def test_page_is_rejected_while_page_view_is_disabled(client):
    """``pageView`` is a standard event, off until the workspace enables it (§4): the docs'
    page call is logged with that reason."""
    assert_success(post(client, "/v1/page", DOC_PAGE))
    assert not Event.objects.exists()
    [entry] = log_entries()
    assert entry.code == "definition_disabled"


def test_page_maps_to_page_view(client, workspace):
    """A page call is a ``pageView`` with the page fields from the properties and
    ``context.page``, the language and device from the context."""
    page_view = definition_get(workspace=workspace, definition_id="pageView")
    definition_set_enabled(workspace=workspace, definition=page_view, enabled=True)
    assert_success(post(client, "/v1/page", DOC_PAGE))
    body = {
        "anonymousId": "anon-1",
        "name": None,
        "category": None,
        "properties": {
            "title": "Pricing",
            "url": "https://shop.example.com/pricing?a=1",
            "search": "?a=1",
            "keywords": ["x"],
        },
        "context": {
            "page": {"path": "/pricing", "referrer": "https://google.com/"},
            "locale": "en-US",
            "userAgent": CHROME_UA,
        },
    }
    assert_success(post(client, "/v1/page", body))
    first, second = Event.objects.order_by("id")
    assert first.definition == page_view
    assert first.properties == {"pageTitle": "Tracking HTTP API"}
    assert second.properties == {
        "pageTitle": "Pricing",
        "url": "https://shop.example.com/pricing?a=1",
        "domain": "shop.example.com",
        "path": "/pricing",
        "referrer": "https://google.com/",
        "browserLanguage": "en-US",
        "deviceType": "desktop",
        "browserName": "Chrome",
        "browserVersion": "124.0.0.0",
        "browserOS": "Windows",
    }
    assert log_entries() == []


def test_screen_is_a_screen_viewed_event(client, workspace):
    """The docs' screen call is ``c_screen_viewed`` with the screen name as a property."""
    assert_success(post(client, "/v1/screen", DOC_SCREEN))
    event = Event.objects.get()
    assert event.definition.definition_id == "c_screen_viewed"
    assert event.properties == {"name": "Tracking HTTP API"}


# alias, group --------------------------------------------------------------------------------


def test_alias_doc_example_merges_the_previous_id(client, workspace):
    """Both ids name people: the previous one is merged into the userId one."""
    definition_create(workspace=workspace, definition_id="c_clicked", name="Clicked")
    assert_success(
        post(
            client,
            "/v1/track",
            {"anonymousId": DOC_ALIAS["previousId"], "event": "c_clicked", "messageId": "a"},
        )
    )
    assert_success(
        post(client, "/v1/identify", {"userId": "019mr8mf4r", "traits": {"firstName": "Peter"}})
    )
    assert_success(post(client, "/v1/alias", DOC_ALIAS))
    peter = Person.objects.get()
    assert (peter.external_id, peter.first_name) == ("019mr8mf4r", "Peter")
    assert identifiers(peter) == {("anonymous_id", DOC_ALIAS["previousId"])}
    assert Event.objects.get().person_id == peter.pk
    assert log_entries() == []


def test_alias_renames_a_known_user(client):
    """``previousId`` an earlier userId: the person continues under the new userId."""
    assert_success(
        post(client, "/v1/identify", {"userId": "old-id", "traits": {"firstName": "Ann"}})
    )
    assert_success(post(client, "/v1/alias", {"previousId": "old-id", "userId": "new-id"}))
    ann = Person.objects.get()
    assert (ann.external_id, ann.first_name) == ("new-id", "Ann")


@pytest.mark.parametrize("existing", ["none", "user"])
def test_alias_attaches_the_missing_id(client, existing):
    """With one person or none, the result is one person under userId with previousId as an
    anonymous id."""
    if existing == "user":
        assert_success(post(client, "/v1/identify", {"userId": "019mr8mf4r"}))
    assert_success(post(client, "/v1/alias", DOC_ALIAS))
    peter = Person.objects.get()
    assert peter.external_id == "019mr8mf4r"
    assert identifiers(peter) == {("anonymous_id", DOC_ALIAS["previousId"])}


def test_alias_needs_both_ids(client):
    """An alias without previousId changes nothing and is logged naming the field."""
    assert_success(post(client, "/v1/alias", {"userId": "u-1", "previousId": None}))
    [entry] = log_entries()
    assert (entry.code, entry.field) == ("required", "previousId")
    assert not Person.objects.exists()


def test_group_doc_example_tags_the_person(client, workspace):
    """The docs' group call tags the person ``group:<groupId>``; with a ``groupId`` attribute
    definition the attribute is set too."""
    attribute_definition_create(workspace=workspace, key="groupId", name="Group", type="text")
    assert_success(post(client, "/v1/group", DOC_GROUP))
    peter = person("019mr8mf4r")
    assert list(peter.tags.values_list("name", flat=True)) == ["group:8e9df332ac"]
    assert peter.attributes == {"groupId": "8e9df332ac"}
    assert (peter.first_name, peter.city) == ("", "")  # the group's traits are not the user's


# batch, gzip, limits -------------------------------------------------------------------------


@pytest.mark.parametrize("compress", [False, True])
def test_batch_doc_example(client, workspace, compress):
    """The docs' batch (two identifies, two tracks), plain or gzipped."""
    assert_success(post(client, "/v1/batch", DOC_BATCH, compress=compress))
    jake, cindy = person("019mr8mf4r"), person("971mj8mk7p")
    assert (jake.first_name, cindy.last_name) == ("Jake", "Gonzalez")
    assert identifiers(cindy) == {("email", "cindy@example.com")}
    events = Event.objects.order_by("occurred_at")
    assert [e.person_id for e in events] == [jake.pk, cindy.pk]
    assert {e.definition.definition_id for e in events} == {"c_song_played"}
    assert events[1].occurred_at == datetime(2015, 2, 2, 0, 30, 12, 984000, tzinfo=UTC)
    assert events[1].properties == {"name": "Get Right", "artist": "Jennifer Lopez"}
    assert log_entries() == []


def test_batch_message_without_type_is_logged(client):
    """A batch message without a valid type is logged; the rest of the batch is stored."""
    body = {
        "batch": [
            {"userId": "u-1", "event": "x"},
            {"type": "track", "userId": "u-1", "event": "Signed Up"},
        ]
    }
    assert_success(post(client, "/v1/batch", body))
    [entry] = log_entries()
    assert (entry.code, entry.field) == ("invalid", "batch[0].type")
    assert Event.objects.get().definition.definition_id == "c_signed_up"


def test_message_over_32_kb_fails_the_request(client):
    """Segment's limits: 32 KB per message, in a batch or alone; nothing is stored."""
    big = {
        "type": "track",
        "userId": "u-1",
        "event": "Big",
        "properties": {"text": "x" * (33 * 1024)},
    }
    message = assert_segment_error(
        post(client, "/v1/batch", {"batch": [big]}), 400, "payload_too_large"
    )
    assert message.startswith("Exceed payload limit")
    assert "batch[0]" in message
    assert_segment_error(post(client, "/v1/track", big), 400, "payload_too_large")
    assert not Event.objects.exists()
    in_batch, alone = log_entries()
    assert (in_batch.code, in_batch.field) == ("payload_too_large", "batch[0]")
    assert in_batch.payload == big  # the offending message, whole (under the log's bound)
    assert (alone.code, alone.field) == ("payload_too_large", "body")
    assert alone.payload["raw"].startswith('{"type":"track","userId":"u-1"')
    assert alone.payload["bytes"] > 33 * 1024


CHUNK = {
    "type": "track",
    "userId": "u-1",
    "event": "Chunk",
    "properties": {key: "x" * 4000 for key in "abcde"},
}  # 20 KB, storable


def chunks(count: int) -> dict:
    return {"batch": [{**CHUNK, "messageId": str(i)} for i in range(count)]}


def test_batch_over_500_kb_is_stored_by_default(client):
    """By default a batch may be as large as the ingest body bound (~6 MiB), as RudderStack
    and PostHog clients send up to 4–5 MiB: 40 messages of 20 KB (800 KB) are all stored."""
    assert len(orjson.dumps(chunks(40))) > 800_000
    assert_success(post(client, "/v1/batch", chunks(40), compress=True))
    assert Event.objects.count() == 40
    assert log_entries() == []


def test_batch_over_segments_500_kb_fails_when_set(client, settings):
    """With ``CDP_SEGMENT_MAX_BATCH_BYTES = 500000`` (Segment's limit) a larger batch is
    refused whole in Segment's shape and kept in the ingestion log by its beginning; just
    under passes."""
    settings.CDP_SEGMENT_MAX_BATCH_BYTES = 500_000
    message = assert_segment_error(
        post(client, "/v1/batch", chunks(26), compress=True), 400, "payload_too_large"
    )
    assert message.startswith("Exceed payload limit")
    assert "at most 488 KB per batch" in message
    assert not Event.objects.exists()
    [entry] = log_entries()
    assert (entry.code, entry.field) == ("payload_too_large", "body")
    assert entry.payload["bytes"] > 500_000
    assert entry.payload["raw"].startswith('{"batch":[{"type":"track"')
    assert len(entry.payload["raw"]) == segment.LOGGED_BODY_CHARS
    assert_success(post(client, "/v1/batch", chunks(24)))
    assert Event.objects.count() == 24


def test_large_gzip_body_is_answered_in_segment_shape(client, settings):
    """A 4 MiB gzipped body passes Django's upload limit (and by default the batch limit);
    with Segment's 500 KB set it is refused in Segment's shape; a body over the ~6 MiB
    bound is refused before it is decoded."""
    noise = base64.b64encode(random.Random(7).randbytes(4 * 1024 * 1024)).decode()
    body = gzip.compress(orjson.dumps({"batch": [], "pad": noise}), compresslevel=1)
    assert 4 * 1024 * 1024 <= len(body) < 6 * 1024 * 1024  # over DATA_UPLOAD_MAX_MEMORY_SIZE
    response = client.post(
        "/v1/batch", body, content_type="application/json", HTTP_CONTENT_ENCODING="gzip"
    )
    assert_success(response)
    settings.CDP_SEGMENT_MAX_BATCH_BYTES = 500_000
    response = client.post(
        "/v1/batch", body, content_type="application/json", HTTP_CONTENT_ENCODING="gzip"
    )
    assert_segment_error(response, 400, "payload_too_large")
    huge = b'{"batch": [], "pad": "' + b"x" * (7 * 1024 * 1024) + b'"}'
    assert_segment_error(post(client, "/v1/batch", huge), 400, "payload_too_large")


def test_gzip_bomb_is_refused_without_expanding(client):
    """A few KB of gzip that would expand past the ~6 MiB bound is refused with Segment's
    400 ``Exceed payload limit`` naming the decompressed size (never a 500), and logged with
    the beginning of the bytes as sent."""
    bomb = gzip.compress(b'{"batch": [], "pad": "' + b"0" * (64 * 1024 * 1024) + b'"}')
    assert len(bomb) < 100 * 1024
    response = client.post(
        "/v1/batch", bomb, content_type="application/json", HTTP_CONTENT_ENCODING="gzip"
    )
    message = assert_segment_error(response, 400, "payload_too_large")
    assert message.startswith("Exceed payload limit: decompressed body over")
    assert not Event.objects.exists()
    [entry] = log_entries()
    assert entry.code == "payload_too_large"
    assert "decompressed body over" in entry.message
    assert 0 < len(entry.payload["raw"]) <= 2000  # the gzip bytes as sent, cut


def test_more_than_the_batch_message_limit_logs_the_rest(client, monkeypatch):
    """Past Segment's messages-per-batch limit the rest is dropped, logged, still a 200."""
    monkeypatch.setattr(segment, "MAX_BATCH_MESSAGES", 2)
    batch = [
        {"type": "track", "userId": "u-1", "event": "Tick", "messageId": str(i)} for i in range(5)
    ]
    assert_success(post(client, "/v1/batch", {"batch": batch}))
    assert Event.objects.count() == 2
    [entry] = log_entries()
    assert (entry.code, entry.payload["dropped"]) == ("batch_too_large", 3)


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"{not json", "invalid_json"),
        (b"", "required"),
        (b"[1, 2]", "invalid_json"),
        (b'{"batch": {"type": "track"}}', "invalid"),
    ],
)
def test_unreadable_body_is_a_400(client, body, code):
    """Invalid or empty JSON, a non-object body or a batch that is not a list answer 400 in
    Segment's shape (Segment: "JSON errors return 400"), and the body is in the ingestion
    log with the reason."""
    path = "/v1/batch" if b"batch" in body else "/v1/track"
    message = assert_segment_error(post(client, path, body), 400, code)
    [entry] = log_entries()
    assert entry.code == code
    assert entry.message == f"{entry.field}: {message}"


@pytest.mark.parametrize("compress", [False, True])
def test_unreadable_body_is_logged_as_sent(client, compress):
    """The log keeps what was sent: the (gunzipped) text of invalid JSON, the parsed body of
    a non-object or of a batch that is not a list."""
    assert_segment_error(
        post(client, "/v1/track", b"{not json", compress=compress), 400, "invalid_json"
    )
    assert_segment_error(
        post(client, "/v1/track", b"[1, 2]", compress=compress), 400, "invalid_json"
    )
    assert_segment_error(
        post(client, "/v1/batch", b'{"batch": {"type": "track"}}', compress=compress),
        400,
        "invalid",
    )
    not_json, not_object, not_list = log_entries()
    assert not_json.payload == {"raw": "{not json", "bytes": 9}
    assert (not_json.field, not_object.payload) == ("body", {"body": [1, 2]})
    assert (not_list.field, not_list.payload) == ("batch", {"batch": {"type": "track"}})


def test_invalid_gzip_is_a_400(client):
    """A body that says gzip but is not answers 400 in Segment's shape; the bytes as sent
    are in the ingestion log."""
    response = client.post(
        "/v1/track", b"not gzip", content_type="application/json", HTTP_CONTENT_ENCODING="gzip"
    )
    assert_segment_error(response, 400, "invalid_gzip")
    [entry] = log_entries()
    assert (entry.code, entry.payload) == ("invalid_gzip", {"raw": "not gzip"})


def test_write_key_in_the_body_is_not_logged(workspace, secret_key):
    """A ``writeKey`` sent in the body authenticates but is never kept in the log."""
    anonymous = Client()
    assert_success(post(anonymous, "/v1/track", {"writeKey": secret_key, "userId": None}))
    assert_segment_error(
        post(anonymous, "/v1/batch", {"writeKey": secret_key, "batch": 1}), 400, "invalid"
    )
    single, batch = log_entries()
    assert single.code == "no_user_anon_id"
    assert "writeKey" not in single.payload
    assert batch.payload == {"batch": 1}


def test_refused_body_without_a_known_key_is_not_logged(workspace):
    """Without a key there is no workspace to log into: a 401, and nothing logged."""
    assert_segment_error(post(Client(), "/v1/track", b"{broken"), 401, "unauthorized")
    assert not IngestionLogEntry.objects.exists()


# auth, methods, null fields ------------------------------------------------------------------


def test_missing_or_unknown_key_is_401(secret_key, workspace):
    """No key, an unknown key or a revoked one answers 401 ``unauthorized`` (before the body
    is even read) and stores nothing."""
    anonymous = Client()
    assert_segment_error(post(anonymous, "/v1/track", DOC_TRACK), 401, "unauthorized")
    assert_segment_error(
        post(Client(HTTP_AUTHORIZATION=basic("nope")), "/v1/track", DOC_TRACK), 401, "unauthorized"
    )
    revoked = api_key_create(workspace=workspace)
    api_key_revoke(api_key=revoked.api_key)
    assert_segment_error(
        post(Client(HTTP_AUTHORIZATION=basic(revoked.raw_key)), "/v1/batch", DOC_BATCH),
        401,
        "unauthorized",
    )
    assert_segment_error(post(anonymous, "/v1/track", b"{broken"), 401, "unauthorized")
    assert not Event.objects.exists()
    assert not Person.objects.exists()


@pytest.mark.parametrize("how", ["basic-public", "app", "bearer", "body"])
def test_key_forms(workspace, how):
    """Public keys ingest too; App and Bearer schemes and Segment's ``writeKey`` in the body
    are accepted."""
    kind = ApiKey.Kind.PUBLIC if how == "basic-public" else ApiKey.Kind.SECRET
    key = api_key_create(workspace=workspace, kind=kind).raw_key
    header = {
        "basic-public": basic(key),
        "app": f"App {key}",
        "bearer": f"Bearer {key}",
        "body": None,
    }[how]
    client = Client(HTTP_AUTHORIZATION=header) if header else Client()
    body = {**DOC_TRACK, "writeKey": key} if how == "body" else DOC_TRACK
    assert_success(post(client, "/v1/track", body))
    assert Event.objects.get().workspace == workspace


def test_only_post(client):
    """Other methods answer 405 in Segment's shape, naming POST (and OPTIONS, the CORS
    preflight)."""
    response = client.get("/v1/track")
    assert_segment_error(response, 405, "method_not_allowed")
    assert response["Allow"] == "POST, OPTIONS"


@pytest.mark.parametrize(
    "path",
    ["/v1/batch", "/v1/track", "/v1/identify", "/v1/page", "/v1/screen", "/v1/alias", "/v1/group"]
    + [f"/v1/{short}" for short in "tpisgab"],
)
def test_routes_answer_without_redirect(client, path):
    """Every route answers at its exact path (no trailing-slash redirect)."""
    body = (
        {"batch": []}
        if path in ("/v1/batch", "/v1/b")
        else {"userId": "u-1", "event": "Ping", "previousId": "p", "groupId": "g"}
    )
    assert_success(post(client, path, body))


def test_null_fields(client, workspace):
    """userId, anonymousId, name and category may be null; an integer userId is an external
    id; a message with neither id is logged as Segment's no_user_anon_id."""
    page_view = definition_get(workspace=workspace, definition_id="pageView")
    definition_set_enabled(workspace=workspace, definition=page_view, enabled=True)
    assert_success(
        post(
            client,
            "/v1/batch",
            {
                "batch": [
                    {"type": "track", "userId": None, "anonymousId": "anon-1", "event": "Opened"},
                    {"type": "track", "userId": 42, "anonymousId": None, "event": "Opened"},
                    {
                        "type": "page",
                        "userId": 42,
                        "name": None,
                        "category": None,
                        "properties": None,
                    },
                    {"type": "identify", "userId": None, "anonymousId": "anon-1", "traits": None},
                    {"type": "track", "userId": None, "anonymousId": None, "event": "Opened"},
                ]
            },
        )
    )
    assert Event.objects.filter(person__external_id="42").count() == 2
    assert Event.objects.filter(person__identifiers__value="anon-1").count() == 1
    [entry] = log_entries()
    assert (entry.code, entry.field) == ("no_user_anon_id", "batch[4].userId")


def test_original_timestamp_is_corrected_for_clock_skew(client):
    """Without ``timestamp``, the occurred time is ``originalTimestamp`` moved by the
    difference between the client's ``sentAt`` and the server's clock (Segment's rule)."""
    sent = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    original = sent - timedelta(minutes=5)
    before = datetime.now(UTC)
    assert_success(
        post(
            client,
            "/v1/batch",
            {
                "sentAt": sent.isoformat(),
                "batch": [
                    {
                        "type": "track",
                        "userId": "u-1",
                        "event": "Late",
                        "originalTimestamp": original.isoformat(),
                    }
                ],
            },
        )
    )
    occurred = Event.objects.get().occurred_at
    assert before - timedelta(minutes=5, seconds=1) <= occurred
    assert occurred <= datetime.now(UTC) - timedelta(minutes=5)


def test_nul_characters_are_dropped(client, workspace):
    """NUL characters (which PostgreSQL cannot store) are dropped from strings; the message is
    stored, never a 500."""
    definition_create(
        workspace=workspace, definition_id="c_note", name="Note", properties=[PropertyInput("text")]
    )
    assert_success(
        post(
            client,
            "/v1/track",
            {"userId": "u-\u0000", "event": "c_note", "properties": {"text": "a\u0000b\\u0000"}},
        )
    )
    event = Event.objects.get()
    assert event.properties == {"text": "ab\\u0000"}  # an escaped backslash-u is text
    assert event.person.external_id == "u-"


def test_schema_describes_the_segment_routes(client):
    """The OpenAPI schema lists the /v1/* tracking routes."""
    import yaml

    schema = yaml.safe_load(Client().get("/api/v1/schema").content)
    for kind in ("batch", "track", "identify", "page", "screen", "alias", "group"):
        assert "post" in schema["paths"][f"/v1/{kind}"], kind


def test_attribute_definitions_are_per_workspace(client, other_workspace):
    """Another workspace's attribute definitions do not make a trait custom here."""
    attribute_definition_create(workspace=other_workspace, key="plan", name="Plan", type="text")
    assert_success(post(client, "/v1/identify", {"userId": "u-1", "traits": {"plan": "pro"}}))
    assert person("u-1").attributes == {}
    assert AttributeDefinition.objects.count() == 1
