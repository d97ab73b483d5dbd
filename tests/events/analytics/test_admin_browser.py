"""The analytics page and the index's dashboard in a real browser (Debian's headless Chromium,
driven by Playwright, against pytest-django's live server): a marketer picks the ready-made
ticket funnel, runs it, and finds the chart drawn with the people per step the rules give;
a segmentation with a breakdown draws a line per value; the CSV downloads."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission, User

from tests.events.analytics.conftest import START, TICKETS, journal_make, reference_funnel

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),  # the live server's requests commit
]
CHART = "Chart.getChart(document.getElementById('{}'))"
# More than 500 pixels of the canvas are not transparent: the chart was drawn (Chart.js may
# draw again once the canvas has its size, so this is waited for).
INKED = """id => { const canvas = document.getElementById(id); const data = canvas.getContext('2d')
  .getImageData(0, 0, canvas.width, canvas.height).data; let n = 0;
  for (let i = 3; i < data.length; i += 4) { if (data[i]) n++; } return n > 500; }"""


@pytest.fixture
def marketer(workspace) -> User:
    """A staff member of the workspace allowed to view analytics (given directly: see the
    segment builder's browser test)."""
    user = User.objects.create_user(username="mia", password="pw-mia-123", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=["view_analytics"]))
    workspace.members.add(user)
    return user


def test_marketer_runs_a_funnel_and_a_segmentation(browser, live_server, workspace, marketer):
    journal = journal_make(workspace, seed=5, people=24)
    end = START + timedelta(days=20)  # the page's "to" date includes its whole day
    expected = [
        s["people"] for s in reference_funnel(journal, list(TICKETS), START, end, timedelta(days=2))
    ]
    assert expected[0] > expected[-1] > 0
    page = browser.new_context(accept_downloads=True).new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{live_server.url}/admin/login/?next=/admin/events/analytics/")
    page.fill("#id_username", "mia")
    page.fill("#id_password", "pw-mia-123")
    page.click("input[type=submit]")
    page.click(".cdp-tab[data-tab=cdp-funnel]")
    page.wait_for_selector("#cdp-funnel .cdp-step")

    funnel = "#cdp-funnel"
    page.select_option(f"{funnel} .cdp-template", "ticket-purchase")
    assert page.eval_on_selector_all(
        f"{funnel} .cdp-step-event", "nodes => nodes.map(n => n.value)"
    ) == list(TICKETS)
    page.fill(f"{funnel} .cdp-from", "2024-05-01")
    page.fill(f"{funnel} .cdp-to", "2024-05-20")
    page.fill(f"{funnel} .cdp-window-amount", "2")
    page.click(f"{funnel} .cdp-run")
    page.wait_for_selector(f"{funnel} .cdp-analytics-table tbody tr")
    chart = CHART.format("cdp-funnel-chart")
    assert page.evaluate(f"{chart}.data.datasets[0].data") == expected
    assert page.evaluate(f"{chart}.config.type") == "bar"
    page.wait_for_function(INKED, arg="cdp-funnel-chart")
    cells = page.eval_on_selector_all(
        f"{funnel} .cdp-analytics-table tbody tr td:nth-child(3)",
        "cells => cells.map(c => Number(c.textContent))",
    )
    assert cells == expected
    with page.expect_download() as download:
        page.click(f"{funnel} .cdp-csv")
    lines = open(download.value.path(), encoding="utf-8").read().splitlines()  # noqa: SIM115
    assert lines[0].startswith("step,label,event,people")
    assert [int(line.split(",")[3]) for line in lines[1:]] == expected

    segmentation = "#cdp-segmentation"
    page.click(".cdp-tab[data-tab=cdp-segmentation]")
    page.select_option(f"{segmentation} .cdp-events", [TICKETS[0]])
    page.select_option(f"{segmentation} .cdp-breakdown", "route")
    page.fill(f"{segmentation} .cdp-limit", "2")
    page.fill(f"{segmentation} .cdp-from", "2024-05-01")
    page.fill(f"{segmentation} .cdp-to", "2024-05-20")
    page.click(f"{segmentation} .cdp-run")
    page.wait_for_selector(f"{segmentation} .cdp-analytics-table tbody tr")
    chart = CHART.format("cdp-segmentation-chart")
    labels = page.evaluate(f"{chart}.data.datasets.map(d => d.label)")
    assert len(labels) == 3
    assert labels[-1] == "c_ticket_searched: other"
    assert page.evaluate(f"{chart}.data.labels.length") == 20
    drawn = page.evaluate(f"{chart}.data.datasets.flatMap(d => d.data).reduce((a, b) => a + b)")
    assert drawn == sum(1 for f in journal.facts if f.code == TICKETS[0] and START <= f.when < end)
    page.wait_for_function(INKED, arg="cdp-segmentation-chart")

    page.goto(f"{live_server.url}/admin/")
    page.wait_for_function(f"() => window.Chart && {CHART.format('cdp-dashboard-chart')}")
    assert page.text_content(".cdp-dashboard-figures").endswith("0 active flows")
    assert not errors
