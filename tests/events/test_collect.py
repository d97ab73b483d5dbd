"""Web SDK collect endpoint (§6): ``POST /api/v1/collect`` through the HTTP client.

Track and identify items, identity linking, device/browser/OS from the User-Agent header,
``text/plain`` beacon bodies with the key in the query string, dedupe by messageId, errors in
the native shape, workspace scoping of keys, CORS, and the demo page that loads the SDK.
"""

from datetime import timedelta

import orjson
import pytest
from django.contrib.staticfiles import finders
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from events.models import Event, EventDefinition, IngestionLogEntry
from events.services import definition_set_enabled
from people.models import ApiKey, Identifier, Person
from people.workspaces import api_key_create, api_key_revoke, workspace_create
from tests.api_helpers import assert_error, key_client, workspace_api
from tests.factories import DefinitionFactory, PersonFactory, props

pytestmark = pytest.mark.django_db
URL = "/api/v1/collect"
CHROME_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like "
    "Gecko) Chrome/124.0.6367.91 Safari/537.36"
)
SAFARI_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
)
ANDROID_TABLET = (
    "Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like "
    "Gecko) Chrome/123.0.6312.118 Safari/537.36"
)
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
SAMSUNG_TV = (
    "Mozilla/5.0 (SMART-TV; LINUX; Tizen 6.0) AppleWebKit/537.36 (KHTML, like Gecko) "
    "76.0.3809.146/6.0 TV Safari/537.36"
)
LG_WEBOS_TV = (
    "Mozilla/5.0 (Web0S; Linux/SmartTV) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/79.0.3945.79 Safari/537.36 WebAppManager"
)
HBBTV = (
    "Mozilla/5.0 (Linux; U; Android 4.2.2; HbbTV/1.2.1 (; Philips; ; ; ; ) CE-HTML/1.0 NETTV/4.3.0"
)
SONY_BRAVIA = (
    "Mozilla/5.0 (Linux; Android 9; BRAVIA 4K GB Build/PTT1.190515.001.S52) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/80.0.3987.119 Mobile Safari/537.36"
)
ANDROID_TV = (
    "Mozilla/5.0 (Linux; Android 12; Android TV) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/108.0.0.0 Safari/537.36"
)
APPLE_TV = "AppleTV11,1/11.1"
ROKU = "Roku/DVP-9.10 (519.10E04111A)"
PLAYSTATION_5 = (
    "Mozilla/5.0 (PlayStation; PlayStation 5/2.26) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/13.0 Safari/605.1.15"
)
XBOX_ONE = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; Xbox; Xbox One) AppleWebKit/537.36 (KHTML, like "
    "Gecko) Chrome/70.0.3538.102 Safari/537.36 Edge/18.19041"
)
NINTENDO_SWITCH = (
    "Mozilla/5.0 (Nintendo Switch; WifiWebAuthApplet) AppleWebKit/606.4 (KHTML, like Gecko) "
    "NF/6.0.1.15.4 NintendoBrowser/5.1.0.20393"
)
BINGBOT = "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)"
CURL = "curl/8.6.0"
STANDARD = ("sessionStarted", "pageView", "sessionEnded")


@pytest.fixture
def api(workspace):
    return workspace_api(workspace)


@pytest.fixture
def signup(workspace):
    return DefinitionFactory(
        workspace=workspace, definition_id="c_signup", properties=props(plan="text", seats="number")
    )


def enable_standard(workspace) -> None:
    for code in STANDARD:
        definition_set_enabled(
            workspace=workspace,
            enabled=True,
            definition=EventDefinition.objects.get(workspace=None, definition_id=code),
        )


@pytest.fixture
def standard_on(workspace):
    enable_standard(workspace)


def track(event="c_signup", properties=None, **fields) -> dict:
    item = {
        "type": "track",
        "event": event,
        "properties": properties or {},
        "timestamp": "2024-05-01T12:00:00.000Z",
    }
    item.update(fields)
    return item


def collect(client, *events, anonymous_id="anon-1", user_agent=None, headers=None, **body):
    payload = {"anonymousId": anonymous_id, "events": list(events), **body}
    headers = dict(headers or {})
    if user_agent:
        headers["HTTP_USER_AGENT"] = user_agent
    return client.post(URL, payload, content_type="application/json", **headers)


def page_view(**properties) -> dict:
    return track(
        "pageView",
        {
            "url": "https://shop.example/pricing?x=1",
            "path": "/pricing",
            "pageTitle": "Pricing",
            **properties,
        },
        messageId="pv-1",
    )


def test_track_with_the_key_in_the_body_stores_an_sdk_event_on_an_anonymous_person(api, signup):
    """A track item with a public key in the body is stored with origin SDK, its messageId as
    external id and its sessionId, on a person created from the anonymous id."""
    response = collect(
        Client(),
        track(properties={"plan": "pro"}, messageId="m-1", sessionId="s-1"),
        key=api.public_raw,
    )
    assert response.status_code == 200, response.content
    assert response.json() == {"accepted": 1, "duplicates": 0, "rejected": 0, "errors": []}
    event = Event.objects.get(workspace=api.workspace)
    assert (event.origin, event.external_id, event.session_id) == (Event.Origin.SDK, "m-1", "s-1")
    assert event.properties == {"plan": "pro"}
    assert event.occurred_at.isoformat() == "2024-05-01T12:00:00+00:00"
    assert Identifier.objects.get(person=event.person).type == "anonymous_id"
    assert Identifier.objects.get(person=event.person).value == "anon-1"
    assert event.person.external_id is None


def test_identify_gives_earlier_anonymous_events_to_the_identified_person(api, signup):
    """After identify, the events the browser sent anonymously belong to the person with the
    external id, email and traits given, and so do later ones."""
    client = api.public
    assert collect(client, track(messageId="before")).json()["accepted"] == 1
    answer = collect(
        client,
        {
            "type": "identify",
            "messageId": "id-1",
            "identifiers": {"externalId": "CUST-1", "email": "Ann@Example.com"},
            "traits": {"firstName": "Ann", "city": "Zagreb"},
        },
    ).json()
    assert answer == {"accepted": 1, "duplicates": 0, "rejected": 0, "errors": []}
    assert collect(client, track(messageId="after"), externalId="CUST-1").json()["accepted"] == 1

    person = Person.objects.get(workspace=api.workspace, external_id="CUST-1")
    assert (person.first_name, person.city) == ("Ann", "Zagreb")
    assert set(person.identifiers.values_list("type", "value")) == {
        ("anonymous_id", "anon-1"),
        ("email", "ann@example.com"),
    }
    events = Event.objects.filter(workspace=api.workspace)
    assert sorted(events.values_list("external_id", flat=True)) == ["after", "before"]
    assert set(events.values_list("person_id", flat=True)) == {person.pk}
    assert Person.objects.filter(workspace=api.workspace).count() == 1


def test_identify_of_a_known_customer_on_a_new_browser_merges_the_visitor_into_them(api, signup):
    """A known customer signs in on a new browser and the site relays it with a secret key:
    identity resolution merges the anonymous visitor into the customer, so events from before
    and after identify are theirs. (A public key cannot: tests/people/test_public_keys.py.)"""
    known = PersonFactory(workspace=api.workspace, external_id="CUST-9")
    collect(api.public, track(messageId="anonymous"), anonymous_id="new-browser")
    answer = collect(
        api.secret,
        {"type": "identify", "identifiers": {"externalId": "CUST-9"}},
        track(messageId="signed-in"),
        anonymous_id="new-browser",
    ).json()
    assert (answer["accepted"], answer["rejected"]) == (2, 0)
    events = Event.objects.filter(workspace=api.workspace)
    assert set(events.values_list("person_id", flat=True)) == {known.pk}
    assert Person.objects.filter(workspace=api.workspace).count() == 1
    assert known.identifiers.filter(type="anonymous_id", value="new-browser").exists()


@pytest.mark.parametrize(
    ("user_agent", "expected"),
    [
        (
            CHROME_WINDOWS,
            {
                "deviceType": "desktop",
                "browserName": "Chrome",
                "browserVersion": "124.0.6367.91",
                "browserOS": "Windows",
            },
        ),
        (
            SAFARI_IPHONE,
            {
                "deviceType": "mobile",
                "browserName": "Mobile Safari",
                "browserVersion": "17.4",
                "browserOS": "iOS",
            },
        ),
        (ANDROID_TABLET, {"deviceType": "tablet", "browserName": "Chrome", "browserOS": "Android"}),
        (GOOGLEBOT, {"deviceType": "spider", "browserName": "Googlebot"}),
    ],
    ids=["desktop-chrome", "iphone-safari", "android-tablet", "googlebot"],
)
def test_page_view_gets_device_browser_and_os_from_the_user_agent(
    api, standard_on, user_agent, expected
):
    """pageView is completed server-side from the User-Agent header: device type, browser name
    and version, OS; what the page sent is kept."""
    response = collect(api.public, page_view(), user_agent=user_agent)
    assert response.json()["accepted"] == 1, response.content
    properties = Event.objects.get(workspace=api.workspace).properties
    assert {k: properties.get(k) for k in expected} == expected
    assert (properties["path"], properties["pageTitle"]) == ("/pricing", "Pricing")


@pytest.mark.parametrize(
    ("user_agent", "device_type"),
    [
        (SAMSUNG_TV, "TV"),
        (LG_WEBOS_TV, "TV"),
        (HBBTV, "TV"),
        (SONY_BRAVIA, "TV"),
        (ANDROID_TV, "TV"),
        (APPLE_TV, "TV"),
        (ROKU, "TV"),
        (PLAYSTATION_5, "console"),
        (XBOX_ONE, "console"),
        (NINTENDO_SWITCH, "console"),
        (GOOGLEBOT, "spider"),
        (BINGBOT, "spider"),
        (CURL, "unknown"),
    ],
    ids=[
        "samsung-tizen-tv",
        "lg-webos-tv",
        "hbbtv",
        "sony-bravia",
        "android-tv",
        "apple-tv",
        "roku",
        "playstation-5",
        "xbox-one",
        "nintendo-switch",
        "googlebot",
        "bingbot",
        "curl",
    ],
)
def test_device_type_takes_infobips_values(api, standard_on, user_agent, device_type):
    """deviceType is one of Infobip's values (unknown, mobile, tablet, desktop, spider, TV,
    console): smart TVs are TV even when their agent says Android or Mobile, game consoles are
    console even when they say Windows, crawlers are spider, anything else unknown. Read back
    through the events API."""
    response = collect(api.public, page_view(), user_agent=user_agent)
    assert response.json()["accepted"] == 1, response.content
    listed = api.secret.get("/api/v1/events", {"definitionId": "pageView"}).json()
    rows = listed["results"] if isinstance(listed, dict) else listed
    assert [row["properties"]["deviceType"] for row in rows] == [device_type]


def test_page_values_win_over_the_user_agent_and_other_events_are_left_alone(
    api, standard_on, signup
):
    """A deviceType the page sent is kept; events other than pageView get no browser fields."""
    response = collect(
        api.public,
        page_view(deviceType="kiosk"),
        track(messageId="m-2", properties={"plan": "free"}),
        user_agent=CHROME_WINDOWS,
    )
    assert response.json()["accepted"] == 2
    view = Event.objects.get(definition__definition_id="pageView")
    assert (view.properties["deviceType"], view.properties["browserName"]) == ("kiosk", "Chrome")
    assert Event.objects.get(external_id="m-2").properties == {"plan": "free"}


def test_beacon_body_as_text_plain_with_the_key_in_the_query_string(api, standard_on):
    """sendBeacon's request: a text/plain body, no Authorization header, ?key=<public key>."""
    body = orjson.dumps(
        {
            "anonymousId": "anon-b",
            "events": [
                track("sessionStarted", {"sessionId": "s-9"}, messageId="ss-s-9", sessionId="s-9")
            ],
        }
    )
    response = Client().post(
        f"{URL}?key={api.public_raw}", body, content_type="text/plain;charset=UTF-8"
    )
    assert response.status_code == 200, response.content
    assert response.json()["accepted"] == 1
    event = Event.objects.get(workspace=api.workspace)
    # The built-in defaults complete what the browser left out.
    assert event.properties == {"sessionId": "s-9", "utm_source": "direct", "sessionType": "web"}


def test_a_repeated_message_id_is_a_duplicate_stored_once(api, signup):
    """A retried batch is answered as duplicates and stored once (messageId dedupes)."""
    first = collect(api.public, track(messageId="m-1"), track(messageId="m-2"))
    again = collect(api.public, track(messageId="m-1"), track(messageId="m-2"))
    assert first.json()["accepted"] == 2
    assert (again.json()["accepted"], again.json()["duplicates"]) == (0, 2)
    assert Event.objects.filter(workspace=api.workspace).count() == 2


def test_a_browser_clock_set_wrong_is_corrected_from_sent_at(api, signup):
    """A browser whose clock is two hours behind: its event times are moved by the difference
    between its sentAt and the server's clock; a clock within a minute is trusted as is."""
    now = timezone.now()
    browser_now = now - timedelta(hours=2)
    happened = (browser_now - timedelta(seconds=30)).isoformat()
    collect(
        api.public, track(messageId="skewed", timestamp=happened), sentAt=browser_now.isoformat()
    )
    occurred = Event.objects.get(external_id="skewed").occurred_at
    assert abs(occurred - (now - timedelta(seconds=30))) < timedelta(seconds=5)

    collect(
        api.public,
        track(messageId="fine", timestamp="2024-05-01T12:00:00Z"),
        sentAt=(now - timedelta(seconds=20)).isoformat(),
    )
    assert Event.objects.get(external_id="fine").occurred_at.isoformat() == (
        "2024-05-01T12:00:00+00:00"
    )


def test_a_secret_key_in_the_authorization_header_works_too(api, signup):
    """Server-side relays may use a secret key as ``Authorization: App <key>``."""
    response = collect(api.secret, track(messageId="m-1"))
    assert response.json()["accepted"] == 1


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        (b"{not json", "body", "invalid_json"),
        (b"[]", "body", "invalid_type"),
        (b'{"events": []}', "anonymousId", "required"),
        (b'{"anonymousId": 7, "events": []}', "anonymousId", "invalid_type"),
        (b'{"anonymousId": "a", "events": {}}', "events", "required"),
        (b'{"anonymousId": "a", "events": [], "workspace": "other"}', "workspace", "invalid"),
        (b'{"anonymousId": "a", "externalId": ["x"], "events": []}', "externalId", "invalid_type"),
    ],
)
def test_bad_bodies_are_native_errors_naming_the_field(api, body, field, code):
    """A body that is not a collect batch is a 400 in the native shape naming the field."""
    response = api.public.post(URL, body, content_type="application/json")
    assert_error(response, 400, code=code, field=field)


def test_too_many_events_is_an_error(api, signup):
    """A request with more than 100 items is refused as a whole."""
    response = collect(api.public, *[track(messageId=f"m-{i}") for i in range(101)])
    assert_error(response, 400, code="batch_too_large", field="events")
    assert not Event.objects.exists()


def test_bad_items_are_rejected_into_the_ingestion_log_with_their_field(api, signup):
    """Items that cannot be stored are counted as rejected, listed with the field as the SDK
    named it, and kept in the ingestion log; the good items of the batch are stored."""
    response = collect(
        api.public,
        track(messageId="ok"),
        {"type": "page"},
        track(properties={"colour": "red"}),
        track(event=None),
        track(timestamp="yesterday"),
        {"type": "identify", "identifiers": {"email": "not-an-email"}},
    )
    answer = response.json()
    assert (answer["accepted"], answer["rejected"]) == (1, 5), answer
    fields = {e["index"]: e["field"] for e in answer["errors"]}
    assert fields == {
        1: "events[1].type",
        2: "events[2].properties.colour",
        3: "events[3].event",
        4: "events[4].timestamp",
        5: "events[5].identifiers.email",
    }
    logged = IngestionLogEntry.objects.filter(workspace=api.workspace, endpoint="sdk")
    assert logged.count() == 5
    # The log keeps each item as sent, with the field named within it.
    assert set(logged.values_list("field", flat=True)) == {
        "type",
        "properties.colour",
        "event",
        "occurredTime",
        "identifiers.email",
    }
    assert logged.get(field="properties.colour").payload == track(properties={"colour": "red"})
    assert Event.objects.get(workspace=api.workspace).external_id == "ok"


def test_identify_with_a_bad_trait_changes_nothing(api):
    """An identify whose traits do not validate is rejected whole: no person is linked."""
    answer = collect(
        api.public,
        {
            "type": "identify",
            "identifiers": {"externalId": "C-1"},
            "traits": {"gender": "unknown", "shoeSize": 42},
        },
    ).json()
    assert answer["rejected"] == 1
    assert answer["errors"][0]["field"].startswith("events[0].traits.")
    assert not Person.objects.filter(workspace=api.workspace).exists()


def test_a_disabled_standard_event_is_rejected_into_the_ingestion_log(api):
    """pageView is off until the workspace enables it: the SDK's page views are rejected and
    logged with the reason, never stored."""
    answer = collect(api.public, page_view()).json()
    assert answer["rejected"] == 1
    assert answer["errors"][0]["code"] == "definition_disabled"
    assert answer["errors"][0]["field"] == "events[0].event"
    assert IngestionLogEntry.objects.get(workspace=api.workspace).code == "definition_disabled"
    assert not Event.objects.exists()


def test_a_key_writes_only_to_its_own_workspace(api, signup):
    """The key decides the workspace: another workspace's public key stores its events there,
    under its own person, and nothing reaches this workspace."""
    other = workspace_create(slug="globex", name="Globex")
    DefinitionFactory(workspace=other, definition_id="c_signup")
    other_key = api_key_create(workspace=other, kind=ApiKey.Kind.PUBLIC).raw_key
    assert collect(key_client(other_key), track(messageId="theirs")).json()["accepted"] == 1
    assert not Event.objects.filter(workspace=api.workspace).exists()
    assert not Person.objects.filter(workspace=api.workspace).exists()
    assert Event.objects.get(external_id="theirs").workspace == other
    # The same anonymous id in this workspace is a different person.
    assert collect(api.public, track(messageId="mine")).json()["accepted"] == 1
    mine, theirs = (Event.objects.get(external_id=x) for x in ("mine", "theirs"))
    assert mine.person_id != theirs.person_id
    assert mine.workspace == api.workspace


@pytest.mark.parametrize("how", ["missing", "unknown", "revoked"])
def test_without_a_live_key_the_answer_is_401(api, signup, how):
    """No key, an unknown key or a revoked one: 401 in the native shape naming the key."""
    if how == "revoked":
        api_key_revoke(api_key=api.public_key)
    key = {"missing": None, "unknown": "pk_nope", "revoked": api.public_raw}[how]
    response = collect(Client(), track(), **({"key": key} if key else {}))
    assert_error(response, 401, field="key")
    assert response["Access-Control-Allow-Origin"] == "*"
    assert not Event.objects.exists()


def test_over_the_rate_limit_the_answer_is_429_which_the_sdk_retries(api, signup, settings):
    """Each key has its rate limit here too: over it, 429 in the native shape (the SDK retries
    429 with backoff), still with CORS."""
    settings.CDP_RATE_LIMIT = "2/m"
    cache.clear()
    assert collect(api.public, track(messageId="m-1")).status_code == 200
    assert collect(api.public, track(messageId="m-2")).status_code == 200
    response = collect(api.public, track(messageId="m-3"))
    assert_error(response, 429, code="throttled")
    assert response["Access-Control-Allow-Origin"] == "*"
    assert Event.objects.count() == 2


def test_an_unreadable_body_with_the_key_outside_it_is_kept_in_the_ingestion_log(api):
    """A beacon body that is not JSON answers 400 and, since the key came in the URL, is kept
    in the workspace's ingestion log for the developer to see."""
    response = Client().post(
        f"{URL}?key={api.public_raw}", b"{oops", content_type="text/plain;charset=UTF-8"
    )
    assert_error(response, 400, code="invalid_json", field="body")
    entry = IngestionLogEntry.objects.get(workspace=api.workspace)
    assert (entry.endpoint, entry.code, entry.payload) == ("sdk", "invalid_json", {"raw": "{oops"})


def test_cors_preflight_and_responses_allow_any_origin(api, signup):
    """OPTIONS answers the preflight for any origin; answers carry Allow-Origin *."""
    preflight = Client().options(
        URL,
        HTTP_ORIGIN="https://shop.example",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="content-type",
    )
    assert preflight.status_code == 204
    assert preflight["Access-Control-Allow-Origin"] == "*"
    assert "POST" in preflight["Access-Control-Allow-Methods"]
    assert "content-type" in preflight["Access-Control-Allow-Headers"].lower()
    response = collect(
        api.public, track(messageId="m-1"), headers={"HTTP_ORIGIN": "https://shop.example"}
    )
    assert response["Access-Control-Allow-Origin"] == "*"


def test_the_openapi_schema_describes_collect():
    """The served schema has the collect operation with its text/plain body."""
    schema = Client().get("/api/v1/schema", HTTP_ACCEPT="application/json").json()
    operation = schema["paths"]["/api/v1/collect"]["post"]
    assert set(operation["requestBody"]["content"]) == {"application/json", "text/plain"}


def test_the_demo_page_loads_the_sdk_with_the_key(settings):
    """/sdk/demo embeds the key from the query string and loads cdp.js; off, it is a 404."""
    settings.CDP_SDK_DEMO = True
    page = Client().get("/sdk/demo?key=pk_demo")
    assert page.status_code == 200
    assert b'"key": "pk_demo"' in page.content
    assert b"/static/cdp/cdp.js" in page.content
    assert finders.find("cdp/cdp.js")
    settings.CDP_SDK_DEMO = False
    assert Client().get("/sdk/demo?key=pk_demo").status_code == 404


def test_form_submitted_is_accepted_from_the_sdk_and_the_api(api):
    """``formSubmitted`` (switched on) is accepted from a page's batch (public key) and from
    the native events API (secret key), with the form and the page it was on."""
    definition_set_enabled(
        workspace=api.workspace,
        enabled=True,
        definition=EventDefinition.objects.get(workspace=None, definition_id="formSubmitted"),
    )
    form = {
        "formId": "contact",
        "formName": "contact-us",
        "pageTitle": "Contact us",
        "url": "https://shop.example.com/contact?x=1",
        "path": "/contact",
    }
    response = collect(api.public, track("formSubmitted", properties=form, messageId="f-1"))
    assert response.json()["accepted"] == 1, response.content
    response = api.secret.post(
        "/api/v1/events",
        {
            "definitionId": "formSubmitted",
            "person": {"externalId": "CUST-1"},
            "properties": {"formId": "newsletter", "formName": "Newsletter"},
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    listed = api.secret.get("/api/v1/events", {"definitionId": "formSubmitted"}).json()
    rows = listed["results"] if isinstance(listed, dict) else listed
    assert sorted((row["properties"] for row in rows), key=lambda p: p["formId"]) == [
        form,
        {"formId": "newsletter", "formName": "Newsletter"},
    ]
