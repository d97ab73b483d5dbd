"""Saved insights in the admin: the Marketer group's permissions, the change list (scoped to
the user's workspaces, with "Open" on the analytics page), pin and unpin, the add form checking
the query as the API does; the dashboard's workspace (the one last chosen, else the one with
events, else the first by id) and the pinned insights' place on the admin index."""

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.test import Client

from events.analytics.insights import insight_create
from events.analytics.models import SavedInsight
from people.workspaces import workspace_create
from tests.events.analytics.conftest import TICKETS, journal_make

pytestmark = pytest.mark.django_db

LIST = "/admin/events/savedinsight/"
DASHBOARD = "/admin/events/analytics/dashboard/"
FUNNEL = {"steps": list(TICKETS), "from": "2024-05-01", "to": "2024-05-20"}


def _marketer(*workspaces, name="mia") -> tuple[User, Client]:
    user = User.objects.create_user(username=name, password="pw", is_staff=True)
    user.groups.add(Group.objects.get(name="Marketer"))
    for workspace in workspaces:
        workspace.members.add(user)
    client = Client()
    client.force_login(user)
    return user, client


@pytest.fixture
def funnel(workspace):
    journal_make(workspace, seed=6, people=6)
    return insight_create(workspace=workspace, name="Tickets", kind="funnel", query=FUNNEL)


def test_marketers_may_manage_saved_insights():
    codenames = set(
        Group.objects.get(name="Marketer")
        .permissions.filter(content_type__model="savedinsight")
        .values_list("codename", flat=True)
    )
    assert codenames == {f"{a}_savedinsight" for a in ("view", "add", "change", "delete")}


def test_change_list_scoped_with_open_link(funnel, workspace, other_workspace):
    theirs = insight_create(
        workspace=other_workspace,
        name="Theirs",
        kind="segmentation",
        query={"events": ["pageView"], "from": "2024-05-01", "to": "2024-05-02"},
    )
    _, client = _marketer(workspace)
    page = client.get(LIST).content.decode()
    assert "Tickets" in page
    assert "Theirs" not in page
    assert (
        f'href="/admin/events/analytics/?workspace={workspace.pk}&amp;insight={funnel.pk}"' in page
    )
    assert client.get(f"{LIST}{theirs.pk}/change/").status_code in (302, 404)


def test_pin_and_unpin_actions(funnel, workspace):
    second = insight_create(workspace=workspace, name="Again", kind="funnel", query=FUNNEL)
    _, client = _marketer(workspace)
    ids = [str(funnel.pk), str(second.pk)]
    answer = client.post(LIST, {"action": "pin", "_selected_action": ids}, follow=True)
    assert "2 insights pinned to the dashboard." in answer.content.decode()
    assert set(SavedInsight.objects.values_list("pinned", flat=True)) == {True}
    answer = client.post(LIST, {"action": "unpin", "_selected_action": ids[:1]}, follow=True)
    assert "1 insight unpinned from the dashboard." in answer.content.decode()
    funnel.refresh_from_db()
    assert not funnel.pinned


def test_add_form_checks_the_query(funnel, workspace):
    user, client = _marketer(workspace)
    bad = client.post(
        f"{LIST}add/",
        {
            "name": "Broken",
            "kind": "funnel",
            "query": '{"steps": ["c_ticket_searched", "c_nope"], "from": "2024-05-01", '
            '"to": "2024-05-02"}',
            "position": "0",
        },
    )
    assert bad.status_code == 200
    assert "c_nope" in str(bad.context["adminform"].form.errors["query"])
    assert not SavedInsight.objects.filter(name="Broken").exists()
    good = client.post(
        f"{LIST}add/",
        {
            "name": "Weekly views",
            "kind": "segmentation",
            "query": '{"events": ["pageView"], "from": "2024-05-01", "to": "2024-05-20", '
            '"interval": "week"}',
            "pinned": "on",
            "position": "0",
        },
    )
    assert good.status_code == 302, good.context["adminform"].form.errors
    saved = SavedInsight.objects.get(name="Weekly views")
    assert (saved.workspace, saved.pinned, saved.created_by) == (workspace, True, user)


def test_index_shows_pinned_insights_box(funnel, workspace):
    _, client = _marketer(workspace)
    index = client.get("/admin/").content.decode()
    assert 'id="cdp-dashboard-insights"' in index
    assert "cdp/admin/insight_dashboard.js" in index
    viewer = User.objects.create_user(username="vic", password="pw", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_analytics"))
    workspace.members.add(viewer)
    other = Client()
    other.force_login(viewer)
    assert 'id="cdp-dashboard-insights"' not in other.get("/admin/").content.decode()


def test_analytics_page_offers_to_save(funnel, workspace):
    _, client = _marketer(workspace)
    page = client.get("/admin/events/analytics/").content.decode()
    assert 'id="cdp-insight-save"' in page
    assert "cdp/admin/insight_save.js" in page


def test_dashboard_workspace_default(workspace):
    """A second, empty workspace (first by name) is not shown by default: the one with events
    is; once the user picks a workspace, it is shown until they pick another."""
    journal_make(workspace, seed=7, people=3)
    empty = workspace_create(slug="aardvark", name="Aardvark")
    _, client = _marketer(workspace, empty)
    assert client.get(DASHBOARD).json()["workspace"]["id"] == workspace.pk
    assert client.get(f"{DASHBOARD}?workspace={empty.pk}").json()["workspace"]["id"] == empty.pk
    assert client.get(DASHBOARD).json()["workspace"]["id"] == empty.pk  # the last chosen
    assert client.get(f"{DASHBOARD}?workspace={workspace.pk}").status_code == 200
    assert client.get(DASHBOARD).json()["workspace"]["id"] == workspace.pk
    assert client.get(f"{DASHBOARD}?workspace=999999").status_code == 404
    assert client.get(DASHBOARD).json()["workspace"]["id"] == workspace.pk  # kept


def test_dashboard_workspace_without_events_is_the_first_by_id(db):
    first = workspace_create(slug="zeta", name="Zeta")
    second = workspace_create(slug="alpha", name="Alpha")
    _, client = _marketer(second, first)
    assert client.get(DASHBOARD).json()["workspace"]["id"] == first.pk
