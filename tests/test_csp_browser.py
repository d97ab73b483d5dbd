"""The admin's own scripts run under the Content-Security-Policy, in a real browser.

Debian's headless Chromium (Playwright) against the live server: the analytics page (the
vendored Chart.js, the page's scripts, the workspace picker) and Swagger UI work, and the
browser reports no violation of the policy.
"""

import pytest
from django.contrib.auth.models import User

from events.ingestion import events_ingest
from tests.factories import DefinitionFactory, PersonFactory, event, props

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),  # the live server's requests commit
]

# Every violation the page sees, as "directive blocked-uri", collected from the first script on.
LISTEN = """window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__cspViolations.push(e.violatedDirective + " " + e.blockedURI);
});"""


def _page(browser):
    page = browser.new_context(viewport={"width": 1280, "height": 1000}).new_page()
    page.add_init_script(LISTEN)
    problems = []
    page.on("pageerror", lambda exc: problems.append(f"error: {exc}"))
    page.on(
        "console",
        lambda msg: (
            problems.append(f"console: {msg.text}")
            if "Content Security Policy" in msg.text or "Refused to" in msg.text
            else None
        ),
    )
    return page, problems


def _violations(page) -> list[str]:
    return page.evaluate("window.__cspViolations")


def test_analytics_page_scripts_run_under_the_policy(
    browser, live_server, workspace, other_workspace
):
    """The analytics page fills its forms, runs a query and draws the chart; choosing another
    workspace reloads the page for it; nothing is refused by the policy."""
    DefinitionFactory(workspace=workspace, definition_id="c_search", properties=props(q="text"))
    person = PersonFactory(workspace=workspace)
    assert (
        events_ingest(
            workspace=workspace,
            origin="api",
            events=[event("c_search", person, properties={"q": "x"})],
        ).rejected
        == 0
    )
    User.objects.create_superuser("root", password="root-pw-123")

    page, problems = _page(browser)
    page.goto(f"{live_server.url}/admin/login/?next=/admin/events/analytics/")
    page.fill("#id_username", "root")
    page.fill("#id_password", "root-pw-123")
    page.click("input[type=submit]")
    page.wait_for_selector("#cdp-segmentation")
    page.select_option("#cdp-workspace", str(workspace.pk))
    page.wait_for_url(f"**/admin/events/analytics/?workspace={workspace.pk}")
    box = page.locator("#cdp-segmentation")
    page.wait_for_function(
        "() => document.querySelectorAll('#cdp-segmentation .cdp-events option').length > 0"
    )
    box.locator(".cdp-events").select_option("c_search")
    box.locator(".cdp-run").click()
    page.wait_for_selector("#cdp-segmentation .cdp-chart-box:not([hidden])")
    page.wait_for_selector("#cdp-segmentation .cdp-table-box table")
    assert page.evaluate("typeof Chart") == "function"
    assert _violations(page) == []
    assert problems == []


def test_swagger_ui_runs_under_the_policy(browser, live_server):
    """The API docs page draws the schema's operations with no inline script."""
    page, problems = _page(browser)
    page.goto(f"{live_server.url}/api/v1/docs")
    page.wait_for_selector(".swagger-ui .opblock", timeout=30_000)
    assert "CDP API" in page.locator(".swagger-ui .info").text_content()
    assert _violations(page) == []
    assert problems == []
