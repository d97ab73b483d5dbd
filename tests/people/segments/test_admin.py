"""The segments admin (minimal slice), through real admin requests: scoped to the marketer's
workspaces, saves through the services (rule errors shown on the form), starts from a
template, and refreshes on demand."""

import pytest
from django.contrib.auth.models import Group

from people.segments.models import Segment
from people.segments.services import segment_create
from tests.factories import PersonFactory
from tests.people.test_admin import admin_url, changelist_rows, form_data, login, make_staff

pytestmark = pytest.mark.django_db
GERMANS = '{"all": [{"attribute": "country", "operator": "equals", "value": "DE"}]}'


@pytest.fixture
def marketer_client(workspace):
    return login(make_staff("mia", workspace))


def test_marketers_may_manage_segments(db):
    """The migration gives the Marketer group the segment permissions."""
    codenames = set(
        Group.objects.get(name="Marketer").permissions.values_list("codename", flat=True)
    )
    assert {"view_segment", "add_segment", "change_segment", "delete_segment"} <= codenames


def test_list_is_scoped_and_refresh_action_counts_members(
    workspace, other_workspace, marketer_client
):
    """A marketer sees only their workspace's segments; "Refresh now" fills the members."""
    german = PersonFactory(workspace=workspace, standard={"country": "DE"})
    mine = segment_create(
        workspace=workspace,
        name="Germans",
        rules={"all": [{"attribute": "country", "operator": "equals", "value": "DE"}]},
    )
    segment_create(workspace=other_workspace, name="Theirs", rules={"all": [{"tag": "x"}]})
    listing = marketer_client.get(admin_url("people_segment_changelist"))
    assert [s.pk for s in changelist_rows(listing)] == [mine.pk]
    response = marketer_client.post(
        admin_url("people_segment_changelist"),
        {"action": "refresh_now", "_selected_action": [mine.pk]},
        follow=True,
    )
    assert "Germans: 1 members (1 entered, 0 left)" in response.content.decode()
    mine.refresh_from_db()
    assert mine.member_count == 1
    page = marketer_client.get(admin_url("people_segment_change", mine.pk))
    assert admin_url("people_person_change", german.pk) in page.content.decode()


def test_add_form_saves_through_the_service(workspace, marketer_client):
    """Bad rules come back on the form with the node's path; a template fills empty rules."""
    url = admin_url("people_segment_add")
    data = form_data(marketer_client.get(url), "segment_form")
    data.update(name="Typo", kind="dynamic", rules='{"all": [{"event": "pageVeiw"}]}')
    response = marketer_client.post(url, data)
    assert response.status_code == 200
    assert "there is no event &#x27;pageVeiw&#x27;" in response.content.decode()
    assert not Segment.objects.exists()

    data.update(name="Lapsed", rules="", template="lapsed-visitors")
    response = marketer_client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:3000]
    segment = Segment.objects.get(name="Lapsed")
    assert segment.workspace == workspace
    assert segment.rules["all"][0]["aggregate"] == "pageView"

    data.update(name="Germans", rules=GERMANS, template="")
    assert marketer_client.post(url, data).status_code == 302
    assert Segment.objects.get(name="Germans").dependencies == ["attribute:country"]


def test_members_export_as_csv(workspace, marketer_client):
    """The export action downloads the current members with their external ids."""
    ann = PersonFactory(workspace=workspace, external_id="ann", standard={"country": "DE"})
    PersonFactory(workspace=workspace, external_id="bob", standard={"country": "FR"})
    segment = segment_create(
        workspace=workspace,
        name="Germans",
        rules={"all": [{"attribute": "country", "operator": "equals", "value": "DE"}]},
    )
    from people.segments.refresh import segment_refresh

    segment_refresh(segment=segment)
    response = marketer_client.post(
        admin_url("people_segment_changelist"),
        {"action": "export_members", "_selected_action": [segment.pk]},
    )
    assert response["Content-Type"] == "text/csv"
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert lines[0] == "segment,person_id,external_id,entered_at"
    assert [line.split(",")[:3] for line in lines[1:]] == [["Germans", str(ann.pk), "ann"]]
