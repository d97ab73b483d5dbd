"""Segmentation and funnel answers of the API equal a plain Python computation over the same
generated events (``conftest.reference_*``), on SQLite and on PostgreSQL: out-of-order steps,
steps outside the window or the range, repeated steps, property conditions, breakdowns with
"not set" and "other", and a segment's current members."""

from datetime import timedelta

import pytest

from tests.api_helpers import workspace_api
from tests.events.analytics.conftest import (
    END,
    START,
    TICKETS,
    WINDOW,
    reference_funnel,
    reference_segmentation,
)

pytestmark = pytest.mark.django_db

SEGMENTATION = "/api/v1/analytics/segmentation"
FUNNELS = "/api/v1/analytics/funnels"
RANGE = {"from": START.isoformat(), "to": (END - timedelta(microseconds=1)).isoformat()}


def _post(journal, path: str, body: dict) -> dict:
    response = workspace_api(journal.workspace).secret.post(path, body)
    assert response.status_code == 200, response.content[:500]
    return response.json()


def _funnel(journal, steps, window=None, segment=False, start=START, end=END):
    body = {"steps": steps, "from": start.isoformat(), "to": end.isoformat()}
    if window is not None:
        body["conversionWindow"] = window
    if segment:
        body["segment"] = journal.segment.pk
    answer = _post(journal, FUNNELS, body)
    return [
        {
            k: s[k]
            for k in (
                "step",
                "people",
                "conversionFromPrevious",
                "conversionFromFirst",
                "medianSecondsFromPrevious",
            )
        }
        for s in answer["steps"]
    ]


@pytest.mark.parametrize(
    ("window", "length"),
    [
        ({"days": 2}, WINDOW),
        ({"hours": 1}, timedelta(hours=1)),
        ({"minutes": 1}, timedelta(minutes=1)),
        (None, timedelta(days=7)),
    ],
)
def test_ticket_funnel_matches_python(journal, window, length):
    """Search → choose → checkout: people per step, conversions and medians as computed in
    Python, for windows from a minute to the default 7 days."""
    steps = list(TICKETS)
    expected = reference_funnel(journal, steps, START, END, length)
    assert expected[0]["people"] > 5  # the data makes a funnel
    assert expected[2]["people"] > 0
    assert _funnel(journal, steps, window) == expected


def test_boundary_journeys(journal):
    """The hand-placed journeys land where the rules say: the step exactly at the end of the
    window counts, one a microsecond later and one at the same instant do not, a reversed
    journey and a later second attempt stop at step 1."""
    result = _funnel(journal, list(TICKETS), {"days": 2}, start=START, end=END)
    assert result == reference_funnel(journal, list(TICKETS), START, END, WINDOW)
    # Only the boundary people, one at a time, to pin the rule each one exercises.
    people = journal.people
    expected_steps = [3, 1, 2, 1, 1, 3, 3, 3]  # per journey in conftest._boundary_journeys
    for person, reached in zip(people, expected_steps, strict=False):
        got = reference_funnel(journal, list(TICKETS), START, END, WINDOW, members={person.pk})
        assert sum(1 for s in got if s["people"]) == reached, person.pk


def test_funnel_with_segment_and_property_conditions(journal):
    """Property conditions in the segment rules' format filter each step; a segment restricts
    step 1 to its current members (not the one who left)."""
    steps = [
        {
            "event": TICKETS[0],
            "where": [
                {
                    "property": "route",
                    "operator": "in",
                    "value": ["PEK-ZAG", "ZAG-LHR", "Zürich-北京"],
                }
            ],
        },
        {"event": TICKETS[1], "where": [{"property": "seats", "operator": "gt", "value": 1}]},
        {
            "event": TICKETS[2],
            "where": [{"property": "currency", "operator": "equals", "value": "EUR"}],
        },
    ]
    for segment in (False, True):
        members = journal.members if segment else None
        expected = reference_funnel(journal, steps, START, END, timedelta(days=7), members)
        assert _funnel(journal, steps, {"days": 7}, segment=segment) == expected


def test_repeated_and_long_funnels(journal):
    """A definition may repeat (the next occurrence must come strictly later), up to 10
    steps."""
    again = [TICKETS[0], TICKETS[0], TICKETS[1]]
    assert _funnel(journal, again, {"days": 5}) == reference_funnel(
        journal, again, START, END, timedelta(days=5)
    )
    ten = [
        "pageView",
        TICKETS[0],
        "pageView",
        TICKETS[1],
        TICKETS[0],
        TICKETS[2],
        "pageView",
        TICKETS[1],
        TICKETS[2],
        "pageView",
    ]
    expected = reference_funnel(journal, ten, START - timedelta(days=3), END, timedelta(days=30))
    assert _funnel(journal, ten, {"days": 30}, start=START - timedelta(days=3)) == expected


def _segmentation(journal, body: dict) -> list[dict]:
    answer = _post(journal, SEGMENTATION, {**RANGE, **body})
    return [
        {k: s[k] for k in ("event", "value", "other", "events", "people")} for s in answer["series"]
    ]


@pytest.mark.parametrize("interval", ["hour", "day", "week"])
def test_segmentation_matches_python(journal, interval):
    """Events and unique people per bucket of each definition."""
    events = ["pageView", TICKETS[0], TICKETS[2]]
    expected = reference_segmentation(journal, events, START, END, interval)
    assert sum(sum(s["events"]) for s in expected) > 50
    if interval != "hour":  # someone did an event twice in a bucket: people < events there
        assert any(p < e for s in expected for e, p in zip(s["events"], s["people"], strict=True))
    assert _segmentation(journal, {"events": events, "interval": interval}) == expected


@pytest.mark.parametrize(
    ("prop", "limit"), [("route", 3), ("route", 50), ("seats", 2), ("paid", 10), ("amount", 1)]
)
def test_breakdown_matches_python(journal, prop, limit):
    """The top values by events (ties by value, "not set" last), then "other" counting each
    person once per bucket; numbers and true/false read the same on both databases."""
    events = [TICKETS[0], TICKETS[1]] if prop in ("route", "seats") else [TICKETS[2]]
    breakdown = {"property": prop, "limit": limit}
    expected = reference_segmentation(journal, events, START, END, "day", breakdown)
    assert _segmentation(journal, {"events": events, "breakdown": breakdown}) == expected


def test_segmentation_with_conditions_and_segment(journal):
    """Property conditions on a series and a segment's current members."""
    events = [
        {
            "event": "pageView",
            "where": [{"property": "path", "operator": "starts_with", "value": "/tickets"}],
        },
        {"event": TICKETS[2], "where": [{"property": "paid", "operator": "equals", "value": True}]},
    ]
    expected = reference_segmentation(
        journal, events, START, END, "day", {"property": "path", "limit": 1}, journal.members
    )
    answer = _segmentation(
        journal,
        {
            "events": events,
            "segment": journal.segment.pk,
            "breakdown": {"property": "path", "limit": 1},
        },
    )
    assert answer == expected
