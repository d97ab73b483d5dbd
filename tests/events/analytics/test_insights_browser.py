"""Pinned insights on the admin index, in a real browser (Debian's headless Chromium, driven
by Playwright, against pytest-django's live server). A marketer, member of a workspace with
events and of a second, empty one, finds the dashboard on the first ("1 active flow"), pins a
saved funnel with the change list's action and a segmentation with its "pinned" checkbox, and
sees both drawn on the index with the answers of the result endpoint; picking the empty
workspace shows it, and the choice is kept; "Open" brings the funnel to the analytics page."""

import os

import pytest
from django.contrib.auth.models import Permission, User

from events.analytics.insights import insight_create, insight_result
from events.analytics.models import SavedInsight
from flows.services import flow_activate
from people.workspaces import workspace_create
from tests.events.analytics.conftest import TICKETS, journal_make
from tests.flows.conftest import complete_flow

SCREENSHOT = os.environ.get("CDP_INSIGHT_SCREENSHOT")  # a directory: keep pictures of pages
pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),  # the live server's requests commit
]
CHART = "Chart.getChart(document.querySelector('[data-insight=\"{}\"] canvas'))"
FUNNEL = {
    "steps": list(TICKETS),
    "from": "2024-05-01",
    "to": "2024-05-20",
    "conversionWindow": {"days": 2},
}
SEGMENTATION = {"events": [TICKETS[0]], "from": "2024-05-01", "to": "2024-05-20"}


def _shot(page, name: str) -> None:
    if SCREENSHOT:
        os.makedirs(SCREENSHOT, exist_ok=True)
        page.screenshot(path=os.path.join(SCREENSHOT, f"{name}.png"), full_page=True)


def test_marketer_pins_insights_to_the_dashboard(browser, live_server, workspace):
    journal_make(workspace, seed=8, people=12)
    empty = workspace_create(slug="aardvark", name="Aardvark")  # first by name, no events
    flow_activate(flow=complete_flow(workspace, name="Ticket follow-up"))
    user = User.objects.create_user(username="mia", password="pw-mia-123", is_staff=True)
    # Given directly (the Marketer group's, which a transactional test's flush may remove).
    user.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="events",
            codename__in=["view_analytics"]
            + [f"{a}_savedinsight" for a in ("view", "add", "change", "delete")],
        )
    )
    workspace.members.add(user)
    empty.members.add(user)
    funnel = insight_create(workspace=workspace, name="Ticket funnel", kind="funnel", query=FUNNEL)
    searches = insight_create(
        workspace=workspace, name="Searches per day", kind="segmentation", query=SEGMENTATION
    )
    expected_steps = [s["people"] for s in insight_result(insight=funnel)["steps"]]
    expected_series = insight_result(insight=searches)["series"][0]["events"]
    assert expected_steps[0] > 0
    assert sum(expected_series) > 0

    page = browser.new_context().new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{live_server.url}/admin/login/?next=/admin/")
    page.fill("#id_username", "mia")
    page.fill("#id_password", "pw-mia-123")
    page.click("input[type=submit]")

    # The dashboard opens on the workspace with events, and counts in the singular.
    figures = page.locator(".cdp-dashboard-figures")
    page.wait_for_function(
        "() => document.querySelector('.cdp-dashboard-figures').textContent.includes('flow')"
    )
    assert page.input_value("#cdp-dashboard-workspace") == str(workspace.pk)
    assert figures.text_content().endswith(", 1 active flow")
    page.wait_for_selector(".cdp-insight-summary:has-text('No pinned insights')")

    # Pin the funnel with the action, the segmentation with its checkbox.
    page.click("#cdp-dashboard-insights a:has-text('Saved insights')")
    page.wait_for_selector("#result_list")
    page.check(f"input[name=_selected_action][value='{funnel.pk}']")
    page.select_option("select[name=action]", "pin")
    page.click("button[name=index]")
    page.wait_for_selector(".messagelist:has-text('1 insight pinned to the dashboard.')")
    row = page.locator("#result_list tr", has_text="Searches per day")
    row.locator("input[type=checkbox][name$='-pinned']").check()
    page.click("input[name=_save]")
    page.wait_for_selector(".messagelist")
    searches.refresh_from_db()
    funnel.refresh_from_db()
    assert funnel.pinned
    assert searches.pinned

    # Both are drawn on the index with the answers of the result endpoint.
    page.click("#site-name a, .breadcrumbs a:has-text('Home')")
    page.wait_for_selector("[data-insight][data-drawn=true] >> nth=1")
    assert page.text_content(".cdp-insight-summary") == "2 pinned insights"
    names = page.eval_on_selector_all(
        ".cdp-insight-card h3 a", "links => links.map(a => a.textContent)"
    )
    assert names == ["Ticket funnel", "Searches per day"]
    funnel_chart = CHART.format(funnel.pk)
    assert page.evaluate(f"{funnel_chart}.config.type") == "bar"
    assert page.evaluate(f"{funnel_chart}.data.datasets[0].data") == expected_steps
    searches_chart = CHART.format(searches.pk)
    assert page.evaluate(f"{searches_chart}.config.type") == "line"
    assert page.evaluate(f"{searches_chart}.data.datasets[0].data") == expected_series
    _shot(page, "dashboard-pinned-insights")

    # The empty workspace, once picked, is shown (and kept on the next visit).
    page.select_option("#cdp-dashboard-workspace", str(empty.pk))
    page.wait_for_selector(".cdp-insight-summary:has-text('No pinned insights')")
    assert figures.text_content() == "0 events, 0 new people, 0 active flows"
    page.reload()
    page.wait_for_selector(".cdp-insight-summary:has-text('No pinned insights')")
    assert page.input_value("#cdp-dashboard-workspace") == str(empty.pk)
    page.select_option("#cdp-dashboard-workspace", str(workspace.pk))
    page.wait_for_selector(".cdp-insight-summary:has-text('2 pinned insights')")

    # "Open" brings the funnel to the analytics page, ready to be saved again.
    page.click(".cdp-insight-card h3 a:has-text('Ticket funnel')")
    page.wait_for_selector(".cdp-insight-message:has-text('Ticket funnel')")
    assert f"insight={funnel.pk}" in page.url
    assert page.input_value(".cdp-insight-name") == "Ticket funnel"
    assert page.is_checked(".cdp-insight-pinned")
    page.click(".cdp-insight-submit")
    if page.evaluate("typeof (window.cdpAnalytics || {}).currentQuery") == "function":
        # The page shows the opened funnel: saved under its name, the insight is changed.
        page.wait_for_selector(".cdp-insight-message:has-text('Changed “Ticket funnel”')")
    else:
        page.wait_for_selector(".cdp-insight-message:has-text('Saving needs the analytics page.')")
    assert SavedInsight.objects.count() == 2
    _shot(page, "analytics-opened-insight")
    assert errors == []
