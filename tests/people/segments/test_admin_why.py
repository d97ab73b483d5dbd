""" "Why in / not in" from the segment's own page, through real admin requests: each of the
newest members has a "Why?" link to the explanation, and a lookup box finds a person who is
not in (by id, external id, name or identifier) and explains them; other workspaces' people
and segments stay out of reach."""

import html
import re

import pytest

from people.segments.models import Segment
from people.segments.refresh import segment_refresh
from people.segments.services import segment_create
from tests.factories import PersonFactory
from tests.people.test_admin import admin_url, login, make_staff, page_text

pytestmark = pytest.mark.django_db
GERMANS_NOT_VIP = {
    "all": [
        {"attribute": "country", "operator": "equals", "value": "DE"},
        {"none": [{"tag": "vip"}]},
    ]
}


@pytest.fixture
def marketer_client(workspace):
    return login(make_staff("mia", workspace))


@pytest.fixture
def germans(workspace) -> Segment:
    segment = segment_create(workspace=workspace, name="Germans not vip", rules=GERMANS_NOT_VIP)
    return segment


def why(client, segment, person):
    return client.get(admin_url("people_segment_why", segment.pk), {"person": person})


def test_each_newest_member_has_a_why_link_to_its_explanation(workspace, germans, marketer_client):
    ann = PersonFactory(workspace=workspace, standard={"country": "DE", "firstName": "Ann"})
    segment_refresh(segment=germans)
    page = page_text(marketer_client.get(admin_url("people_segment_change", germans.pk)))
    link = f"{admin_url('people_segment_why', germans.pk)}?person={ann.pk}"
    member = rf'<li class="cdp-member"><a href="[^"]+">Ann</a> <a href="{re.escape(link)}"'
    assert re.search(member, page)
    assert 'id="cdp-why-form"' in page
    assert 'form="cdp-why-form"' in page

    answer = marketer_client.get(link)
    text = html.unescape(page_text(answer))
    assert answer.status_code == 200
    assert '<strong class="cdp-segment-member">yes</strong>' in text
    assert '<strong class="cdp-segment-qualifies">yes</strong>' in text
    assert "✓</span> country is 'DE'; needs: is DE" in text
    assert "✓</span> does not have tag 'vip'; needs: has it" in text  # inside "none of"


def test_lookup_explains_why_a_person_is_not_in(workspace, germans, marketer_client):
    """By external id (redirected to the person's id), by an e-mail, or a list of matches
    when a name matches several; nobody found is said, not a 500."""
    bob = PersonFactory(
        workspace=workspace,
        external_id="bob-1",
        standard={"country": "DE", "firstName": "Bob"},
        identifiers={"email": "bob@example.com"},
        tags=["vip"],
    )
    PersonFactory(workspace=workspace, standard={"firstName": "Bobby"})
    segment_refresh(segment=germans)

    answer = why(marketer_client, germans, "bob-1")
    assert answer.status_code == 302
    assert answer["Location"] == f"{admin_url('people_segment_why', germans.pk)}?person={bob.pk}"
    text = html.unescape(page_text(marketer_client.get(answer["Location"])))
    assert '<strong class="cdp-segment-member">no</strong>' in text
    assert '<strong class="cdp-segment-qualifies">no</strong>' in text
    assert "✗</span> has tag 'vip'; needs: has it" in text  # what keeps him out

    assert why(marketer_client, germans, "bob@example.com")["Location"].endswith(
        f"?person={bob.pk}"
    )
    several = page_text(why(marketer_client, germans, "Bob"))
    assert "Several people match “Bob”" in several
    assert several.count('<li><a href="/admin/people/segment/') == 2
    nobody = why(marketer_client, germans, "nobody-at-all")
    assert nobody.status_code == 200
    assert "Nobody in this workspace matches “nobody-at-all”" in page_text(nobody)


def test_why_stays_in_the_users_workspace(workspace, other_workspace, germans, marketer_client):
    theirs = PersonFactory(workspace=other_workspace, external_id="theirs")
    assert "Nobody in this workspace matches" in page_text(
        why(marketer_client, germans, str(theirs.pk))
    )
    their_segment = segment_create(workspace=other_workspace, name="Theirs", rules=GERMANS_NOT_VIP)
    answer = why(marketer_client, their_segment, str(theirs.pk))
    assert answer.status_code == 302
    assert answer["Location"] == admin_url("index")


def test_all_members_list_has_a_why_link_per_person(workspace, germans, marketer_client):
    """The people list filtered to the segment (its "All members") links each row's
    explanation against that segment; the unfiltered list has no such column."""
    ann = PersonFactory(workspace=workspace, standard={"country": "DE", "firstName": "Ann"})
    segment_refresh(segment=germans)
    url = admin_url("people_person_changelist")
    listing = page_text(marketer_client.get(url, {"segment": germans.pk}))
    link = f"{admin_url('people_segment_why', germans.pk)}?person={ann.pk}"
    assert f'<a href="{link}" class="cdp-why-link">Why?</a>' in listing
    assert "cdp-why-link" not in page_text(marketer_client.get(url))
