"""What segments add to the people admin, through real admin requests: the person page says,
per segment, whether the person is a member, qualifies now and why (condition by condition);
the people list filters by current membership."""

import html
import re
from datetime import timedelta

import pytest
from django.utils import timezone

from events.ingestion import events_ingest
from events.models import EventDefinition
from events.services import definition_set_enabled
from people.segments.models import Segment
from people.segments.refresh import segment_refresh
from people.segments.services import segment_create, segment_members_add
from people.services import person_update
from tests.factories import PersonFactory, event
from tests.people.test_admin import admin_url, changelist_rows, login, make_staff, page_text

pytestmark = pytest.mark.django_db
GERMANS = {"all": [{"attribute": "country", "operator": "equals", "value": "DE"}]}


@pytest.fixture
def marketer_client(workspace):
    return login(make_staff("mia", workspace))


def segment_row(page: str, segment: Segment) -> str:
    """Return the text of the segment's row in the Segments section (tags kept)."""
    found = re.search(
        rf'<tr class="cdp-segment-row" id="segment-{segment.pk}">(.*?)</tr>', page, re.S
    )
    assert found, f"no row for {segment.name}"
    return html.unescape(found.group(1))


def test_person_page_explains_each_segment(workspace, other_workspace, marketer_client):
    """Members first; member and qualifies-now per segment; each condition met (✓) or not
    (✗) with its figure, nested groups as nested lists; rules that no longer validate show
    their error; another workspace's segments are not listed."""
    definition_set_enabled(
        workspace=workspace,
        enabled=True,
        definition=EventDefinition.objects.get(workspace=None, definition_id="pageView"),
    )
    ann = PersonFactory(workspace=workspace, standard={"country": "DE"}, tags=["vip"])
    events_ingest(
        workspace=workspace,
        origin="api",
        events=[
            event(
                "pageView",
                ann,
                occurred_at=timezone.now() - timedelta(days=2),
                properties={"path": "/mortgage"},
            )
        ],
    )
    germans = segment_create(
        workspace=workspace,
        name="Zeta Germans",
        rules={"all": [GERMANS["all"][0], {"any": [{"tag": "vip"}, {"tag": "press"}]}]},
    )
    segment_refresh(segment=germans)
    seekers = segment_create(
        workspace=workspace,
        name="Mortgage seekers",
        rules={
            "all": [
                {
                    "event": "pageView",
                    "count": {"operator": ">=", "value": 2},
                    "window": {"lastDays": 30},
                    "where": [{"property": "path", "operator": "equals", "value": "/mortgage"}],
                }
            ]
        },
    )
    broken = segment_create(workspace=workspace, name="Broken", rules=GERMANS)
    Segment.objects.filter(pk=broken.pk).update(rules={"all": [{"event": "c_gone"}]})
    listed = segment_create(workspace=workspace, name="Listed", kind=Segment.Kind.STATIC)
    segment_members_add(segment=listed, person_ids=[ann.pk])
    theirs = segment_create(workspace=other_workspace, name="Theirs", rules=GERMANS)

    page = page_text(marketer_client.get(admin_url("people_person_change", ann.pk)))
    names = re.findall(r'<tr class="cdp-segment-row" id="segment-(\d+)">', page)
    assert names == [str(s.pk) for s in (listed, germans, broken, seekers)]
    assert f"segment-{theirs.pk}" not in page

    row = segment_row(page, germans)
    assert '<td class="cdp-segment-member">yes</td>' in row
    assert '<td class="cdp-segment-qualifies">yes</td>' in row
    assert "✓</span> 2 of 2 met; needs all" in row
    assert "✓</span> country is 'DE'; needs: is DE" in row
    assert re.search(
        r"✓</span> 1 of 2 met; needs any\s*<ul>.*has tag 'vip'.*"
        r"✗</span> does not have tag 'press'; needs: has it",
        row,
        re.S,
    )

    row = segment_row(page, seekers)
    assert '<td class="cdp-segment-member">no</td>' in row
    assert '<td class="cdp-segment-qualifies">no</td>' in row
    assert "✗</span> 1 pageView with path is /mortgage in the last 30 days; needs >= 2" in row

    row = segment_row(page, broken)
    assert "The rules no longer work: there is no event 'c_gone'" in row
    assert "<details>" not in row

    row = segment_row(page, listed)
    assert "✓</span> on the list" in row
    assert "(static)" in row


def test_segment_filter_lists_current_members_of_the_workspace(
    workspace, other_workspace, marketer_client
):
    """Only people whose stay has not ended; another workspace's segment filters nobody in."""
    ann = PersonFactory(workspace=workspace, standard={"country": "DE"})
    bob = PersonFactory(workspace=workspace, standard={"country": "DE"})
    PersonFactory(workspace=workspace, standard={"country": "FR"})
    germans = segment_create(workspace=workspace, name="Germans", rules=GERMANS)
    segment_refresh(segment=germans)
    person_update(person=bob, standard={"country": "AT"})
    segment_refresh(segment=germans)  # bob left: his membership row has exited_at set
    theirs = segment_create(workspace=other_workspace, name="Theirs", rules=GERMANS)
    PersonFactory(workspace=other_workspace, standard={"country": "DE"})
    segment_refresh(segment=theirs)

    url = admin_url("people_person_changelist")
    listing = marketer_client.get(url, {"segment": germans.pk})
    assert [p.pk for p in changelist_rows(listing)] == [ann.pk]
    assert "Theirs" not in page_text(listing)  # not offered as a choice either
    assert changelist_rows(marketer_client.get(url, {"segment": theirs.pk})) == []
    assert changelist_rows(marketer_client.get(url, {"segment": "x"})) == []


def test_explanation_marks_conditions_inside_a_none_group_by_what_they_do(
    workspace, marketer_client
):
    """Inside "none of" a met condition keeps the person out: ✗ (red), an unmet one ✓; a
    "none of" inside another flips back; the marks elsewhere follow met / not met."""
    ann = PersonFactory(workspace=workspace, standard={"country": "DE"}, tags=["vip"])
    cautious = segment_create(
        workspace=workspace,
        name="Germans but not vip",
        rules={
            "all": [
                GERMANS["all"][0],
                {"none": [{"tag": "vip"}, {"tag": "press"}, {"none": [{"tag": "vip"}]}]},
            ]
        },
    )
    page = page_text(marketer_client.get(admin_url("people_person_change", ann.pk)))
    row = segment_row(page, cautious)
    assert '<td class="cdp-segment-qualifies">no</td>' in row
    marks = re.findall(
        r'<li class="(cdp-met|cdp-unmet)" data-path="[^"]*" data-met="(true|false)">'
        r'<span title="[^"]*">(✓|✗)</span> ([^<\n]*)',
        row,
    )
    assert [(cls, met, mark, text.strip()) for cls, met, mark, text in marks] == [
        ("cdp-unmet", "false", "✗", "1 of 2 met; needs all"),
        ("cdp-met", "true", "✓", "country is 'DE'; needs: is DE"),
        ("cdp-unmet", "false", "✗", "1 of 3 met; needs none"),
        ("cdp-unmet", "true", "✗", "has tag 'vip'; needs: has it"),
        ("cdp-met", "false", "✓", "does not have tag 'press'; needs: has it"),
        ("cdp-met", "false", "✓", "1 of 1 met; needs none"),
        ("cdp-met", "true", "✓", "has tag 'vip'; needs: has it"),
    ]
