"""The analytics page of the admin, its JSON and CSV endpoints, and the dashboard on the admin
index: who may see them (the "view analytics" permission, given to Marketers), which workspace
they read, and that they answer what the API answers."""

import csv
import io
import json
from collections import Counter
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.test import Client
from django.utils import timezone

from events.ingestion import events_ingest
from events.models import Event
from flows.services import flow_activate
from people.segments.models import Segment, SegmentMembership
from tests.events.analytics.conftest import (
    END,
    START,
    TICKETS,
    journal_make,
    reference_funnel,
    reference_funnel_people,
)
from tests.factories import PersonFactory, event
from tests.flows.conftest import complete_flow

pytestmark = pytest.mark.django_db

PAGE = "/admin/events/analytics/"
FUNNEL = {
    "steps": list(TICKETS),
    "from": START.isoformat(),
    "to": END.isoformat(),
    "conversionWindow": {"days": 2},
}


def _staff(workspace, name: str, *codenames: str) -> Client:
    user = User.objects.create_user(username=name, password="pw", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    workspace.members.add(user)
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def journal(workspace):
    return journal_make(workspace, seed=4, people=20)


@pytest.fixture
def marketer(workspace) -> Client:
    return _staff(workspace, "mia", "view_analytics", "view_event")


def test_marketers_get_the_permission():
    """The migration gives the Marketer group "view analytics"."""
    assert Group.objects.get(name="Marketer").permissions.filter(codename="view_analytics").exists()


def test_page_and_links(journal, marketer, workspace):
    """The page is listed as "Analytics" on the index and draws its forms from a catalogue
    of the workspace's definitions, segments and the ready-made funnels it can run."""
    index = marketer.get("/admin/").content.decode()
    assert f'href="{PAGE}"' in index
    assert 'id="cdp-dashboard"' in index
    page = marketer.get(PAGE)
    assert page.status_code == 200
    config = page.context["config"]
    assert {d["id"] for d in config["catalogue"]["definitions"]} >= {*TICKETS, "pageView"}
    assert [s["name"] for s in config["catalogue"]["segments"]] == ["Half"]
    assert [t["key"] for t in config["catalogue"]["funnelTemplates"]] == [
        "ticket-purchase",
        "shop-purchase",
    ]  # not the demo data's ticket events
    assert b"cdp/vendor/chart.umd.min.js" in page.content


def test_staff_without_the_permission(journal, workspace):
    """Other staff see neither the page, its endpoints, nor the dashboard."""
    developer = _staff(workspace, "dev", "view_apikey")
    assert developer.get(PAGE).status_code == 403
    assert (
        developer.post(f"{PAGE}funnels/", FUNNEL, content_type="application/json").status_code
        == 403
    )
    assert developer.get(f"{PAGE}dashboard/").status_code == 403
    assert 'id="cdp-dashboard"' not in developer.get("/admin/").content.decode()
    assert Client().get(f"{PAGE}dashboard/").status_code == 403  # not logged in: JSON, no page


def test_funnel_endpoint_answers_like_the_api(journal, marketer, workspace):
    """The page's endpoint runs the API's query on the chosen workspace."""
    answer = marketer.post(
        f"{PAGE}funnels/?workspace={workspace.pk}", FUNNEL, content_type="application/json"
    )
    assert answer.status_code == 200
    expected = reference_funnel(journal, list(TICKETS), START, END, timedelta(days=2))
    assert [s["people"] for s in answer.json()["steps"]] == [s["people"] for s in expected]
    bad = marketer.post(
        f"{PAGE}funnels/",
        {**FUNNEL, "steps": ["c_nope", TICKETS[0]]},
        content_type="application/json",
    )
    assert bad.status_code == 400
    assert bad.json()["error"]["field"] == "steps[0].event"
    assert marketer.post(f"{PAGE}funnels/", "{", content_type="application/json").status_code == 400
    assert marketer.get(f"{PAGE}funnels/").status_code == 405


def test_other_workspaces_are_refused(journal, marketer, other_workspace):
    """A workspace the user is not a member of answers 404."""
    answer = marketer.post(
        f"{PAGE}segmentation/?workspace={other_workspace.pk}",
        {"events": ["pageView"], "from": "2024-05-01", "to": "2024-05-02"},
        content_type="application/json",
    )
    assert answer.status_code == 404
    assert marketer.get(f"{PAGE}dashboard/?workspace={other_workspace.pk}").status_code == 404


def test_csrf_is_checked(journal, workspace):
    """The endpoints take POSTs from the admin's pages only (CSRF token)."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(User.objects.create_superuser("root", password="pw"))
    assert (
        client.post(f"{PAGE}funnels/", FUNNEL, content_type="application/json").status_code == 403
    )


def test_csv_downloads(journal, marketer, workspace):
    """Each table downloads as CSV: a line per step; a line per bucket and series."""
    import json

    answer = marketer.post(
        f"{PAGE}csv/", {"kind": "funnels", "query": json.dumps(FUNNEL), "workspace": workspace.pk}
    )
    assert answer.status_code == 200
    assert answer["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(answer.content.decode())))
    expected = reference_funnel(journal, list(TICKETS), START, END, timedelta(days=2))
    assert [int(r["people"]) for r in rows] == [s["people"] for s in expected]
    assert rows[1]["conversion_from_previous"] == f"{expected[1]['conversionFromPrevious']:.4f}"
    query = {
        "events": [TICKETS[0]],
        "from": "2024-05-01",
        "to": "2024-05-07",
        "breakdown": {"property": "route", "limit": 2},
    }
    answer = marketer.post(f"{PAGE}csv/", {"kind": "segmentation", "query": json.dumps(query)})
    rows = list(csv.DictReader(io.StringIO(answer.content.decode())))
    series = {r["series"] for r in rows}
    assert len(rows) == 7 * len(series)
    assert "c_ticket_searched: other" in series
    stored = sum(
        1
        for f in journal.facts
        if f.code == TICKETS[0] and START <= f.when < START + timedelta(days=7)
    )
    assert sum(int(r["events"]) for r in rows) == stored
    bad = marketer.post(f"{PAGE}csv/", {"kind": "nope", "query": "{}"})
    assert bad.status_code == 400


def test_dashboard(journal, marketer, workspace, django_capture_on_commit_callbacks):
    """Events per day for 30 days, top definitions, new people, active flows with runs."""
    flow = flow_activate(flow=complete_flow(workspace, name="Ticket follow-up"))
    now = timezone.now()
    person = PersonFactory(workspace=workspace)
    recent = [
        event(TICKETS[0], person, occurred_at=now - timedelta(days=d, seconds=s))
        for d, s in ((0, 1), (0, 2), (3, 0))
    ]
    recent.append(event("pageView", person, occurred_at=now - timedelta(days=40)))
    with django_capture_on_commit_callbacks(execute=True):  # the flow starts after commit
        assert events_ingest(workspace=workspace, events=recent, origin="api").rejected == 0
    figures = marketer.get(f"{PAGE}dashboard/").json()
    stored = list(
        Event.objects.filter(workspace=workspace).values_list(
            "occurred_at", "definition__definition_id"
        )
    )
    days = [(now - timedelta(days=29 - i)).date() for i in range(30)]
    assert figures["days"] == [d.isoformat() for d in days]
    expected = [sum(1 for when, _ in stored if when.date() == day) for day in days]
    assert figures["eventsPerDay"] == expected
    assert expected[-1] >= 2  # the two searches (and the flow's own events) of today
    assert expected[-4] == 1
    counts = Counter(code for when, code in stored if when.date() >= days[0])
    assert (
        figures["topDefinitions"]
        == [
            {"event": code, "events": n}
            for code, n in sorted(counts.items(), key=lambda item: (-item[1], item[0]))
        ][:10]
    )
    assert figures["newPeople"] == len(journal.people) + 1
    assert figures["activeFlows"] == [
        {
            "id": flow.pk,
            "name": "Ticket follow-up",
            "entered": 1,
            "live": 1,
            "finished": 0,
            "exited": 0,
        }
    ]
    assert figures["workspaces"] == [{"id": workspace.pk, "name": workspace.name}]


def test_people_and_save_as_segment(journal, workspace, other_workspace):
    """The page's people endpoint answers the API's people request with links to the person
    pages; saving needs "add segment", makes a static segment of exactly those people in the
    page's workspace, and refuses a taken name naming ``name``."""
    body = {**FUNNEL, "step": 2, "outcome": "dropped"}
    reached = reference_funnel_people(journal, list(TICKETS), START, END, timedelta(days=2))
    dropped = reached[0] - reached[1]
    assert dropped
    viewer = _staff(workspace, "viv", "view_analytics")
    answer = viewer.post(f"{PAGE}funnels/people/", body, content_type="application/json").json()
    assert answer["count"] == len(dropped)
    assert {row["personId"] for row in answer["results"]} == dropped
    first = answer["results"][0]
    assert first["url"] == f"/admin/people/person/{first['personId']}/change/"
    save = {"kind": "funnels", "query": body, "name": "Dropped at choosing"}
    refused = viewer.post(f"{PAGE}people/segment/", save, content_type="application/json")
    assert refused.status_code == 403
    assert not Segment.objects.filter(name="Dropped at choosing").exists()

    marketer = _staff(workspace, "max", "view_analytics", "add_segment")
    other_workspace.members.add(User.objects.get(username="max"))
    saved = marketer.post(
        f"{PAGE}people/segment/?workspace={workspace.pk}", save, content_type="application/json"
    )
    assert saved.status_code == 201, saved.content
    segment = Segment.objects.get(pk=saved.json()["segment"]["id"])
    assert (segment.workspace_id, segment.kind, segment.name) == (
        workspace.pk,
        "static",
        "Dropped at choosing",
    )
    members = SegmentMembership.objects.filter(segment=segment, exited_at__isnull=True)
    assert set(members.values_list("person_id", flat=True)) == dropped
    assert saved.json()["segment"]["members"] == len(dropped)
    again = marketer.post(
        f"{PAGE}people/segment/?workspace={workspace.pk}", save, content_type="application/json"
    )
    assert (again.status_code, again.json()["error"]["field"]) == (400, "name")
    bad = marketer.post(
        f"{PAGE}people/segment/",
        {**save, "name": "x", "kind": "paths"},
        content_type="application/json",
    )
    assert (bad.status_code, bad.json()["error"]["field"]) == (400, "kind")
    # In the other workspace the ticket definitions do not exist: nothing is saved there.
    elsewhere = marketer.post(
        f"{PAGE}people/segment/?workspace={other_workspace.pk}",
        {**save, "name": "Elsewhere"},
        content_type="application/json",
    )
    assert (elsewhere.status_code, elsewhere.json()["error"]["field"]) == (400, "steps[0].event")
    assert not Segment.objects.filter(name="Elsewhere").exists()


def test_retention_from_the_page(journal, marketer):
    """The page's retention endpoint answers what the API answers, and its CSV lists each
    cohort and period."""
    body = {
        "cohortEvent": TICKETS[0],
        "returnEvent": TICKETS[2],
        "from": START.isoformat(),
        "to": END.isoformat(),
        "interval": "week",
        "periods": 3,
    }
    answer = marketer.post(f"{PAGE}retention/", body, content_type="application/json").json()
    assert len(answer["cohorts"]) == 4
    assert all(len(c["returned"]) == 4 for c in answer["cohorts"])
    assert sum(c["people"] for c in answer["cohorts"]) > 0
    response = marketer.post(f"{PAGE}csv/", {"kind": "retention", "query": json.dumps(body)})
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == ["cohort", "people", "period", "returned"]
    assert len(rows) == 1 + 4 * 4
