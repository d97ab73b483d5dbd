"""The marketer's analytics tasks in a real browser (Debian's headless Chromium, driven by
Playwright, against pytest-django's live server), by clicks: drill from a funnel step to its
dropped-off people and save them as a static segment; build a retention table and open a
cell's people; choose events by searching and clicking; see the workspace's segments in the
segment filters; set dates with a preset; get a message when Run lacks a choice; and the
page's ``currentQuery``/``load`` functions. With ``CDP_ANALYTICS_SCREENSHOTS`` (a folder)
each screen is kept there as a picture."""

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission, User

from people.segments.models import Segment, SegmentMembership
from tests.events.analytics.conftest import (
    START,
    TICKETS,
    journal_make,
    reference_funnel_people,
    reference_retention,
)
from tests.events.analytics.test_admin_browser import CHART, INKED

SCREENSHOTS = os.environ.get("CDP_ANALYTICS_SCREENSHOTS")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),  # the live server's requests commit
]
END = START + timedelta(days=20)  # the page's "to" date (2024-05-20) includes its whole day


def _shot(page, name: str) -> None:
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SCREENSHOTS) / f"analytics-{name}.png"), full_page=True)


@pytest.fixture
def page(browser, live_server, workspace):
    """A marketer (view analytics, add segments) logged in on the analytics page."""
    user = User.objects.create_user(username="mia", password="pw-mia-123", is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_analytics", "add_segment", "view_segment"])
    )
    workspace.members.add(user)
    page = browser.new_page()
    page.errors = []
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    page.goto(f"{live_server.url}/admin/login/?next=/admin/events/analytics/")
    page.fill("#id_username", "mia")
    page.fill("#id_password", "pw-mia-123")
    page.click("input[type=submit]")
    page.wait_for_selector("#cdp-segmentation .cdp-events option")
    return page


def _dates(page, box: str) -> None:
    page.fill(f"{box} .cdp-from", "2024-05-01")
    page.fill(f"{box} .cdp-to", "2024-05-20")


def test_funnel_step_dropped_people_saved_as_segment(page, workspace):
    journal = journal_make(workspace, seed=5, people=24)
    reached = reference_funnel_people(journal, list(TICKETS), START, END, timedelta(days=2))
    dropped = reached[0] - reached[1]
    assert dropped
    page.reload()
    funnel = "#cdp-funnel"
    page.click(".cdp-tab[data-tab=cdp-funnel]")
    assert page.is_hidden("#cdp-segmentation")
    page.select_option(f"{funnel} .cdp-template", "ticket-purchase")
    _dates(page, funnel)
    page.fill(f"{funnel} .cdp-window-amount", "2")
    page.click(f"{funnel} .cdp-run")
    page.wait_for_selector(f"{funnel} .cdp-analytics-table tbody tr")
    _shot(page, "funnel")
    shown = page.locator(f"{funnel} .cdp-analytics-table tbody tr").nth(1).locator(".cdp-drill")
    assert shown.count() == 2  # converted and dropped off
    assert int(shown.nth(1).text_content()) == len(dropped)
    shown.nth(1).click()
    page.wait_for_selector("#cdp-people .cdp-people-count[data-count]")
    _shot(page, "funnel-people")
    assert page.text_content("#cdp-people .cdp-people-count") == f"{len(dropped)} people"
    links = page.eval_on_selector_all(
        "#cdp-people .cdp-person", "links => links.map(a => a.getAttribute('href'))"
    )
    assert sorted(links) == sorted(f"/admin/people/person/{pk}/change/" for pk in dropped)
    assert "dropped off" in page.text_content("#cdp-people .cdp-people-title")

    page.fill("#cdp-people .cdp-segment-name", "Searched, never chose")
    page.click("#cdp-people .cdp-save-segment")
    page.wait_for_selector("#cdp-people .cdp-saved-segment")
    _shot(page, "funnel-saved")
    segment = Segment.objects.get(workspace=workspace, name="Searched, never chose")
    assert segment.kind == "static"
    members = SegmentMembership.objects.filter(segment=segment, exited_at__isnull=True)
    assert set(members.values_list("person_id", flat=True)) == dropped
    assert page.get_attribute("#cdp-people .cdp-saved-segment", "href") == (
        f"/admin/people/segment/{segment.pk}/change/"
    )
    # The new segment joins the segment filters; the bar of step 1 opens its people.
    assert "Searched, never chose (static)" in page.eval_on_selector_all(
        f"{funnel} .cdp-segment option", "options => options.map(o => o.textContent)"
    )
    page.locator("#cdp-funnel-chart").scroll_into_view_if_needed()
    bar = page.evaluate(
        f"""() => {{ const c = {CHART.format("cdp-funnel-chart")};
        const bar = c.getDatasetMeta(0).data[0]; const r = c.canvas.getBoundingClientRect();
        return [r.left + bar.x, r.top + (bar.y + bar.base) / 2]; }}"""
    )
    page.mouse.click(*bar)
    page.wait_for_function(
        "n => document.querySelector('#cdp-people .cdp-people-count')"
        ".getAttribute('data-count') === String(n)",
        arg=len(reached[0]),
    )
    assert not page.errors


def test_retention_table_by_clicks(page, workspace):
    journal = journal_make(workspace, seed=6, people=24)
    expected = reference_retention(journal, TICKETS[0], TICKETS[2], START, END, "week", 3)
    page.reload()
    box = "#cdp-retention"
    page.click(".cdp-tab[data-tab=cdp-retention]")
    # Searching the long list: typing picks the first match.
    page.locator(f"{box} .cdp-filter").nth(0).fill("searched")
    assert page.input_value(f"{box} .cdp-cohort-event") == TICKETS[0]
    page.locator(f"{box} .cdp-filter").nth(1).fill("checkout")
    assert page.input_value(f"{box} .cdp-return-event") == TICKETS[2]
    _dates(page, box)
    page.select_option(f"{box} .cdp-interval", "week")
    page.fill(f"{box} .cdp-periods", "3")
    page.click(f"{box} .cdp-run")
    page.wait_for_selector(f"{box} .cdp-retention-table tbody tr")
    page.wait_for_function(INKED, arg="cdp-retention-chart")
    _shot(page, "retention")
    header = page.eval_on_selector_all(
        f"{box} .cdp-retention-table th", "cells => cells.map(c => c.textContent)"
    )
    assert header == ["Cohort", "People", "Week 0", "Week 1", "Week 2", "Week 3"]
    table = page.eval_on_selector_all(
        f"{box} .cdp-retention-table tbody tr",
        "rows => rows.map(r => [...r.querySelectorAll('.cdp-drill')]"
        ".map(b => Number(b.getAttribute('data-count'))))",
    )
    assert table == [[len(c["people"])] + [len(r) for r in c["returned"]] for c in expected]
    total = sum(len(c["people"]) for c in expected)
    drawn = page.evaluate(f"{CHART.format('cdp-retention-chart')}.data.datasets[0].data")
    assert drawn[0] == round(sum(len(c["returned"][0]) for c in expected) / total * 1000) / 10
    # A cell opens its people: the cohort with the most people, week 0.
    row = max(range(len(expected)), key=lambda i: len(expected[i]["people"]))
    cell = page.locator(f"{box} .cdp-retention-table tbody tr").nth(row).locator(".cdp-drill")
    cell.nth(1).click()
    page.wait_for_selector("#cdp-people .cdp-people-count[data-count]")
    count = int(page.get_attribute("#cdp-people .cdp-people-count", "data-count"))
    assert (
        count == len(expected[row]["returned"][0]) == int(cell.nth(1).get_attribute("data-count"))
    )
    assert not page.errors


def test_pickers_presets_segments_and_messages(page, workspace):
    journal_make(workspace, seed=7, people=6)
    page.reload()
    box = "#cdp-segmentation"
    # The segment filter of every tab lists the workspace's segments.
    for tab in ("cdp-segmentation", "cdp-funnel", "cdp-retention"):
        options = page.eval_on_selector_all(
            f"#{tab} .cdp-segment option", "options => options.map(o => o.textContent)"
        )
        assert options == ["everyone", "Half (static)"]
    # Date presets set the dates (UTC, today included).
    today = datetime.now(UTC).date()
    page.click(f"{box} .cdp-preset[data-days='7']")
    assert page.input_value(f"{box} .cdp-from") == (today - timedelta(days=6)).isoformat()
    assert page.input_value(f"{box} .cdp-to") == today.isoformat()
    page.click(f"{box} .cdp-preset[data-days='90']")
    assert page.input_value(f"{box} .cdp-from") == (today - timedelta(days=89)).isoformat()
    page.click(f"{box} .cdp-preset[data-month]")
    assert page.input_value(f"{box} .cdp-from") == today.replace(day=1).isoformat()
    # Searching hides the other events; a click chooses, another click unchooses.
    chosen = "options => options.filter(o => o.selected).map(o => o.value)"
    first = page.eval_on_selector_all(f"{box} .cdp-events option", chosen)
    assert len(first) == 1
    page.fill(f"{box} .cdp-filter", "ticket chos")
    visible = page.eval_on_selector_all(
        f"{box} .cdp-events option", "options => options.filter(o => !o.hidden).map(o => o.value)"
    )
    assert visible == [TICKETS[1]]
    page.click(f"{box} .cdp-events option[value={TICKETS[1]}]")
    assert page.eval_on_selector_all(f"{box} .cdp-events option", chosen) == sorted(
        [*first, TICKETS[1]], key=lambda c: c != first[0]
    )
    page.fill(f"{box} .cdp-filter", "")
    page.click(f"{box} .cdp-events option[value={TICKETS[1]}]")
    page.click(f"{box} .cdp-events option[value={first[0]}]")
    assert page.eval_on_selector_all(f"{box} .cdp-events option", chosen) == []
    assert page.text_content(f"{box} .cdp-chosen") == "Nothing chosen"
    # Run with nothing chosen says what is missing.
    page.click(f"{box} .cdp-run")
    assert page.text_content(f"{box} .cdp-analytics-message") == (
        "Choose at least one event to count."
    )
    _shot(page, "nothing-chosen")
    # Chosen by a click and run: a people cell and a point of the chart open their people.
    page.click(f"{box} .cdp-events option[value={TICKETS[0]}]")
    _dates(page, box)
    page.click(f"{box} .cdp-run")
    page.wait_for_selector(f"{box} .cdp-analytics-table tbody tr")
    assert page.text_content(f"{box} .cdp-analytics-message") == ""
    cells = page.locator(f"{box} .cdp-analytics-table .cdp-drill:not([data-count='0'])")
    wanted = int(cells.first.get_attribute("data-count"))
    cells.first.click()
    page.wait_for_selector("#cdp-people .cdp-people-count[data-count]")
    assert page.get_attribute("#cdp-people .cdp-people-count", "data-count") == str(wanted)
    assert page.locator("#cdp-people .cdp-person").count() == wanted
    page.select_option(f"{box} .cdp-measure", "people")
    chart = CHART.format("cdp-segmentation-chart")
    index = page.evaluate(f"{chart}.data.datasets[0].data.findLastIndex(n => n > 0)")
    assert index != page.evaluate(f"{chart}.data.datasets[0].data.findIndex(n => n > 0)")
    wanted = page.evaluate(f"{chart}.data.datasets[0].data[{index}]")
    label = page.evaluate(f"{chart}.data.labels[{index}]")
    page.locator("#cdp-segmentation-chart").scroll_into_view_if_needed()
    point = page.evaluate(
        f"""() => {{ const c = {chart}; const p = c.getDatasetMeta(0).data[{index}];
        const r = c.canvas.getBoundingClientRect(); return [r.left + p.x, r.top + p.y]; }}"""
    )
    page.mouse.click(*point)
    page.wait_for_function(
        "([n, label]) => document.querySelector('#cdp-people .cdp-people-count')"
        ".getAttribute('data-count') === String(n) && document.querySelector("
        "'#cdp-people .cdp-people-title').textContent.endsWith('c_ticket_searched, ' + label)",
        arg=[wanted, label],
    )
    assert not page.errors


def test_current_query_and_load(page, workspace):
    """``cdpAnalytics.currentQuery()`` gives the body the tab posts; ``load`` fills a tab from
    it and runs it."""
    journal_make(workspace, seed=8, people=10)
    page.reload()
    box = "#cdp-retention"
    page.click(".cdp-tab[data-tab=cdp-retention]")
    page.select_option(f"{box} .cdp-cohort-event", TICKETS[0])
    page.select_option(f"{box} .cdp-return-event", "pageView")
    _dates(page, box)
    page.select_option(f"{box} .cdp-segment", label="Half (static)")
    query = page.evaluate("window.cdpAnalytics.currentQuery()")
    segment = Segment.objects.get(workspace=workspace, name="Half")
    assert query == {
        "kind": "retention",
        "query": {
            "cohortEvent": TICKETS[0],
            "returnEvent": "pageView",
            "interval": "day",
            "periods": 7,
            "from": "2024-05-01",
            "to": "2024-05-20",
            "segment": segment.pk,
        },
    }
    funnel = {
        "steps": [
            TICKETS[0],
            {
                "event": TICKETS[2],
                "where": [{"property": "currency", "operator": "equals", "value": "EUR"}],
            },
        ],
        "conversionWindow": {"hours": 36},
        "from": "2024-05-02",
        "to": "2024-05-19",
    }
    page.evaluate("q => window.cdpAnalytics.load({kind: 'funnel', query: q})", funnel)
    page.wait_for_selector("#cdp-funnel .cdp-analytics-table tbody tr")
    assert page.is_visible("#cdp-funnel")
    assert page.evaluate("window.cdpAnalytics.currentQuery()") == {
        "kind": "funnel",
        "query": funnel,
    }
    assert not page.errors
