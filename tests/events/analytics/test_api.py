"""The analytics API: secret keys of the workspace only, and bad input answered 400 with the
field that is wrong (never a 500): NUL characters, huge ranges, unknown definitions,
properties and segments, 1 or 11 steps, windows out of range, numbers beyond 64 bits."""

import pytest

from events.analytics.api import FunnelOutSerializer, SegmentationOutSerializer
from tests.api_helpers import assert_described, assert_error, key_client, workspace_api
from tests.events.analytics.conftest import TICKETS, journal_make

pytestmark = pytest.mark.django_db

SEGMENTATION = "/api/v1/analytics/segmentation"
FUNNELS = "/api/v1/analytics/funnels"
RANGE = {"from": "2024-05-01", "to": "2024-05-20"}


@pytest.fixture
def api(workspace):
    journal_make(workspace, seed=3, people=8)
    return workspace_api(workspace)


def test_keys(api, other_workspace):
    """No key: 401; a public key: 403; another workspace's key sees none of these events."""
    body = {"steps": list(TICKETS), **RANGE}
    assert_error(key_client(None).post(FUNNELS, body), 401)
    assert_error(api.public.post(FUNNELS, body), 403)
    assert api.secret.post(FUNNELS, body).json()["steps"][0]["people"] > 0
    other = workspace_api(other_workspace).secret
    assert_error(other.post(FUNNELS, body), 400, "unknown_definition", "steps[0].event")
    answer = other.post(SEGMENTATION, {"events": ["pageView"], **RANGE})
    assert answer.status_code == 200
    assert sum(answer.json()["series"][0]["events"]) == 0


def test_answer_shapes(api):
    """The documented fields (the serializers the schema shows), dates as ISO instants, a date
    ``to`` covering its whole day."""
    answer = api.secret.post(
        SEGMENTATION, {"events": [TICKETS[0]], "interval": "week", "breakdown": "route", **RANGE}
    ).json()
    assert answer["from"] == "2024-05-01T00:00:00Z"
    assert answer["to"] == "2024-05-21T00:00:00Z"
    assert answer["buckets"][0] == "2024-04-29T00:00:00Z"  # the Monday of the first week
    assert answer["breakdown"] == "route"
    assert {"event", "label", "value", "other", "events", "people", "totalEvents"} == set(
        answer["series"][0]
    )
    assert_described(SegmentationOutSerializer, answer)
    plain = api.secret.post(SEGMENTATION, {"events": list(TICKETS), **RANGE}).json()
    assert_described(SegmentationOutSerializer, plain)
    funnel = api.secret.post(
        FUNNELS, {"steps": list(TICKETS), **RANGE, "conversionWindow": {"hours": 36}}
    ).json()
    assert funnel["conversionWindowSeconds"] == 36 * 3600
    assert [s["step"] for s in funnel["steps"]] == [1, 2, 3]
    assert funnel["steps"][0]["conversionFromPrevious"] is None
    assert_described(FunnelOutSerializer, funnel)
    templates = api.secret.get("/api/v1/analytics/funnels/templates").json()
    assert templates[0]["query"]["steps"] == list(TICKETS)


BAD_FUNNELS = [
    ({"steps": [TICKETS[0]]}, "invalid", "steps"),
    ({"steps": [TICKETS[0]] * 11}, "invalid", "steps"),
    ({"steps": "c_checkout"}, "invalid", "steps"),
    ({"steps": [TICKETS[0], "c_nope"]}, "unknown_definition", "steps[1].event"),
    ({"steps": [TICKETS[0], 7]}, "invalid", "steps[1]"),
    ({"steps": [TICKETS[0], {"event": TICKETS[1], "count": 3}]}, "invalid", "steps[1].count"),
    (
        {
            "steps": [
                TICKETS[0],
                {
                    "event": TICKETS[1],
                    "where": [{"property": "nope", "operator": "equals", "value": 1}],
                },
            ]
        },
        "unknown_property",
        "steps[1].where[0].property",
    ),
    (
        {
            "steps": [
                TICKETS[0],
                {
                    "event": TICKETS[1],
                    "where": [{"property": "seats", "operator": "gt", "value": "x"}],
                },
            ]
        },
        "invalid_value",
        "steps[1].where[0].value",
    ),
    (
        {
            "steps": [
                TICKETS[0],
                {
                    "event": TICKETS[1],
                    "where": [{"property": "route", "operator": "equals", "value": "a\u0000b"}],
                },
            ]
        },
        "invalid",
        "steps[1].where[0].value",
    ),
    ({"steps": ["c_ticket\u0000searched", TICKETS[1]]}, "invalid", "steps[0]"),
    (
        {"steps": list(TICKETS), "conversionWindow": {"days": 91}},
        "invalid",
        "conversionWindow.days",
    ),
    ({"steps": list(TICKETS), "conversionWindow": {"weeks": 1}}, "invalid", "conversionWindow"),
    (
        {"steps": list(TICKETS), "conversionWindow": {"minutes": 0}},
        "invalid",
        "conversionWindow.minutes",
    ),
    ({"steps": list(TICKETS), "segment": 2**70}, "unknown_segment", "segment"),
    ({"steps": list(TICKETS), "segment": True}, "unknown_segment", "segment"),
    ({"steps": list(TICKETS), "extra": 1}, "invalid", "extra"),
    ({"steps": list(TICKETS), "from": "2024-01-01", "to": "2026-06-01"}, "range_too_long", "to"),
    ({"steps": list(TICKETS), "from": "0001-01-01", "to": "9999-12-31"}, "invalid_value", "to"),
    ({"steps": list(TICKETS), "from": "1900-01-01"}, "invalid", "from"),
    ({"steps": list(TICKETS), "from": "2024-05-02", "to": "2024-05-01"}, "invalid", "to"),
    ({"steps": list(TICKETS), "from": "yesterday"}, "invalid_value", "from"),
    ({"steps": list(TICKETS), "to": None}, "required", "to"),
]


@pytest.mark.parametrize(("change", "code", "field"), BAD_FUNNELS)
def test_bad_funnel_queries(api, change, code, field):
    """Each mistake is a 400 naming the field."""
    assert_error(api.secret.post(FUNNELS, {**RANGE, **change}), 400, code, field)


BAD_SEGMENTATIONS = [
    ({"events": []}, "invalid", "events"),
    ({"events": ["pageView"] * 11}, "invalid", "events"),
    ({"events": ["pageView"], "interval": "minute"}, "invalid", "interval"),
    ({"events": ["pageView"], "interval": {}}, "invalid", "interval"),
    (
        {"events": ["pageView"], "breakdown": {"property": {}}},
        "unknown_property",
        "breakdown.property",
    ),
    (
        {"events": [{"event": "pageView", "where": [{"property": [], "operator": "is_set"}]}]},
        "unknown_property",
        "events[0].where[0].property",
    ),
    (
        {"events": ["pageView"], "interval": "hour", "from": "2024-01-01", "to": "2024-03-01"},
        "range_too_long",
        "interval",
    ),
    (
        {"events": ["pageView"], "breakdown": {"property": "route"}},
        "unknown_property",
        "breakdown.property",
    ),
    (
        {"events": [TICKETS[0]], "breakdown": {"property": "route", "limit": 51}},
        "invalid",
        "breakdown.limit",
    ),
    (
        {"events": [TICKETS[0]], "breakdown": {"property": "route", "top": 5}},
        "invalid",
        "breakdown",
    ),
    (
        {
            "events": [
                {
                    "event": TICKETS[2],
                    "where": [{"property": "amount", "operator": "gt", "value": 10**400}],
                }
            ]
        },
        "invalid_value",
        "events[0].where[0].value",
    ),
    ({"events": ["pageView"], "segment": "12"}, "unknown_segment", "segment"),
    ({"events": ["pageView"], "from": "2024-05-01T00:00:00+99:00"}, "invalid_value", "from"),
]


@pytest.mark.parametrize(("change", "code", "field"), BAD_SEGMENTATIONS)
def test_bad_segmentation_queries(api, change, code, field):
    """Each mistake is a 400 naming the field."""
    assert_error(api.secret.post(SEGMENTATION, {**RANGE, **change}), 400, code, field)


def test_bodies_that_are_not_queries(api):
    """Not JSON, not an object, or another content type: 400 or 415, never 500."""
    secret = api.secret
    assert_error(secret.post(FUNNELS, "{", content_type="application/json"), 400)
    assert_error(secret.post(FUNNELS, [1, 2]), 400, "invalid")
    assert_error(secret.post(SEGMENTATION, "null", content_type="application/json"), 400)
    assert_error(
        secret.post(
            SEGMENTATION, "events=pageView", content_type="application/x-www-form-urlencoded"
        ),
        415,
    )
    assert_error(secret.get(FUNNELS), 405)


def test_another_workspaces_segment_is_unknown(api, other_workspace):
    """A segment of another workspace cannot restrict a query."""
    from people.segments.services import segment_create

    theirs = segment_create(workspace=other_workspace, name="Theirs", kind="static")
    assert_error(
        api.secret.post(FUNNELS, {"steps": list(TICKETS), "segment": theirs.pk, **RANGE}),
        400,
        "unknown_segment",
        "segment",
    )
