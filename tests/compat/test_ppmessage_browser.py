"""PPMessage's web tracking snippet (seed 004, SPEC §6) on a page with the web SDK, in Debian's
headless Chromium: ``window._ppmatc.push({track_event: {…}})`` is collected unchanged, pushed
before the SDK loads (the queue it finds) and after (its replaced ``push``).

The page is served by a small HTTP server of its own on 127.0.0.1 (another origin than the
API's, pytest-django's live server) and holds
the seed's click handler as written, the full-width comma made a comma (the nearest valid
JavaScript); ``$`` is a one-line stand-in for jQuery's ``$(document).on``. The events are read
back through ``GET /api/v1/events``.
"""

import http.server
import threading
from datetime import UTC, datetime

import pytest

from events.models import Event
from events.services import PropertyInput, definition_create
from tests.api_helpers import workspace_api
from tests.events.test_sdk_browser import FetchTraffic, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Seed 004, "跟踪网站上的事件", the first snippet (event_uuid with its trailing space).
SEED_SNIPPET = """
$(document).on("click", function(event) {
if (!window._ppmatc) {
  window._ppmatc = [ ];
}
window._ppmatc.push({
  track_event: {
    event_name: "webclick",
    event_uuid: "0fc050ec-cb6f-11e8-b697-00163e0c79f6 ",
    event_data: {
      x: event.pageX,
      y: event.pageY,
      page_url: window.location.href
    },
    event_timestamp: Math.round(new Date().getTime()/1000)
  }
});
});
"""
JQUERY_STAND_IN = (
    "window.$ = function (target) { return {on: function (type, handler) "
    "{ target.addEventListener(type, handler); }}; };"
)


def _page(api_url: str, key: str) -> str:
    return f"""<!doctype html>
<html><head><title>Shop</title></head>
<body style="height: 2000px">
<script>{JQUERY_STAND_IN}</script>
<script>{SEED_SNIPPET}</script>
<script>
  document.body.dispatchEvent(new MouseEvent("click", {{bubbles: true, clientX: 7, clientY: 9}}));
  window.cdp = window.cdp || [];
  cdp.push(["init", {{key: "{key}", autoPageView: false}}]);
</script>
<script src="{api_url}/static/cdp/cdp.js"></script>
</body></html>"""


@pytest.fixture
def page_server(live_server):
    """Serves the shop's page (set as ``server.page``) on 127.0.0.1 at a port of its own."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = server.page.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.page = ""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def test_seed_snippet_is_collected_unchanged(browser, live_server, page_server, workspace):
    """The click pushed before ``cdp.js`` loaded and two clicks after are three events of
    ``c_webclick`` on one anonymous person: ``event_data`` kept whole (``page_url`` is not a
    declared property), its declared numbers validated, and ``event_timestamp`` read as
    seconds (today's date, not 1970)."""
    definition_create(
        workspace=workspace,
        definition_id="c_webclick",
        name="webclick",
        properties=[PropertyInput("x", type="number"), PropertyInput("y", type="number")],
    )
    api = workspace_api(workspace)
    shop = f"http://127.0.0.1:{page_server.server_address[1]}"
    page_server.page = _page(live_server.url, api.public_raw)
    page = browser.new_page()
    traffic = FetchTraffic(page)
    problems = []
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("requestfailed", lambda r: problems.append(f"{r.url} {r.failure}"))
    page.goto(f"{shop}/products")
    try:
        page.wait_for_function("window.cdp && window.cdp.loaded === true", timeout=5000)
    except Exception:  # the script did not load or run: say why
        raise AssertionError(problems) from None
    page.mouse.click(100, 200)
    page.mouse.click(300, 40)
    traffic.settle()
    assert wait_for(lambda: Event.objects.filter(workspace=workspace).count() >= 3)

    answer = api.secret.get("/api/v1/events?definitionId=c_webclick")
    assert answer.status_code == 200, answer.content
    events = answer.json()["results"]
    assert len(events) == 3
    data = sorted((e["properties"] for e in events), key=lambda d: (d["x"], d["y"]))
    assert data == [
        {"x": 7, "y": 9, "page_url": f"{shop}/products"},
        {"x": 100, "y": 200, "page_url": f"{shop}/products"},
        {"x": 300, "y": 40, "page_url": f"{shop}/products"},
    ]
    assert len({e["personId"] for e in events}) == 1
    today = datetime.now(UTC)
    for event in events:
        occurred = datetime.fromisoformat(event["occurredTime"].replace("Z", "+00:00"))
        assert abs((today - occurred).total_seconds()) < 3600
        assert occurred.microsecond == 0  # whole seconds, as the page sent them
