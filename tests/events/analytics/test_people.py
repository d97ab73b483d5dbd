"""Retention answers and the people behind every number, through the API, equal a plain
Python computation over the same generated events (``conftest.reference_*``), on SQLite and
on PostgreSQL: each list is as long as the number it is behind, and holds exactly the people
the rules name; bad input is answered 400 with the field; another workspace sees nothing."""

from datetime import timedelta

import pytest

from events.analytics.api import PeopleOutSerializer, RetentionOutSerializer
from tests.api_helpers import assert_described, assert_error, workspace_api
from tests.events.analytics.conftest import (
    END,
    START,
    TICKETS,
    journal_make,
    reference_funnel_people,
    reference_retention,
    reference_segmentation,
)

pytestmark = pytest.mark.django_db

RETENTION = "/api/v1/analytics/retention"
PEOPLE = "/api/v1/analytics/{}/people"
RANGE = {"from": START.isoformat(), "to": (END - timedelta(microseconds=1)).isoformat()}


def _post(client, path: str, body: dict) -> dict:
    response = client.post(path, body)
    assert response.status_code == 200, response.content[:500]
    return response.json()


def _everyone(client, kind: str, body: dict) -> tuple[int, list[int]]:
    """The count and every person id of a people request, read a page of 7 at a time."""
    ids, offset = [], 0
    while True:
        page = _post(client, PEOPLE.format(kind), {**body, "limit": 7, "offset": offset})
        assert_described(PeopleOutSerializer, page)
        ids += [row["personId"] for row in page["results"]]
        offset += 7
        if offset >= page["count"]:
            assert len(ids) == page["count"]
            return page["count"], ids


@pytest.mark.parametrize(
    ("interval", "periods", "segment"), [("day", 7, False), ("week", 2, False), ("day", 3, True)]
)
def test_retention_matches_python(journal, interval, periods, segment):
    """Cohorts by the day or week of the first search, returns by checkout at or after it,
    per period; with a segment, its current members only."""
    client = workspace_api(journal.workspace).secret
    body = {
        "cohortEvent": TICKETS[0],
        "returnEvent": TICKETS[2],
        "interval": interval,
        "periods": periods,
        **RANGE,
    }
    members = None
    if segment:
        body["segment"], members = journal.segment.pk, journal.members
    expected = reference_retention(
        journal, TICKETS[0], TICKETS[2], START, END, interval, periods, members
    )
    answer = _post(client, RETENTION, body)
    assert_described(RetentionOutSerializer, answer)
    assert [(c["start"], c["people"], c["returned"]) for c in answer["cohorts"]] == [
        (
            e["start"].isoformat().replace("+00:00", "Z"),
            len(e["people"]),
            [len(r) for r in e["returned"]],
        )
        for e in expected
    ]
    assert sum(c["people"] for c in answer["cohorts"]) > 5
    assert sum(sum(c["returned"][1:]) for c in answer["cohorts"]) > 0  # some come back later
    # The people of each non-empty cohort and of its first cells are exactly those counted.
    for i, cohort in enumerate(expected):
        if not cohort["people"]:
            continue
        count, ids = _everyone(client, "retention", {**body, "cohort": i})
        assert (count, set(ids)) == (len(cohort["people"]), cohort["people"])
        for period in range(min(periods, 2) + 1):
            count, ids = _everyone(client, "retention", {**body, "cohort": i, "period": period})
            assert count == answer["cohorts"][i]["returned"][period]
            assert set(ids) == cohort["returned"][period]


def test_retention_same_event_and_conditions(journal):
    """The same event as cohort and return event: period 0 holds the whole cohort (the first
    event itself counts); property conditions apply to each event."""
    client = workspace_api(journal.workspace).secret
    paid = {
        "event": TICKETS[2],
        "where": [{"property": "paid", "operator": "equals", "value": True}],
    }
    body = {"cohortEvent": "pageView", "returnEvent": "pageView", "periods": 5, **RANGE}
    answer = _post(client, RETENTION, body)
    assert all(c["returned"][0] == c["people"] for c in answer["cohorts"])
    expected = reference_retention(journal, "pageView", "pageView", START, END, "day", 5)
    assert [c["returned"] for c in answer["cohorts"]] == [
        [len(r) for r in e["returned"]] for e in expected
    ]
    body = {**body, "returnEvent": paid, "interval": "week"}
    expected = reference_retention(journal, "pageView", paid, START, END, "week", 5)
    answer = _post(client, RETENTION, body)
    assert [c["returned"] for c in answer["cohorts"]] == [
        [len(r) for r in e["returned"]] for e in expected
    ]


@pytest.mark.parametrize("segment", [False, True])
def test_funnel_people_match_each_step(journal, segment):
    """Converted at step k: the people who reached it; dropped at step k: who reached step
    k-1 but not k within the window. Each list's count is the number the funnel shows."""
    client = workspace_api(journal.workspace).secret
    body = {"steps": list(TICKETS), "conversionWindow": {"days": 2}, **RANGE}
    members = None
    if segment:
        body["segment"], members = journal.segment.pk, journal.members
    funnel = _post(client, "/api/v1/analytics/funnels", body)
    reached = reference_funnel_people(
        journal, list(TICKETS), START, END, timedelta(days=2), members
    )
    assert len(reached[0] - reached[1]) > 0
    for k, step in enumerate(funnel["steps"], start=1):
        count, ids = _everyone(client, "funnels", {**body, "step": k, "outcome": "converted"})
        assert count == step["people"] == len(ids)
        assert set(ids) == reached[k - 1]
        assert ids == sorted(ids)
        if k > 1:
            count, ids = _everyone(client, "funnels", {**body, "step": k, "outcome": "dropped"})
            assert count == funnel["steps"][k - 2]["people"] - step["people"]
            assert set(ids) == reached[k - 2] - reached[k - 1]


def test_segmentation_people_match_each_bucket(journal):
    """The people of each series and bucket, with and without a breakdown (each top value,
    "not set" and "other"): their count is the answer's unique people there."""
    client = workspace_api(journal.workspace).secret
    for extra in ({"interval": "week"}, {"breakdown": {"property": "route", "limit": 2}}):
        body = {"events": [TICKETS[0], TICKETS[1]], **RANGE, **extra}
        answer = _post(client, "/api/v1/analytics/segmentation", body)
        checked = 0
        for s, series in enumerate(answer["series"]):
            for b, people in enumerate(series["people"]):
                if not people and b % 3:
                    continue  # every third empty bucket is asked too
                count, ids = _everyone(client, "segmentation", {**body, "series": s, "bucket": b})
                assert count == people == len(set(ids))
                checked += 1
        assert checked > 5
    facts = reference_segmentation(journal, [TICKETS[0]], START, END, "week")
    body = {"events": [TICKETS[0]], "interval": "week", **RANGE}
    count, ids = _everyone(client, "segmentation", {**body, "series": 0, "bucket": 1})
    assert count == facts[0]["people"][1]
    week = START - timedelta(days=START.weekday()) + timedelta(weeks=1)
    assert set(ids) == {
        f.person
        for f in journal.facts
        if f.code == TICKETS[0] and week <= f.when < week + timedelta(weeks=1)
    }


def test_people_page(workspace):
    """limit and offset page through the people in id order."""
    journal = journal_make(workspace, seed=4, people=20)
    client = workspace_api(workspace).secret
    body = {"steps": list(TICKETS), **RANGE, "step": 1}
    everyone = _post(client, PEOPLE.format("funnels"), {**body, "limit": 1000})
    ids = [row["personId"] for row in everyone["results"]]
    assert len(ids) == everyone["count"] > 4
    page = _post(client, PEOPLE.format("funnels"), {**body, "limit": 3, "offset": 2})
    assert [row["personId"] for row in page["results"]] == ids[2:5]
    assert (page["count"], page["limit"], page["offset"]) == (len(ids), 3, 2)
    by_id = {p.pk: p for p in journal.people}
    assert page["results"][0]["externalId"] == by_id[ids[2]].external_id


@pytest.mark.parametrize(
    ("path", "change", "field"),
    [
        ("funnels/people", {"step": 0}, "step"),
        ("funnels/people", {"step": 4}, "step"),
        ("funnels/people", {"step": "2"}, "step"),
        ("funnels/people", {"step": 1, "outcome": "dropped"}, "outcome"),
        ("funnels/people", {"step": 2, "outcome": "left"}, "outcome"),
        ("funnels/people", {"step": 2, "limit": 0}, "limit"),
        ("funnels/people", {"step": 2, "limit": 1001}, "limit"),
        ("funnels/people", {"step": 2, "offset": -1}, "offset"),
        ("funnels/people", {"step": 2, "steps": [TICKETS[0]]}, "steps"),
        ("funnels/people", {"step": 2, "cohort": 1}, "cohort"),
        ("segmentation/people", {"series": 2, "bucket": 0}, "series"),
        ("segmentation/people", {"series": 0, "bucket": 20}, "bucket"),
        ("segmentation/people", {"series": 0}, "bucket"),
        ("retention", {"cohortEvent": None}, "cohortEvent"),
        ("retention", {"returnEvent": "nope"}, "returnEvent.event"),
        ("retention", {"periods": 0}, "periods"),
        ("retention", {"periods": 61}, "periods"),
        ("retention", {"interval": "hour"}, "interval"),
        ("retention", {"segment": 10**6}, "segment"),
        ("retention", {"from": "2024-05-30"}, "to"),
        ("retention/people", {"cohort": -1}, "cohort"),
        ("retention/people", {"cohort": 20}, "cohort"),
        ("retention/people", {"cohort": 0, "period": 8}, "period"),
    ],
)
def test_bad_input_names_the_field(workspace, path, change, field):
    journal_make(workspace, seed=3, people=4)
    client = workspace_api(workspace).secret
    bodies = {
        "funnels": {"steps": list(TICKETS), **RANGE},
        "segmentation": {"events": [TICKETS[0], TICKETS[1]], **RANGE},
        "retention": {"cohortEvent": TICKETS[0], "returnEvent": TICKETS[1], **RANGE},
    }
    body = {**bodies[path.split("/")[0]], **change}
    assert_error(client.post(f"/api/v1/analytics/{path}", body), 400, field=field)


def test_other_workspace_sees_nothing(workspace, other_workspace):
    """Another workspace's key cannot name this workspace's definitions or segments, and
    its own answer holds none of these people."""
    journal = journal_make(workspace, seed=3, people=8)
    mine = workspace_api(workspace).secret
    other = workspace_api(other_workspace).secret
    body = {"cohortEvent": "pageView", "returnEvent": "pageView", **RANGE}
    assert sum(c["people"] for c in _post(mine, RETENTION, body)["cohorts"]) > 0
    assert sum(c["people"] for c in _post(other, RETENTION, body)["cohorts"]) == 0
    assert _post(other, PEOPLE.format("retention"), {**body, "cohort": 0})["count"] == 0
    assert_error(
        other.post(RETENTION, {**body, "cohortEvent": TICKETS[0]}), 400, field="cohortEvent.event"
    )
    assert_error(
        other.post(RETENTION, {**body, "segment": journal.segment.pk}), 400, field="segment"
    )
    steps = {"steps": list(TICKETS), **RANGE, "step": 1}
    assert_error(other.post(PEOPLE.format("funnels"), steps), 400, field="steps[0].event")
