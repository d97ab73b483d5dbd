"""The web SDK in a real browser (§6): Debian's headless Chromium, driven by Playwright, loads
the demo page from pytest-django's live server and the test reads what reached the database.

The page pushes a track before ``cdp.js`` has loaded, a button tracks after, the identify form
signs in, a campaign link opens a second page (a new session with UTM), and leaving the page
sends what is left with ``navigator.sendBeacon``.
"""

import time
from urllib.parse import urlsplit

import pytest
from django.db import OperationalError

from events.models import Event, EventDefinition
from events.services import PropertyInput, definition_create, definition_set_enabled
from people.models import ApiKey, Person
from people.workspaces import api_key_create

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),  # the live server's requests commit
]
EXPECTED = {
    "sessionStarted": 2,
    "pageView": 2,
    "sessionEnded": 1,
    "c_search_tickets": 1,
    "c_newsletter_signup": 1,
    "c_choose_tickets": 1,
}


@pytest.fixture
def shop(workspace, settings):
    """The demo shop's definitions, the standard web events switched on, and a public key."""
    settings.CDP_SDK_DEMO = True
    definition_create(
        workspace=workspace,
        definition_id="c_search_tickets",
        name="Searched",
        properties=[PropertyInput("destination")],
    )
    definition_create(
        workspace=workspace,
        definition_id="c_newsletter_signup",
        name="Signed up",
        properties=[PropertyInput("source"), PropertyInput("confirmed", type="boolean")],
    )
    definition_create(
        workspace=workspace,
        definition_id="c_choose_tickets",
        name="Chose",
        properties=[PropertyInput("destination"), PropertyInput("seats", type="number")],
    )
    for code in ("sessionStarted", "pageView", "sessionEnded"):
        definition_set_enabled(
            workspace=workspace,
            enabled=True,
            definition=EventDefinition.objects.get(workspace=None, definition_id=code),
        )
    return api_key_create(workspace=workspace, kind=ApiKey.Kind.PUBLIC, name="demo").raw_key


def stored_counts(workspace) -> dict[str, int]:
    counts: dict[str, int] = {}
    for code in Event.objects.filter(workspace=workspace).values_list(
        "definition__definition_id", flat=True
    ):
        counts[code] = counts.get(code, 0) + 1
    return counts


def wait_for(condition, timeout: float = 10.0):
    """Poll ``condition`` every half second until it is truthy or ``timeout`` passes; a read
    that meets the live server's write (SQLite: "table is locked") counts as not yet."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = condition()
        except OperationalError:
            value = None
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.5)


class FetchTraffic:
    """The page's ``fetch`` requests to the collect endpoint, so that the test reads the
    database only when none is under way (with SQLite the live server and the test share one
    connection). Chromium does not report beacons to Playwright; those are waited for."""

    def __init__(self, page):
        self.page = page
        self.open = 0
        self.count = 0
        self.last = time.monotonic()
        page.on("request", self._started)
        page.on("requestfinished", self._ended)
        page.on("requestfailed", self._ended)

    @staticmethod
    def _ours(request) -> bool:
        return request.method == "POST" and "/api/v1/collect" in request.url

    def _started(self, request):
        if self._ours(request):
            self.open += 1
            self.count += 1
            self.last = time.monotonic()

    def _ended(self, request):
        if self._ours(request):
            self.open -= 1
            self.last = time.monotonic()

    def settle(self, quiet: float = 2.0, timeout: float = 15.0) -> None:
        """Wait until no request is open and none started for ``quiet`` seconds (more than
        the SDK's one-second flush interval)."""
        self.last = max(self.last, time.monotonic())
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.page.wait_for_timeout(200)  # lets Playwright deliver its events
            if self.open <= 0 and time.monotonic() - self.last > quiet:
                return
        raise AssertionError(f"collect requests did not settle: {self.open} open")


def test_sdk_sends_queued_tracked_identified_and_automatic_events(
    browser, live_server, shop, workspace
):
    """Everything the visitor did arrives, on one person who got the identify's external id:
    the track pushed before the script loaded and the ones after, two sessions (the second
    from a newsletter link, with its UTM), two page views completed with the server-derived
    browser, OS and device type, and what was left when the page went away (sendBeacon)."""
    context = browser.new_context()
    page = context.new_page()
    traffic = FetchTraffic(page)
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    home = f"{live_server.url}/sdk/demo?key={shop}"
    page.goto(home)
    page.wait_for_function("window.cdp && window.cdp.loaded === true")
    page.click("#signup")
    traffic.settle()  # the first batch goes by fetch after about a second
    assert traffic.count >= 1
    assert stored_counts(workspace) == {
        "sessionStarted": 1,
        "pageView": 1,
        "c_search_tickets": 1,
        "c_newsletter_signup": 1,
    }
    assert not Person.objects.filter(workspace=workspace, external_id__isnull=False).exists()

    # Sign in, then leave at once through the campaign link (the identify likely by beacon).
    page.click("#identify-button")
    page.click("#campaign-link")
    page.wait_for_url("**/sdk/demo/pricing?**")
    page.wait_for_function("window.cdp && window.cdp.loaded === true")
    # From now on only a beacon can deliver: the next timed flush is a minute away.
    page.evaluate("cdp.push(['init', {flushInterval: 60000}])")
    traffic.settle()
    fetched = traffic.count
    page.click("#choose")
    page.goto("about:blank")  # pagehide: sendBeacon

    assert wait_for(lambda: stored_counts(workspace) == EXPECTED), stored_counts(workspace)
    assert traffic.count == fetched  # c_choose_tickets came by beacon
    assert not errors

    events = Event.objects.filter(workspace=workspace).order_by("occurred_at", "id")
    people = set(events.values_list("person_id", flat=True))
    assert len(people) == 1
    person = Person.objects.get(pk=people.pop())
    assert (person.external_id, person.first_name) == ("CUST-DEMO-1", "Ann")
    cookie = {c["name"]: c["value"] for c in context.cookies()}
    assert set(person.identifiers.values_list("type", "value")) == {
        ("anonymous_id", cookie["cdp_aid"]),
        ("email", "ann@example.com"),
    }
    assert {e.origin for e in events} == {Event.Origin.SDK}
    assert all(e.external_id for e in events)  # every event carries its messageId

    by_code: dict[str, list[Event]] = {}
    for event in events:
        by_code.setdefault(event.definition.definition_id, []).append(event)
    first, second = (e.properties for e in by_code["sessionStarted"])
    assert (first["utm_source"], first["sessionType"]) == ("direct", "web")
    assert {k: second.get(k) for k in ("utm_source", "utm_medium", "utm_campaign")} == {
        "utm_source": "newsletter",
        "utm_medium": "email",
        "utm_campaign": "spring_sale",
    }
    ended = by_code["sessionEnded"][0].properties
    assert ended["sessionId"] == first["sessionId"]
    assert ended["utm_source"] == "direct"
    assert isinstance(ended["sessionDuration"], int | float)
    assert ended["sessionDuration"] >= 0

    host = urlsplit(live_server.url).hostname
    views = [e.properties for e in by_code["pageView"]]
    assert [v["path"] for v in views] == ["/sdk/demo", "/sdk/demo/pricing"]
    assert [v["pageTitle"] for v in views] == ["CDP demo shop · Home", "CDP demo shop · Pricing"]
    assert views[0]["url"] == home
    assert "utm_source=newsletter" in views[1]["url"]
    assert views[1]["referrer"].startswith(f"{live_server.url}/sdk/demo")
    for view in views:
        assert view["domain"] == host
        assert view["websiteLanguage"] == "en"
        assert view["browserLanguage"]
        assert "Chrom" in view["browserName"]
        assert view["browserVersion"]
        assert view["browserOS"] == "Linux"
        assert view["deviceType"] == "desktop"
    sessions = [e.session_id for e in by_code["pageView"]]
    assert sessions == [first["sessionId"], second["sessionId"]]

    assert by_code["c_search_tickets"][0].properties == {"destination": "Zagreb"}
    assert by_code["c_search_tickets"][0].session_id == first["sessionId"]
    assert by_code["c_newsletter_signup"][0].properties == {"source": "sdk-demo", "confirmed": True}
    assert by_code["c_choose_tickets"][0].properties == {"destination": "Zagreb", "seats": 2}
    assert by_code["c_choose_tickets"][0].session_id == second["sessionId"]


def test_sdk_retries_after_a_server_error_and_ends_an_idle_session(
    browser, live_server, shop, workspace
):
    """A batch answered 503 is sent again after a backoff and stored once; a track after the
    session timeout ends the idle session (sessionEnded) and starts a new one."""
    page = browser.new_context().new_page()
    traffic = FetchTraffic(page)
    answered = []

    def fail_first(route):
        if route.request.method == "POST" and not answered:
            answered.append(503)
            route.fulfill(status=503, body="busy")
        else:
            answered.append("server")
            route.continue_()

    page.route("**/api/v1/collect*", fail_first)
    page.goto(f"{live_server.url}/sdk/demo?key={shop}")
    page.wait_for_function("window.cdp && window.cdp.loaded === true")
    page.evaluate("cdp.push(['init', {sessionTimeout: 1000}])")
    traffic.settle()
    assert answered[:2] == [503, "server"], answered
    assert stored_counts(workspace) == {"sessionStarted": 1, "pageView": 1, "c_search_tickets": 1}

    page.wait_for_timeout(1500)  # past the (shortened) session timeout
    page.click("#signup")
    # The new session must not time out too before the test has read it.
    page.evaluate("cdp.push(['init', {sessionTimeout: 1800000}])")
    traffic.settle()
    assert stored_counts(workspace) == {
        "sessionStarted": 2,
        "pageView": 1,
        "sessionEnded": 1,
        "c_search_tickets": 1,
        "c_newsletter_signup": 1,
    }
    started = [
        e.properties
        for e in Event.objects.filter(
            workspace=workspace, definition__definition_id="sessionStarted"
        ).order_by("occurred_at")
    ]
    ended = Event.objects.get(workspace=workspace, definition__definition_id="sessionEnded")
    assert ended.properties["sessionId"] == started[0]["sessionId"]
    assert ended.properties["sessionDuration"] <= 1
    signup = Event.objects.get(workspace=workspace, definition__definition_id="c_newsletter_signup")
    assert signup.session_id == started[1]["sessionId"]
