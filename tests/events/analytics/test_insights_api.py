"""The saved insights API: create, list (``?pinned=``), read, change, delete; the query checked
as its analytics API checks it, errors naming the field; each key sees only its workspace's
insights; a result equal to the analytics API's answer for the same body; and the admin's
session (staff with the permissions, CSRF on writes)."""

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.test import Client

from events.analytics.insights import INSIGHT_KINDS, insight_create
from events.analytics.insights_api import InsightOutSerializer
from events.analytics.models import SavedInsight
from tests.api_helpers import assert_described, assert_error, key_client, workspace_api
from tests.events.analytics.conftest import TICKETS, journal_make

pytestmark = pytest.mark.django_db

INSIGHTS = "/api/v1/analytics/insights"
RANGE = {"from": "2024-05-01", "to": "2024-05-20"}
FUNNEL = {"steps": list(TICKETS), **RANGE, "conversionWindow": {"days": 2}}
SEGMENTATION = {
    "events": [TICKETS[0], "pageView"],
    **RANGE,
    "interval": "week",
    "breakdown": "route",
}


@pytest.fixture
def api(workspace):
    journal_make(workspace, seed=5, people=10)
    return workspace_api(workspace)


def test_registry_has_funnel_and_segmentation():
    """Funnels and segmentations are registered; their serializers are the analytics API's."""
    assert {"funnel", "segmentation"} <= set(INSIGHT_KINDS)
    assert INSIGHT_KINDS["funnel"].serializer.__name__ == "FunnelInSerializer"
    assert INSIGHT_KINDS["segmentation"].serializer.__name__ == "SegmentationInSerializer"


def test_crud(api):
    """Create, read, list, change and delete, with the documented shape."""
    client = api.secret
    created = client.post(INSIGHTS, {"name": " Tickets ", "kind": "funnel", "query": FUNNEL})
    assert created.status_code == 201, created.content
    body = created.json()
    assert_described(InsightOutSerializer, body)
    assert (body["name"], body["kind"], body["query"], body["pinned"]) == (
        "Tickets",
        "funnel",
        FUNNEL,
        False,
    )
    assert body["workspace"] == api.workspace.pk
    second = client.post(
        INSIGHTS,
        {"name": "Weekly", "kind": "segmentation", "query": SEGMENTATION, "pinned": True},
    ).json()
    assert second["position"] > body["position"]  # last on the dashboard
    url = f"{INSIGHTS}/{body['id']}"
    assert client.get(url).json() == body
    assert [i["name"] for i in client.get(INSIGHTS).json()] == ["Tickets", "Weekly"]
    assert [i["name"] for i in client.get(f"{INSIGHTS}?pinned=true").json()] == ["Weekly"]
    assert [i["name"] for i in client.get(f"{INSIGHTS}?pinned=false").json()] == ["Tickets"]
    changed = client.patch(url, {"pinned": True, "position": 0, "name": "Ticket funnel"})
    assert changed.status_code == 200, changed.content
    assert (changed.json()["pinned"], changed.json()["name"]) == (True, "Ticket funnel")
    assert [i["name"] for i in client.get(f"{INSIGHTS}?pinned=true").json()] == [
        "Ticket funnel",
        "Weekly",
    ]
    switched = client.patch(url, {"kind": "segmentation", "query": SEGMENTATION})
    assert switched.json()["kind"] == "segmentation"
    assert client.delete(url).status_code == 204
    assert_error(client.get(url), 404)
    assert SavedInsight.objects.filter(workspace=api.workspace).count() == 1


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"kind": "funnel", "query": FUNNEL}, "required", "name"),
        ({"name": "  ", "kind": "funnel", "query": FUNNEL}, None, "name"),
        ({"name": "x" * 201, "kind": "funnel", "query": FUNNEL}, None, "name"),
        ({"name": "a\x00b", "kind": "funnel", "query": FUNNEL}, None, "name"),
        ({"name": "n", "kind": "pie", "query": FUNNEL}, None, "kind"),
        ({"name": "n", "kind": "funnel"}, "required", "query"),
        ({"name": "n", "kind": "funnel", "query": [1]}, "invalid", "query"),
        (
            {"name": "n", "kind": "funnel", "query": {**FUNNEL, "steps": [TICKETS[0]]}},
            None,
            "query.steps",
        ),
        (
            {"name": "n", "kind": "funnel", "query": {**FUNNEL, "steps": [TICKETS[0], "c_nope"]}},
            "unknown_definition",
            "query.steps[1].event",
        ),
        (
            {"name": "n", "kind": "funnel", "query": {**FUNNEL, "conversionWindow": {"days": 91}}},
            None,
            "query.conversionWindow.days",
        ),
        ({"name": "n", "kind": "funnel", "query": SEGMENTATION}, None, "query.breakdown"),
        (
            {"name": "n", "kind": "segmentation", "query": {**SEGMENTATION, "interval": "year"}},
            None,
            "query.interval",
        ),
        (
            {"name": "n", "kind": "segmentation", "query": {**SEGMENTATION, "to": "x"}},
            None,
            "query.to",
        ),
        (
            {"name": "n", "kind": "segmentation", "query": {**SEGMENTATION, "segment": 10**30}},
            None,
            "query.segment",
        ),
        ({"name": "n", "kind": "funnel", "query": FUNNEL, "pinned": "maybe"}, None, "pinned"),
        ({"name": "n", "kind": "funnel", "query": FUNNEL, "position": -1}, None, "position"),
    ],
)
def test_bad_input_names_the_field(api, body, code, field):
    """Bad input answers 400 naming the field, never a 500, and saves nothing."""
    assert_error(api.secret.post(INSIGHTS, body), 400, code, field)
    assert not SavedInsight.objects.exists()


def test_bad_changes_name_the_field(api):
    insight = api.secret.post(INSIGHTS, {"name": "T", "kind": "funnel", "query": FUNNEL}).json()
    url = f"{INSIGHTS}/{insight['id']}"
    assert_error(api.secret.patch(url, {"query": {"steps": 3}}), 400, None, "query.steps")
    assert_error(
        api.secret.patch(url, {"kind": "segmentation"}), 400, None, "query.conversionWindow"
    )
    assert_error(api.secret.patch(url, {"name": ""}), 400, None, "name")
    assert_error(api.secret.get(f"{INSIGHTS}?pinned=perhaps"), 400, "invalid", "pinned")
    assert api.secret.get(url).json() == insight  # unchanged
    assert_error(api.secret.get(f"{INSIGHTS}/{2**70}"), 404)


def test_workspace_scoping(api, other_workspace):
    """Another workspace's key neither lists, reads, changes, deletes nor runs the insight;
    public keys and no key are refused."""
    insight = api.secret.post(INSIGHTS, {"name": "T", "kind": "funnel", "query": FUNNEL}).json()
    other = workspace_api(other_workspace).secret
    url = f"{INSIGHTS}/{insight['id']}"
    assert other.get(INSIGHTS).json() == []
    for response in (
        other.get(url),
        other.patch(url, {"name": "mine"}),
        other.delete(url),
        other.get(f"{url}/result"),
    ):
        assert_error(response, 404)
    assert_error(api.public.get(INSIGHTS), 403)
    assert_error(key_client(None).get(INSIGHTS), 401)
    # The other workspace lacks the ticket definitions: its own save is refused by name.
    assert_error(
        other.post(INSIGHTS, {"name": "T", "kind": "funnel", "query": FUNNEL}),
        400,
        "unknown_definition",
        "query.steps[0].event",
    )
    assert SavedInsight.objects.get().name == "T"


@pytest.mark.parametrize(
    ("kind", "query", "endpoint"),
    [
        ("funnel", FUNNEL, "/api/v1/analytics/funnels"),
        ("segmentation", SEGMENTATION, "/api/v1/analytics/segmentation"),
        (
            "segmentation",
            {"events": ["pageView"], **RANGE, "interval": "day"},
            "/api/v1/analytics/segmentation",
        ),
    ],
)
def test_result_is_the_analytics_answer(api, kind, query, endpoint):
    """The result is what the kind's analytics API answers for the same body."""
    insight = api.secret.post(INSIGHTS, {"name": "R", "kind": kind, "query": query}).json()
    result = api.secret.get(f"{INSIGHTS}/{insight['id']}/result")
    assert result.status_code == 200, result.content
    expected = api.secret.post(endpoint, query)
    assert expected.status_code == 200
    assert result.json() == expected.json()
    assert any(s.get("people") for s in result.json().get("steps", result.json().get("series", [])))


def test_result_of_a_query_gone_stale(api, workspace):
    """A definition deleted since the insight was saved: 400 naming the field, not a 500."""
    insight = insight_create(workspace=workspace, name="T", kind="funnel", query=FUNNEL)
    SavedInsight.objects.filter(pk=insight.pk).update(
        query={**FUNNEL, "steps": [TICKETS[0], "c_gone"]}
    )
    assert_error(
        api.secret.get(f"{INSIGHTS}/{insight.pk}/result"),
        400,
        "unknown_definition",
        "query.steps[1].event",
    )


def _staff(workspace, name: str, *codenames: str) -> tuple[User, Client]:
    user = User.objects.create_user(username=name, password="pw", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    workspace.members.add(user)
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return user, client


def _csrf(client: Client) -> str:
    client.get("/admin/")  # the admin sets the CSRF cookie
    return client.cookies["csrftoken"].value


def test_admin_session(api, workspace, other_workspace):
    """A marketer's session works with the permissions of the Marketer group; CSRF is needed
    for writes; a user's list is of the chosen workspace (one of theirs)."""
    user, client = _staff(workspace, "mia")
    user.groups.add(Group.objects.get(name="Marketer"))
    body = {"name": "Mine", "kind": "funnel", "query": FUNNEL, "pinned": True}
    refused = client.post(INSIGHTS, body, content_type="application/json")
    assert_error(refused, 403)  # no CSRF token
    token = _csrf(client)
    created = client.post(INSIGHTS, body, content_type="application/json", HTTP_X_CSRFTOKEN=token)
    assert created.status_code == 201, created.content
    assert created.json()["workspace"] == workspace.pk
    insight = SavedInsight.objects.get()
    assert insight.created_by == user
    assert [i["id"] for i in client.get(f"{INSIGHTS}?pinned=true").json()] == [insight.pk]
    assert client.get(f"{INSIGHTS}/{insight.pk}/result").json()["steps"][0]["people"] > 0
    assert_error(client.get(f"{INSIGHTS}?workspace={other_workspace.pk}"), 404, None, "workspace")
    foreign = insight_create(
        workspace=other_workspace,
        name="Theirs",
        kind="segmentation",
        query={"events": ["pageView"], **RANGE},
    )
    assert_error(client.get(f"{INSIGHTS}/{foreign.pk}"), 404)
    # Staff without the permission, and users who are not staff, are refused.
    _, developer = _staff(workspace, "dev", "view_apikey")
    assert_error(developer.get(INSIGHTS), 403)
    viewer_user, viewer = _staff(workspace, "viv", "view_savedinsight")
    assert viewer.get(INSIGHTS).status_code == 200
    assert_error(viewer.get(f"{INSIGHTS}/{insight.pk}/result"), 403)  # no "view analytics"
    viewer_user.user_permissions.add(Permission.objects.get(codename="view_analytics"))
    assert viewer.get(f"{INSIGHTS}/{insight.pk}/result").status_code == 200
    token = _csrf(viewer)
    assert_error(
        viewer.post(INSIGHTS, body, content_type="application/json", HTTP_X_CSRFTOKEN=token), 403
    )
    viewer_user.is_staff = False
    viewer_user.save()
    assert viewer.get(INSIGHTS).status_code in (401, 403)
