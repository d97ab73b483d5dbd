"""What browsers send to the Segment-compatible endpoints (§2, §6): CORS preflights answered
by the workspaces' allowed origins, analytics-next's short paths with ``text/plain`` bodies
and the write key in the body, a browser's request refused for an origin its workspace does
not allow or a secret key, and RudderStack's ``"$direct"`` referrer."""

import orjson
import pytest
from django.test import Client

from cdp.errors import ServiceError
from events.models import Event, EventDefinition, IngestionLogEntry
from events.services import definition_set_enabled
from people.workspaces import origins_normalize, workspace_update

SHOP = "https://shop.example.com"
OTHER = "https://evil.example.net"


@pytest.fixture
def anonymous() -> Client:
    return Client()


@pytest.fixture
def shop_allowed(workspace):
    workspace_update(workspace=workspace, fields={"allowed_origins": [SHOP]})


@pytest.fixture
def page_views(workspace):
    definition_set_enabled(
        workspace=workspace,
        enabled=True,
        definition=EventDefinition.objects.get(workspace=None, definition_id="pageView"),
    )


def preflight(client, path: str, origin: str, headers: str = "content-type,authorization"):
    return client.options(
        path,
        HTTP_ORIGIN=origin,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS=headers,
    )


def send_plain(client, path: str, body: dict, origin: str | None = SHOP):
    """As analytics-next sends: ``text/plain`` JSON, the write key in the body."""
    headers = {"HTTP_ORIGIN": origin} if origin else {}
    return client.post(path, orjson.dumps(body), content_type="text/plain", **headers)


def stored(workspace, definition_id: str) -> list[Event]:
    return list(Event.objects.filter(workspace=workspace, definition__definition_id=definition_id))


# preflight ------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/v1/track", "/v1/t", "/v1/batch", "/v1/b", "/v1/identify"])
def test_preflight_allowed_origin(anonymous, shop_allowed, path):
    """An origin a workspace allows gets 204 with the origin echoed, POST, the headers the
    libraries send (their own included) and a max age."""
    response = preflight(anonymous, path, SHOP, "content-type,authorization,anonymousid")
    assert response.status_code == 204
    assert response["Access-Control-Allow-Origin"] == SHOP
    assert "POST" in response["Access-Control-Allow-Methods"]
    allowed = {h.strip().lower() for h in response["Access-Control-Allow-Headers"].split(",")}
    assert {"content-type", "authorization", "anonymousid"} <= allowed
    assert int(response["Access-Control-Max-Age"]) > 0
    assert "Origin" in response["Vary"]


def test_preflight_refused_origin(anonymous, shop_allowed):
    """An origin no workspace allows gets no ``Access-Control-Allow-*``: the browser stops."""
    response = preflight(anonymous, "/v1/t", OTHER)
    assert response.status_code == 204
    assert "Access-Control-Allow-Origin" not in response
    assert "Access-Control-Allow-Methods" not in response


def test_preflight_refused_by_default(anonymous, workspace):
    """A workspace allows no page until told (``*`` only explicitly)."""
    assert workspace.allowed_origins == []
    assert "Access-Control-Allow-Origin" not in preflight(anonymous, "/v1/track", SHOP)


def test_preflight_any_origin_when_a_workspace_says_star(anonymous, workspace):
    workspace_update(workspace=workspace, fields={"allowed_origins": ["*"]})
    response = preflight(anonymous, "/v1/page", OTHER)
    assert response["Access-Control-Allow-Origin"] == OTHER


# the short paths ------------------------------------------------------------------------------


def test_short_track_text_plain_write_key_in_body(anonymous, workspace, public_key, shop_allowed):
    """``/v1/t`` takes a ``text/plain`` body with the public write key in it, stores the track
    once (a resend of the same messageId is a duplicate), lets the page read the answer, and
    never keeps the key."""
    body = {
        "writeKey": public_key,
        "type": "track",
        "event": "Product Viewed",
        "anonymousId": "anon-1",
        "messageId": "ajs-next-1",
        "properties": {"sku": "sku-1", "price": 12.5},
    }
    for _ in range(2):
        response = send_plain(anonymous, "/v1/t", body)
        assert response.status_code == 200, response.content
        assert response.json() == {"success": True}
        assert response["Access-Control-Allow-Origin"] == SHOP
    (event,) = stored(workspace, "c_product_viewed")
    assert event.properties == {"sku": "sku-1", "price": 12.5}
    assert event.external_id == "ajs-next-1"
    assert event.origin == Event.Origin.SEGMENT
    assert "writeKey" not in orjson.dumps(event.properties).decode()


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/i", {"userId": "u-1", "traits": {"email": "ann@example.com", "firstName": "Ann"}}),
        ("/v1/p", {"anonymousId": "a-1", "name": "Pricing"}),
        ("/v1/s", {"anonymousId": "a-1", "name": "Basket"}),
        ("/v1/g", {"anonymousId": "a-1", "groupId": "initech"}),
        ("/v1/a", {"userId": "u-2", "previousId": "a-2"}),
        ("/v1/b", {"batch": [{"type": "track", "event": "Ping", "anonymousId": "a-3"}]}),
    ],
)
def test_short_paths(anonymous, workspace, public_key, shop_allowed, page_views, path, body):
    """Each short path does what its long path does."""
    response = send_plain(anonymous, path, {**body, "writeKey": public_key})
    assert response.status_code == 200, response.content
    assert not IngestionLogEntry.objects.filter(workspace=workspace).exists()
    if path == "/v1/i":
        assert workspace.people.get(external_id="u-1").first_name == "Ann"
    elif path == "/v1/p":
        assert stored(workspace, "pageView")[0].properties["pageTitle"] == "Pricing"
    elif path == "/v1/s":
        assert stored(workspace, "c_screen_viewed")[0].properties["name"] == "Basket"
    elif path == "/v1/g":
        assert "group:initech" in workspace.people.get().tags.values_list("name", flat=True)
    elif path == "/v1/b":
        assert len(stored(workspace, "c_ping")) == 1


def test_short_path_without_key(anonymous, shop_allowed):
    response = send_plain(anonymous, "/v1/t", {"type": "track", "event": "Ping"})
    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized"


# origins and keys of a browser's request -------------------------------------------------------


def test_request_from_an_origin_its_workspace_does_not_allow(
    anonymous, workspace, other_workspace, public_key
):
    """The preflight passes (another workspace allows the origin), but the key's own
    workspace does not: nothing is stored, the answer is 403 without CORS headers, and the
    ingestion log says why. ``text/plain`` needs no preflight, so this is what stops it."""
    workspace_update(workspace=other_workspace, fields={"allowed_origins": [OTHER]})
    assert preflight(anonymous, "/v1/t", OTHER)["Access-Control-Allow-Origin"] == OTHER
    body = {"writeKey": public_key, "event": "Ping", "anonymousId": "a-1"}
    response = send_plain(anonymous, "/v1/t", body, origin=OTHER)
    assert response.status_code == 403
    assert response.json()["code"] == "origin_not_allowed"
    assert "Access-Control-Allow-Origin" not in response
    assert not Event.objects.exists()
    (entry,) = IngestionLogEntry.objects.filter(workspace=workspace)
    assert entry.payload == {"origin": OTHER}
    assert not IngestionLogEntry.objects.filter(workspace=other_workspace).exists()


def test_any_origin_when_the_workspace_says_star(anonymous, workspace, public_key):
    workspace_update(workspace=workspace, fields={"allowed_origins": ["*"]})
    body = {"writeKey": public_key, "event": "Ping", "anonymousId": "a-1"}
    response = send_plain(anonymous, "/v1/t", body, origin=OTHER)
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == OTHER


def test_browser_request_with_a_secret_key(anonymous, workspace, secret_key, shop_allowed):
    """A secret key in a web page is anyone's: a browser's request needs the public key."""
    body = {"writeKey": secret_key, "event": "Ping", "anonymousId": "a-1"}
    response = send_plain(anonymous, "/v1/t", body)
    assert response.status_code == 403
    assert response.json()["code"] == "public_key_required"
    assert response["Access-Control-Allow-Origin"] == SHOP  # the page may read why
    assert not Event.objects.exists()


def test_server_side_requests_are_not_concerned(anonymous, workspace, secret_key):
    """Without ``Origin`` (server-side clients) no origin is needed and any key works, on the
    short paths too; no CORS header is sent."""
    body = {"writeKey": secret_key, "event": "Ping", "anonymousId": "a-1"}
    response = send_plain(anonymous, "/v1/t", body, origin=None)
    assert response.status_code == 200
    assert "Access-Control-Allow-Origin" not in response
    assert len(stored(workspace, "c_ping")) == 1


def test_own_origin_needs_no_permission(anonymous, workspace, public_key):
    body = {"writeKey": public_key, "event": "Ping", "anonymousId": "a-1"}
    response = send_plain(anonymous, "/v1/t", body, origin="http://testserver")
    assert response.status_code == 200


# RudderStack's referrer -----------------------------------------------------------------------


def test_direct_referrer_is_no_referrer(anonymous, workspace, public_key, shop_allowed, page_views):
    """RudderStack's browser SDK sends ``"$direct"`` for a page reached directly, in the
    properties and ``context.page``: the page view has no referrer. A real one is kept."""
    page = {
        "url": f"{SHOP}/pricing",
        "path": "/pricing",
        "title": "Pricing",
        "referrer": "$direct",
        "referring_domain": "$direct",
    }
    body = {
        "type": "page",
        "anonymousId": "a-1",
        "properties": page,
        "context": {"page": page},
        "messageId": "rs-1",
    }
    headers = {"HTTP_ORIGIN": SHOP, "HTTP_AUTHORIZATION": f"App {public_key}"}
    response = anonymous.post(
        "/v1/page", orjson.dumps(body), content_type="application/json", **headers
    )
    assert response.status_code == 200
    referred = {**page, "referrer": "https://news.example.org/a"}
    body = {**body, "messageId": "rs-2", "properties": referred, "context": {"page": referred}}
    anonymous.post("/v1/page", orjson.dumps(body), content_type="application/json", **headers)
    direct, linked = sorted(stored(workspace, "pageView"), key=lambda e: e.external_id)
    assert "referrer" not in direct.properties
    assert direct.properties["url"] == f"{SHOP}/pricing"
    assert linked.properties["referrer"] == "https://news.example.org/a"


# the setting ----------------------------------------------------------------------------------


def test_allowed_origins_are_normalised_and_checked(workspace):
    workspace_update(
        workspace=workspace,
        fields={"allowed_origins": "https://Shop.example.com/\nhttp://localhost:8080, *"},
    )
    workspace.refresh_from_db()
    assert workspace.allowed_origins == ["https://shop.example.com", "http://localhost:8080", "*"]
    assert origins_normalize(["https://shop.example.com:443"]) == ["https://shop.example.com"]
    for bad in ("shop.example.com", "https://shop.example.com/path", "ftp://x.org", 7):
        with pytest.raises(ServiceError) as caught:
            workspace_update(workspace=workspace, fields={"allowed_origins": [bad]})
        assert caught.value.first.field == "allowed_origins"
