"""A marketer in a real browser (Debian's headless Chromium, driven by Playwright, against
the live server), with clicks only: creates a draft from a template, choosing which of the
workspace's events the template's open events are; and activates a flow triggered by a
segment, ticking "let the current members enter", and reads how many entered."""

import os

import pytest
from django.contrib.auth.models import Permission, User

from events.demo import demo_load
from flows.models import Flow, FlowRun
from flows.services import flow_create
from people.segments.services import segment_create, segment_members_add
from tests.factories import PersonFactory
from tests.flows.conftest import END, chain, start

SCREENSHOT = os.environ.get("CDP_FLOW_SCREENSHOT")  # a path: keep pictures of the pages
pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),  # the live server's requests commit
]


@pytest.fixture
def demo():
    return demo_load(people=6, events=60)


@pytest.fixture
def marketer(demo) -> User:
    """A staff member of the demo workspace who may add and change flows. The permissions
    are given directly: a flush after an earlier transactional test removes the groups."""
    user = User.objects.create_user(username="mia", password="pw-mia-123", is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label__in=["flows", "people"],
            codename__in=["view_flow", "add_flow", "change_flow", "view_flowrun", "view_person"],
        )
    )
    demo.members.add(user)
    return user


def logged_in(browser, live_server, path: str):
    page = browser.new_context(viewport={"width": 1280, "height": 1000}).new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{live_server.url}/admin/login/?next={path}")
    page.fill("#id_username", "mia")
    page.fill("#id_password", "pw-mia-123")
    page.click("input[type=submit]")
    return page, errors


def shot(page, name: str) -> None:
    if SCREENSHOT:
        root, ext = os.path.splitext(SCREENSHOT)
        page.screenshot(path=f"{root}-{name}{ext or '.png'}", full_page=True)


def test_marketer_creates_a_draft_from_a_template(browser, live_server, demo, marketer):
    page, errors = logged_in(browser, live_server, "/admin/flows/flow/")
    page.click("#flow-add-from-template")
    page.click('a.cdp-flow-template[data-template="ppmessage-agent-routing"]')
    page.wait_for_selector("#flow-template-form")
    shot(page, "template")
    # The two events have no counterpart in the demo shop: the marketer chooses them.
    assert page.input_value("#id_event__c_product_viewed") == ""
    page.select_option("#id_event__c_product_viewed", "c_choose_tickets")
    page.select_option("#id_event__c_pricing_viewed", "c_search_tickets")
    page.fill("#id_name", "Route ticket buyers")
    page.click("#flow-template-create")
    page.wait_for_selector(".messagelist")
    assert "Route ticket buyers: draft created from the template." in page.text_content(
        ".messagelist"
    )
    flow = Flow.objects.get(workspace=demo, name="Route ticket buyers")
    assert page.url.endswith(f"/admin/flows/flow/{flow.pk}/change/")
    assert flow.status == Flow.Status.DRAFT
    assert flow.elements.get(key="start").config["event"] == "c_choose_tickets"
    # The booking template needs nothing chosen: its events are the demo's, found by name.
    page.goto(f"{live_server.url}/admin/flows/flow/templates/")
    page.click('a.cdp-flow-template[data-template="abandoned-booking"]')
    assert page.input_value("#id_event__c_ticket_searched") == "c_search_tickets"
    page.click("#flow-template-create")
    page.wait_for_selector(".messagelist")
    booking = Flow.objects.get(workspace=demo, name="Abandoned ticket booking")
    assert booking.elements.get(key="start").config["event"] == "c_search_tickets"
    assert not errors


def test_marketer_lets_current_members_enter_on_activation(browser, live_server, demo, marketer):
    listed = segment_create(workspace=demo, name="Imported", kind="static")
    people = [PersonFactory(workspace=demo) for _ in range(3)]
    segment_members_add(segment=listed, person_ids=[p.pk for p in people])
    flow = flow_create(
        workspace=demo,
        spec=chain(start({"type": "segment_entry", "segment": listed.pk}), END, name="Hello"),
    )
    page, errors = logged_in(browser, live_server, f"/admin/flows/flow/{flow.pk}/change/")
    page.click("#flow-activate")
    page.wait_for_selector("#activate-members")
    assert "3 people are in segment “Imported” now: let them enter?" in page.text_content(
        "#activate-members"
    )
    shot(page, "activate")
    page.check("#id_admit_current_members")
    page.click("#flow-activate-confirm")
    page.wait_for_selector(".messagelist")
    assert "Hello: 3 people already in segment 'Imported' were let in." in page.text_content(
        ".messagelist"
    )
    assert Flow.objects.get(pk=flow.pk).status == Flow.Status.ACTIVE
    assert sorted(FlowRun.objects.filter(flow=flow).values_list("person_id", flat=True)) == [
        p.pk for p in people
    ]
    assert not errors
