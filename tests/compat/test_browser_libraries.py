"""Segment's and RudderStack's own browser libraries, unchanged from npm, send to the
Segment-compatible endpoints from a page of another origin (§2, §6).

The libraries (``tests/browser_sdks/package.json``, locked) are installed with ``npm ci`` and
bundled with esbuild into a cache directory on first use; the pages are served by a small HTTP
server on another port than the API (pytest-django's live server), so every call crosses
origins: analytics-next posts ``text/plain`` to ``/v1/i``, ``/v1/p``, ``/v1/t`` with the
write key, RudderStack's SDK posts JSON to ``/v1/identify``, ``/v1/page``, ``/v1/track``
after a preflight. Debian's Chromium runs them (Playwright); the test reads the result back
through the API: counts exactly, the identify's traits, the page's url, path and title.
"""

import functools
import hashlib
import http.server
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.test import Client

from events.models import EventDefinition
from events.services import definition_set_enabled
from people.models import ApiKey
from people.workspaces import api_key_create, workspace_update

SOURCES = Path(__file__).resolve().parent.parent / "browser_sdks"
BUILD_FILES = ("package.json", "package-lock.json", "build.mjs", "segment.js", "rudderstack.js")
TRACKS = 5
pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),  # the live server's requests commit
]

# The calls each page makes: an identify, a page view, then TRACKS tracks.
SEGMENT_PAGE = """<!doctype html>
<html><head><title>Segment shop</title></head><body>
<script src="segment.bundle.js"></script>
<script>
const query = new URLSearchParams(location.search);
const key = query.get("key");
window.sent = false;
(async () => {
  const analytics = AnalyticsBrowser.load({
    writeKey: key,
    // The settings the library would fetch from Segment's CDN, pointing it at this server.
    cdnSettings: {integrations: {"Segment.io": {
      apiKey: key, apiHost: query.get("api") + "/v1", protocol: "http"}}},
  });
  await analytics.identify("seg-user-1", {email: "ann@example.com", firstName: "Ann",
                                          lastName: "Lee"});
  await analytics.page();
  for (let i = 0; i < __TRACKS__; i++) {
    await analytics.track("Product Viewed", {sku: "sku-" + i, price: 10 + i});
  }
  window.sent = true;
})().catch((error) => { window.failure = String(error); });
</script></body></html>
""".replace("__TRACKS__", str(TRACKS))

RUDDERSTACK_PAGE = """<!doctype html>
<html><head><title>RudderStack shop</title></head><body>
<script src="rudderstack.bundle.js"></script>
<script>
const query = new URLSearchParams(location.search);
const rudder = new RudderAnalytics();
rudder.load(query.get("key"), "http://" + query.get("api"), {
  // The source's settings, given here instead of fetched from RudderStack's control plane:
  // no device-mode destinations.
  getSourceConfig: () => ({source: {id: "shop", name: "Shop", workspaceId: "shop",
                                    enabled: true, config: {}, destinations: []}}),
});
// The visitor signs in, then views the page and products (the test calls each step once the
// one before arrived: the SDK sends its queue in parallel and retries in any order).
window.signIn = () => rudder.identify("rs-user-1", {email: "bob@example.com", firstName: "Bob",
                                                    lastName: "Ray"});
window.visit = () => rudder.page();
window.browse = () => {
  for (let i = 0; i < __TRACKS__; i++) {
    rudder.track("Product Viewed", {sku: "sku-" + i, price: 10 + i});
  }
};
</script></body></html>
""".replace("__TRACKS__", str(TRACKS))


def _cache_root() -> Path:
    configured = os.environ.get("CDP_BROWSER_SDKS_CACHE")
    if configured:
        return Path(configured)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "cdp-browser-sdks"


@pytest.fixture(scope="session")
def library_bundles() -> Path:
    """The directory holding ``segment.bundle.js`` and ``rudderstack.bundle.js``: built once
    per version of the build files (``npm ci`` + esbuild), then reused."""
    digest = hashlib.sha256()
    for name in BUILD_FILES:
        digest.update((SOURCES / name).read_bytes())
    build = _cache_root() / digest.hexdigest()[:16]
    dist = build / "dist"
    if all((dist / f"{name}.bundle.js").exists() for name in ("segment", "rudderstack")):
        return dist
    npm, node = shutil.which("npm"), shutil.which("node")
    if npm is None or node is None:
        pytest.skip("needs npm and node to install and bundle the browser libraries")
    build.mkdir(parents=True, exist_ok=True)
    for name in BUILD_FILES:
        shutil.copyfile(SOURCES / name, build / name)
    for command in (
        [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        [node, "build.mjs", str(dist)],
    ):
        done = subprocess.run(command, cwd=build, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, f"{' '.join(command)} failed:\n{done.stdout}{done.stderr}"
    return dist


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


@pytest.fixture
def page_server(tmp_path, library_bundles):
    """The shop's pages and the bundles, served on 127.0.0.1 at a port of their own."""
    for name in ("segment", "rudderstack"):
        shutil.copyfile(library_bundles / f"{name}.bundle.js", tmp_path / f"{name}.bundle.js")
    (tmp_path / "segment.html").write_text(SEGMENT_PAGE)
    (tmp_path / "rudderstack.html").write_text(RUDDERSTACK_PAGE)
    handler = functools.partial(_Quiet, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def shop(workspace, page_server):
    """A public key for the page, the page's origin allowed, page views switched on."""
    workspace_update(workspace=workspace, fields={"allowed_origins": [page_server]})
    definition_set_enabled(
        workspace=workspace,
        enabled=True,
        definition=EventDefinition.objects.get(workspace=None, definition_id="pageView"),
    )
    return api_key_create(workspace=workspace, kind=ApiKey.Kind.PUBLIC, name="web").raw_key


@pytest.fixture
def reader(workspace) -> Client:
    """The API as the shop's back office reads it (a secret key)."""
    key = api_key_create(workspace=workspace, kind=ApiKey.Kind.SECRET).raw_key
    return Client(HTTP_AUTHORIZATION=f"App {key}")


class Traffic:
    """The page's requests to the API: the answers by path, and how many are open."""

    def __init__(self, page, api: str):
        self.api = api
        self.open = 0
        self.answers: list[tuple[str, str, int]] = []
        self.failed: list[str] = []
        page.on("request", self._started)
        page.on("requestfinished", self._finished)
        page.on("requestfailed", self._failed)

    def _ours(self, request) -> bool:
        return request.url.startswith(self.api)

    def _started(self, request):
        if self._ours(request):
            self.open += 1

    def _finished(self, request):
        if self._ours(request):
            self.open -= 1
            response = request.response()
            path = request.url[len(self.api) :]
            self.answers.append((request.method, path, response.status if response else 0))

    def _failed(self, request):
        if self._ours(request):
            self.open -= 1
            self.failed.append(f"{request.method} {request.url}: {request.failure}")

    def accepted(self) -> list[str]:
        """The paths of the POSTs answered 200. (With SQLite a write may meet the live
        server's other write and answer 503, which the libraries retry.)"""
        return sorted(
            path
            for method, path, status in self.answers
            if (method, status)
            == (
                "POST",
                200,
            )
        )

    def wait_for_accepted(self, page, count: int, timeout: float = 60.0) -> None:
        """Wait until ``count`` POSTs were accepted and none is open."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            page.wait_for_timeout(200)  # lets Playwright deliver its events
            if len(self.accepted()) >= count and self.open <= 0:
                page.wait_for_timeout(1500)  # a retry or a late send would show now
                return
        raise AssertionError(f"{len(self.accepted())} of {count} accepted: {self.answers}")


def events(reader: Client, definition_id: str) -> list[dict]:
    response = reader.get("/api/v1/events", {"definitionId": definition_id, "limit": 100})
    assert response.status_code == 200, response.content
    return response.json()["results"]


def person(reader: Client, external_id: str) -> dict:
    response = reader.get("/api/v1/people/lookup", {"type": "external_id", "value": external_id})
    assert response.status_code == 200, response.content
    return response.json()


def open_page(browser, live_server, page_server, name: str, key: str):
    api = live_server.url.removeprefix("http://")
    assert page_server.split(":")[-1] != api.split(":")[-1]  # another origin
    context = browser.new_context()
    page = context.new_page()
    traffic = Traffic(page, live_server.url)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    url = f"{page_server}/{name}.html?key={key}&api={api}"
    page.goto(url)
    return page, traffic, errors, url


def assert_stored(reader, *, external_id: str, email: str, first: str, last: str, url: str):
    """Every call arrived once, on the identified person, with its page fields and traits."""
    who = person(reader, external_id)
    assert {"type": "email", "value": email} in who["identifiers"]
    assert (who["attributes"]["firstName"], who["attributes"]["lastName"]) == (first, last)

    tracks = events(reader, "c_product_viewed")
    assert len(tracks) == TRACKS
    assert sorted(e["properties"]["sku"] for e in tracks) == [f"sku-{i}" for i in range(TRACKS)]
    assert sorted(e["properties"]["price"] for e in tracks) == [10 + i for i in range(TRACKS)]
    assert len({e["externalId"] for e in tracks}) == TRACKS  # each its own messageId
    assert {e["origin"] for e in tracks} == {"segment"}
    (view,) = events(reader, "pageView")
    properties = view["properties"]
    assert properties["url"] == url
    assert properties["path"] == urlsplit(url).path
    assert properties["domain"] == "127.0.0.1"
    assert "referrer" not in properties  # reached directly
    assert {e["personId"] for e in [*tracks, view]} == {who["id"]}
    return properties


def test_segment_analytics_next_from_another_origin(
    browser, live_server, page_server, shop, reader
):
    """analytics-next, pointed at this server by its CDN settings, delivers an identify, a
    page view and five tracks to the short paths (``text/plain``, the write key also in the
    body), each stored exactly once, and reads every answer (CORS)."""
    page, traffic, errors, url = open_page(browser, live_server, page_server, "segment", shop)
    page.wait_for_function("window.sent === true || window.failure", timeout=30000)
    assert page.evaluate("window.failure || null") is None
    traffic.wait_for_accepted(page, TRACKS + 2)
    assert traffic.accepted() == sorted(["/v1/i", "/v1/p"] + ["/v1/t"] * TRACKS)
    assert not errors

    properties = assert_stored(
        reader,
        external_id="seg-user-1",
        email="ann@example.com",
        first="Ann",
        last="Lee",
        url=url,
    )
    assert properties["pageTitle"] == "Segment shop"


def test_rudderstack_sdk_from_another_origin(
    browser, live_server, page_server, shop, reader, is_postgres
):
    """RudderStack's v3 SDK, with its data plane at this server and its source settings given
    in the page, delivers an identify, a page view and five tracks to the long paths after a
    CORS preflight, each stored exactly once; its ``$direct`` referrer is no referrer."""
    if not is_postgres:
        # The SDK sends in parallel; pytest-django's live server shares one in-memory SQLite
        # connection across its request threads, so concurrent writes there trip over each
        # other's savepoints (a real embedded install has a connection per thread, WAL).
        pytest.skip("parallel sends need a connection per request: run on PostgreSQL")
    page, traffic, errors, url = open_page(browser, live_server, page_server, "rudderstack", shop)
    page.evaluate("window.signIn()")
    traffic.wait_for_accepted(page, 1)
    page.evaluate("window.visit()")
    traffic.wait_for_accepted(page, 2)
    page.evaluate("window.browse()")
    traffic.wait_for_accepted(page, TRACKS + 2)
    assert traffic.accepted() == sorted(["/v1/identify", "/v1/page"] + ["/v1/track"] * TRACKS)
    assert not errors

    properties = assert_stored(
        reader,
        external_id="rs-user-1",
        email="bob@example.com",
        first="Bob",
        last="Ray",
        url=url,
    )
    assert properties["pageTitle"] == "RudderStack shop"
