"""Small marketer tasks in a real browser (Debian's headless Chromium, driven by Playwright,
against pytest-django's live server), by clicks alone: asking why a person is or is not in a
segment from the segment's page; adding properties to a definition up to the limit, which is
then said; following "API docs". No page of these asks for a missing file (the site icon
included)."""

import pytest
from django.contrib.auth.models import Permission, User
from playwright.sync_api import expect

from people.segments.refresh import segment_refresh
from people.segments.services import segment_create
from tests.factories import PersonFactory

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),  # the live server's requests commit
]
PERMISSIONS = {
    "people": ["view_segment", "change_segment", "view_person"],
    "events": [
        "view_eventdefinition",
        "add_eventdefinition",
        "change_eventdefinition",
        "view_propertydefinition",
        "add_propertydefinition",
        "change_propertydefinition",
    ],
}


@pytest.fixture
def marketer(workspace) -> User:
    """A staff member of the workspace (permissions given directly: a flush after an earlier
    transactional test removes the groups)."""
    user = User.objects.create_user(username="mia", password="pw-mia-123", is_staff=True)
    for app_label, codenames in PERMISSIONS.items():
        user.user_permissions.add(
            *Permission.objects.filter(content_type__app_label=app_label, codename__in=codenames)
        )
    workspace.members.add(user)
    return user


@pytest.fixture
def page(browser, live_server, marketer):
    """A logged-in page that records page errors and responses that are not found."""
    page = browser.new_context(viewport={"width": 1280, "height": 1000}).new_page()
    page.errors, page.missing = [], []
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    page.on("response", lambda r: r.status == 404 and page.missing.append(r.url))
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "mia")
    page.fill("#id_password", "pw-mia-123")
    page.click("input[type=submit]")
    page.wait_for_selector("#user-tools")
    return page


def test_why_in_and_why_not_in_from_the_segment_page(live_server, workspace, page):
    segment = segment_create(
        workspace=workspace,
        name="Germans not vip",
        rules={
            "all": [
                {"attribute": "country", "operator": "equals", "value": "DE"},
                {"none": [{"tag": "vip"}]},
            ]
        },
    )
    PersonFactory(workspace=workspace, standard={"country": "DE", "firstName": "Ann"})
    PersonFactory(
        workspace=workspace,
        external_id="bob-1",
        standard={"country": "DE", "firstName": "Bob"},
        tags=["vip"],
    )
    segment_refresh(segment=segment)

    page.click("text=Segments")
    page.click(f"text={segment.name}")
    page.locator("li.cdp-member", has_text="Ann").locator("a.cdp-why-link").click()
    page.wait_for_selector("#cdp-why")
    assert page.text_content("#cdp-why-summary .cdp-segment-member") == "yes"
    assert (
        page.locator(
            "#cdp-why li.cdp-met:not(:has(ul))", has_text="does not have tag 'vip'"
        ).count()
        == 1
    )

    page.go_back()
    page.click("#cdp-all-members")
    page.locator("#result_list tr", has_text="Ann").locator("a.cdp-why-link").click()
    page.wait_for_selector("#cdp-why")
    assert page.text_content("#cdp-why-summary .cdp-segment-qualifies") == "yes"

    page.click(f"text={segment.name}")  # the breadcrumbs lead back to the segment
    page.fill("#cdp-why-person", "bob-1")
    page.click("#cdp-why-submit")
    page.wait_for_selector("#cdp-why")
    assert page.text_content("#cdp-why-summary .cdp-segment-member") == "no"
    assert page.text_content("#cdp-why-summary .cdp-segment-qualifies") == "no"
    keeping_out = page.locator("#cdp-why li.cdp-unmet:not(:has(ul))", has_text="has tag 'vip'")
    assert keeping_out.count() == 1
    assert keeping_out.locator("span").first.text_content() == "✗"

    page.click("#cdp-api-docs")
    page.wait_for_load_state()
    assert page.url == f"{live_server.url}/api/v1/docs"
    assert not page.errors
    assert not page.missing


def test_property_limit_is_said_when_add_another_disappears(page):
    page.click("text=Event definitions")
    page.click("a.addlink")
    add = page.get_by_text("Add another Property")
    note = page.locator("#cdp-property-limit")
    assert "at most 5 custom properties (rows: 1 of 5)" in note.text_content()
    for _ in range(4):
        add.click()
    assert page.locator("#properties-group tr.form-row.dynamic-properties").count() == 5
    assert not add.is_visible()
    assert note.is_visible()
    expect(note).to_have_text(
        "A custom definition has at most 5 custom properties: this one has all 5, so no more "
        "can be added."
    )
    assert "cdp-limit-reached" in note.get_attribute("class")
    page.locator("#properties-group tr.dynamic-properties a.inline-deletelink").last.click()
    assert add.is_visible()
    expect(note).to_contain_text("(rows: 4 of 5)")
    assert not page.errors
    assert not page.missing
