"""The flow page in a real browser (SPEC §8 "a drawn diagram of the flow, per-element
counts"): Debian's headless Chromium, driven by Playwright, against pytest-django's live
server. A marketer opens a flow two people are waiting in and sees its boxes and counts."""

import itertools
import os

import pytest
from django.contrib.auth.models import Permission, User

from events.ingestion import events_ingest
from flows.services import flow_activate
from tests.factories import PersonFactory, event
from tests.flows.conftest import complete_flow

SCREENSHOT = os.environ.get("CDP_FLOW_SCREENSHOT")  # a path: keep a picture of the page
pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),  # the live server's requests commit
]


@pytest.fixture
def marketer(workspace) -> User:
    """A staff member of the workspace who may view flows, runs and people. The permissions
    are given directly: a flush after an earlier transactional test removes the groups."""
    user = User.objects.create_user(username="mia", password="pw-mia-123", is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label__in=["flows", "people"],
            codename__in=["view_flow", "change_flow", "view_flowrun", "view_person"],
        )
    )
    workspace.members.add(user)
    return user


def test_flow_page_draws_the_diagram_with_counts(
    browser, live_server, workspace, catalogue, marketer
):
    """Four boxes, one per element, drawn side by side without overlapping; the wait's box
    counts the two people waiting there."""
    flow = flow_activate(flow=complete_flow(workspace, name="Searched tickets"))
    people = [PersonFactory(workspace=workspace) for _ in range(2)]
    result = events_ingest(
        workspace=workspace, origin="api", events=[event("c_ticket_searched", p) for p in people]
    )
    assert result.rejected == 0

    page = browser.new_context(viewport={"width": 1280, "height": 1000}).new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{live_server.url}/admin/login/?next=/admin/flows/flow/{flow.pk}/change/")
    page.fill("#id_username", "mia")
    page.fill("#id_password", "pw-mia-123")
    page.click("input[type=submit]")
    page.wait_for_selector("#cdp-flow-diagram")
    assert page.is_visible("#cdp-flow-diagram")
    nodes = page.locator("#cdp-flow-diagram .cdp-flow-node")
    assert nodes.count() == 4
    boxes = [nodes.nth(i).bounding_box() for i in range(4)]
    assert all(box["width"] > 150 and box["height"] > 90 for box in boxes)
    lefts = sorted(box["x"] for box in boxes)
    assert all(b - a >= boxes[0]["width"] for a, b in itertools.pairwise(lefts))
    wait = page.locator('#cdp-flow-diagram .cdp-flow-node[data-key="wait1"]')
    assert wait.locator(".waiting").text_content() == "2"
    assert wait.locator(".entered").text_content() == "2"
    assert "wait 1 h" in wait.text_content()
    assert page.locator("#cdp-flow-diagram .cdp-flow-edge").count() == 3
    assert page.locator("#flow-runs .cdp-flow-run").count() == 2
    if SCREENSHOT:
        page.screenshot(path=SCREENSHOT, full_page=True)
    assert not errors
