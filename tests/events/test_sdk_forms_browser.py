"""The web SDK's opt-in form tracking in a real browser (SPEC §6, Infobip seed 000): a page
initialised with ``trackForms: true`` records ``formSubmitted`` (form id and name, the page)
when a visitor submits a form, sent by beacon as the submit leaves the page; a form marked
``data-cdp-ignore`` and a page without the option record nothing. Read back through the events
API."""

import time

import pytest
from django.db import OperationalError

from events.models import Event, EventDefinition
from events.services import definition_set_enabled
from people.models import ApiKey
from people.workspaces import api_key_create
from tests.api_helpers import workspace_api

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]

PAGE = """<!doctype html>
<html lang="en"><head><title>Contact us</title></head><body>
<form id="contact" name="contact-us" action="/sdk/demo/pricing" method="get">
  <input name="email" value="ann@example.com"><button id="send" type="submit">Send</button>
</form>
<form id="search" data-cdp-ignore action="/sdk/demo/pricing" method="get">
  <input name="q" value="x"><button id="search-go" type="submit">Search</button>
</form>
<script>
  window.cdp = window.cdp || [];
  cdp.push(["init", {key: "%(key)s", autoPageView: false, trackForms: %(track)s}]);
</script>
<script src="/static/cdp/cdp.js"></script>
</body></html>
"""


@pytest.fixture
def form_on(workspace, settings):
    settings.CDP_SDK_DEMO = True  # the form's action is the demo's pricing page
    definition_set_enabled(
        workspace=workspace,
        enabled=True,
        definition=EventDefinition.objects.get(workspace=None, definition_id="formSubmitted"),
    )
    return api_key_create(workspace=workspace, kind=ApiKey.Kind.PUBLIC, name="site").raw_key


def wait_for_events(workspace, count: int, timeout: float = 10.0) -> int:
    deadline = time.monotonic() + timeout
    found = 0
    while time.monotonic() < deadline:
        try:
            found = Event.objects.filter(workspace=workspace).count()
        except OperationalError:  # SQLite: the live server is writing
            found = 0
        if found >= count:
            return found
        time.sleep(0.3)
    return found


def read_back(api) -> list[dict]:
    """formSubmitted events through the events API; a read that meets the live server's
    write (SQLite's shared connection: "table is locked", answered 503) is tried again."""
    deadline = time.monotonic() + 10
    while True:
        try:
            response = api.secret.get("/api/v1/events", {"definitionId": "formSubmitted"})
        except OperationalError:
            response = None
        if response is not None and (response.status_code != 503 or time.monotonic() > deadline):
            assert response.status_code == 200, response.content
            return response.json()["results"]
        if time.monotonic() > deadline:
            raise AssertionError("the events API stayed unavailable")
        time.sleep(0.3)


def open_form_page(browser, live_server, key: str, track: bool):
    page = browser.new_context().new_page()
    url = f"{live_server.url}/contact"
    body = PAGE % {"key": key, "track": "true" if track else "false"}
    page.route(url, lambda route: route.fulfill(status=200, content_type="text/html", body=body))
    page.goto(url)
    page.wait_for_function("window.cdp && window.cdp.loaded === true")
    return page, url


def test_form_submit_records_form_submitted(browser, live_server, workspace, form_on):
    """Submitting the contact form records one formSubmitted with the form's id and name and
    the page's title, URL and path; no field value is sent."""
    api = workspace_api(workspace)  # before the page: the live server is idle
    page, url = open_form_page(browser, live_server, form_on, track=True)
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.click("#send")
    page.wait_for_url("**/sdk/demo/pricing?**")
    assert wait_for_events(workspace, 1) == 1
    page.context.close()  # no more requests to the live server while the test reads
    rows = read_back(api)
    assert [row["properties"] for row in rows] == [
        {
            "formId": "contact",
            "formName": "contact-us",
            "pageTitle": "Contact us",
            "url": url,
            "path": "/contact",
        }
    ]
    assert "ann@example.com" not in str(rows)
    assert not errors


def test_ignored_forms_and_pages_without_the_option_record_nothing(
    browser, live_server, workspace, form_on
):
    """A form marked data-cdp-ignore is not recorded, and without ``trackForms`` no form is:
    after both, a tracked submit is the only event stored."""
    page, _ = open_form_page(browser, live_server, form_on, track=True)
    page.click("#search-go")
    page.wait_for_url("**/sdk/demo/pricing?**")
    page, _ = open_form_page(browser, live_server, form_on, track=False)
    page.click("#send")
    page.wait_for_url("**/sdk/demo/pricing?**")
    # Then a tracked submit: once it is stored, the two before would have been too.
    page, _ = open_form_page(browser, live_server, form_on, track=True)
    page.click("#send")
    page.wait_for_url("**/sdk/demo/pricing?**")
    assert wait_for_events(workspace, 1) == 1
    stored = Event.objects.get(workspace=workspace)
    assert (stored.definition.definition_id, stored.properties["formId"]) == (
        "formSubmitted",
        "contact",
    )
