"""The segment rule builder in a real browser (§7 "a builder that needs no hand-written JSON"):
Debian's headless Chromium, driven by Playwright, against pytest-django's live server.

A marketer logs in, builds "pageView with path /mortgage at least twice in the last 30 days,
and country DE" with clicks, selects and typing only, reads the live preview count, saves, and
refreshes the segment from its page.
"""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission, User
from django.utils import timezone

from events.ingestion import events_ingest
from events.models import EventDefinition
from events.services import definition_set_enabled
from people.segments.models import Segment
from tests.factories import PersonFactory, event

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),  # the live server's requests commit
]
EXPECTED_RULES = {
    "all": [
        {
            "event": "pageView",
            "occurred": True,
            "count": {"operator": ">=", "value": 2},
            "window": {"lastDays": 30},
            "where": [{"property": "path", "operator": "equals", "value": "/mortgage"}],
        },
        {"attribute": "country", "operator": "equals", "value": "DE"},
    ]
}


@pytest.fixture
def marketer(workspace) -> User:
    """A staff member of the workspace allowed to manage segments. The permissions are given
    directly: the flush after an earlier transactional test removes the groups a data
    migration created, while permissions come back with ``post_migrate``."""
    user = User.objects.create_user(username="mia", password="pw-mia-123", is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="people",
            codename__in=["view_segment", "add_segment", "change_segment", "view_person"],
        )
    )
    workspace.members.add(user)
    return user


@pytest.fixture
def visitors(workspace) -> int:
    """People on both sides of every condition; return how many the rules select."""
    definition_set_enabled(
        workspace=workspace,
        enabled=True,
        definition=EventDefinition.objects.get(workspace=None, definition_id="pageView"),
    )
    now = timezone.now()
    views = {  # country, [(days ago, path), …], selected
        "ann": ("DE", [(1, "/mortgage"), (3, "/mortgage")], True),
        "bob": ("DE", [(2, "/mortgage"), (5, "/mortgage"), (9, "/mortgage")], True),
        "cem": ("DE", [(1, "/mortgage"), (2, "/home")], False),  # one view of the path
        "dan": ("FR", [(1, "/mortgage"), (2, "/mortgage")], False),  # another country
        "eva": ("DE", [(40, "/mortgage"), (41, "/mortgage")], False),  # too long ago
    }
    items = []
    for name, (country, rows, _) in views.items():
        person = PersonFactory(workspace=workspace, external_id=name, standard={"country": country})
        items += [
            event(
                "pageView",
                person,
                occurred_at=now - timedelta(days=days),
                properties={"path": path},
            )
            for days, path in rows
        ]
    assert events_ingest(workspace=workspace, events=items, origin="api").rejected == 0
    return sum(1 for *_, selected in views.values() if selected)


def test_marketer_builds_previews_saves_and_refreshes_a_segment(
    browser, live_server, workspace, marketer, visitors
):
    """The rules built by clicking are stored as the JSON tree; the preview count and the
    refreshed member count are the number of people the rules select."""
    page = browser.new_context().new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{live_server.url}/admin/login/?next=/admin/people/segment/add/")
    page.fill("#id_username", "mia")
    page.fill("#id_password", "pw-mia-123")
    page.click("input[type=submit]")
    page.wait_for_selector("#cdp-builder .cdp-add-condition")
    assert page.is_hidden("#id_rules")  # the JSON field stays in the form, hidden
    page.fill("#id_name", "Mortgage seekers in Germany")

    page.click(".cdp-group[data-path='rules'] > .cdp-group-head .cdp-add-condition")
    first = "[data-path='rules.all[0]']"
    page.select_option(f"{first} .cdp-rule-kind", "event")
    page.select_option(f"{first} .cdp-event-definition", "pageView")
    page.select_option(f"{first} .cdp-count-operator", ">=")
    page.fill(f"{first} .cdp-count-value", "2")
    page.select_option(f"{first} .cdp-window", "lastDays")
    page.fill(f"{first} .cdp-window-amount", "30")
    page.click(f"{first} .cdp-add-filter")
    page.select_option(f"{first} .cdp-filter-property", "path")
    page.select_option(f"{first} .cdp-filter-row .cdp-operator", "equals")
    page.fill(f"{first} .cdp-filter-row .cdp-value-input", "/mortgage")

    page.click(".cdp-group[data-path='rules'] > .cdp-group-head .cdp-add-condition")
    second = "[data-path='rules.all[1]']"
    page.select_option(f"{second} .cdp-attribute-field", "country")
    page.select_option(f"{second} .cdp-operator", "equals")
    page.fill(f"{second} .cdp-value-input", "D")
    # A half-typed value is counted too; the count follows the typing.
    page.wait_for_function(
        "() => document.getElementById('cdp-preview').textContent === '≈ 0 people match'"
    )
    page.type(f"{second} .cdp-value-input", "E")
    page.wait_for_function(
        f"() => document.getElementById('cdp-preview').textContent === '≈ {visitors} people match'"
    )

    page.click("input[name=_save]")
    page.wait_for_url("**/admin/people/segment/")
    assert not errors
    segment = Segment.objects.get(workspace=workspace, name="Mortgage seekers in Germany")
    assert segment.rules == EXPECTED_RULES

    page.goto(f"{live_server.url}/admin/people/segment/{segment.pk}/change/")
    page.wait_for_function(
        f"() => document.getElementById('cdp-preview').textContent === '≈ {visitors} people match'"
    )  # the stored rules load
    page.click("#cdp-refresh-button")
    page.wait_for_function(
        "() => document.getElementById('cdp-refresh-text').textContent"
        f" === 'Done: {visitors} members'"
    )
    assert page.eval_on_selector("#cdp-refresh-progress", "bar => bar.value") == 100
    assert page.text_content(".field-member_count .readonly").strip() == str(visitors)
    assert not errors
