"""Rule trees: validation messages name the bad node in a marketer's words; every operator
selects the people a plain Python check selects (on SQLite and PostgreSQL alike)."""

from datetime import date, timedelta

import pytest
from django.utils import timezone

from cdp.errors import ServiceError
from events.services import PropertyInput
from people.models import Person
from people.segments.services import segment_create, segment_preview, segment_update
from people.services import attribute_definition_create
from tests.factories import DefinitionFactory, PersonFactory

pytestmark = pytest.mark.django_db


def error_of(workspace, rules, **kwargs):
    with pytest.raises(ServiceError) as caught:
        segment_create(workspace=workspace, name=kwargs.pop("name", "S"), rules=rules, **kwargs)
    return caught.value.first


@pytest.mark.parametrize(
    ("rules", "field", "code", "words"),
    [
        (
            {"all": [{"event": "pageVeiw"}]},
            "rules.all[0].event",
            "unknown_definition",
            "there is no event 'pageVeiw'",
        ),
        (
            {
                "all": [
                    {
                        "any": [
                            {
                                "event": "pageView",
                                "where": [
                                    {"property": "colour", "operator": "equals", "value": "red"}
                                ],
                            }
                        ]
                    }
                ]
            },
            "rules.all[0].any[0].where[0].property",
            "unknown_property",
            "pageView has no property",
        ),
        (
            {"all": [{"attribute": "score", "operator": "contains", "value": "1"}]},
            "rules.all[0].operator",
            "invalid_operator",
            "'contains' does not apply to score",
        ),
        (
            {"all": [{"attribute": "shoeSize", "operator": "equals", "value": 1}]},
            "rules.all[0].attribute",
            "unknown_attribute",
            "no standard attribute 'shoeSize'",
        ),
        (
            {"all": [{"customAttribute": "plan", "operator": "equals", "value": "x"}]},
            "rules.all[0].customAttribute",
            "unknown_attribute",
            "no custom attribute 'plan'",
        ),
        ({"all": []}, "rules.all", "invalid_rule", "add at least one condition"),
        ({"every": []}, "rules", "invalid_rule", 'a group must be {"all"'),
        (
            {"all": [{"event": "pageView", "window": {"lastWeeks": 2}}]},
            "rules.all[0].window",
            "invalid_rule",
            "a window is",
        ),
        (
            {"all": [{"event": "pageView", "count": {"operator": "~", "value": 2}}]},
            "rules.all[0].count.operator",
            "invalid_operator",
            "compare the count",
        ),
        (
            {"all": [{"attribute": "birthDate", "operator": "before", "value": "31/12/1990"}]},
            "rules.all[0].value",
            "invalid_value",
            "give a date like",
        ),
        (
            {"all": [{"segment": 999999}]},
            "rules.all[0].segment",
            "unknown_segment",
            "there is no segment 999999",
        ),
    ],
)
def test_validation_names_the_bad_node(workspace, rules, field, code, words):
    """Each mistake is reported on the path of the node, with a message saying what to do."""
    error = error_of(workspace, rules)
    assert (error.field, error.code) == (field, code)
    assert words in error.message


def test_cycles_are_rejected(workspace):
    """A segment cannot include itself, directly or through another segment."""
    a = segment_create(workspace=workspace, name="A", rules={"all": [{"tag": "x"}]})
    b = segment_create(workspace=workspace, name="B", rules={"all": [{"segment": a.pk}]})
    with pytest.raises(ServiceError) as caught:
        segment_update(segment=a, rules={"any": [{"segment": b.pk}]})
    assert caught.value.first.code == "segment_cycle"
    assert caught.value.first.field == "rules.any[0].segment"
    assert "cannot include itself" in caught.value.first.message
    with pytest.raises(ServiceError):
        segment_update(segment=a, rules={"all": [{"segment": a.pk}]})


def test_segments_of_another_workspace_are_unknown(workspace, other_workspace):
    """Rules see only their own workspace's segments and custom definitions."""
    theirs = segment_create(workspace=other_workspace, name="T", rules={"all": [{"tag": "x"}]})
    DefinitionFactory(workspace=other_workspace, definition_id="c_theirs")
    assert error_of(workspace, {"all": [{"segment": theirs.pk}]}).code == "unknown_segment"
    assert error_of(workspace, {"all": [{"event": "c_theirs"}]}).code == "unknown_definition"


@pytest.fixture
def people(workspace):
    attribute_definition_create(workspace=workspace, key="plan", name="Plan", type="text")
    attribute_definition_create(workspace=workspace, key="spend", name="Spend", type="number")
    attribute_definition_create(workspace=workspace, key="vip", name="VIP", type="boolean")
    attribute_definition_create(workspace=workspace, key="renewal", name="Renewal", type="date")
    attribute_definition_create(workspace=workspace, key="hobbies", name="Hobbies", type="list")
    today = timezone.now().date()
    specs = [
        (
            {"country": "DE", "city": "Berlin", "birthDate": "1990-05-01"},
            {
                "plan": "gold",
                "spend": 120.5,
                "vip": True,
                "renewal": str(today),
                "hobbies": ["ski", "golf"],
            },
        ),
        (
            {"country": "FR", "city": "Bern"},
            {
                "plan": "silver",
                "spend": 80,
                "vip": False,
                "renewal": str(today - timedelta(days=40)),
                "hobbies": ["golf"],
            },
        ),
        ({"country": "", "city": "Paris", "birthDate": "2001-01-31"}, {"plan": "Golden"}),
        ({}, {}),
    ]
    return [PersonFactory(workspace=workspace, standard=s, attributes=a) for s, a in specs]


def _value(person: Person, name: str):
    if name in person.attributes:
        return person.attributes[name]
    return {"country": person.country, "city": person.city, "birthDate": person.birth_date}.get(
        name
    )


CASES = [
    ("attribute", "country", "equals", "DE", lambda v: v == "DE"),
    ("attribute", "country", "not_equals", "DE", lambda v: v != "DE"),
    ("attribute", "country", "is_set", None, lambda v: bool(v)),
    ("attribute", "country", "is_not_set", None, lambda v: not v),
    ("attribute", "city", "starts_with", "be", lambda v: v.lower().startswith("be")),
    ("attribute", "city", "contains", "ER", lambda v: "er" in v.lower()),
    ("attribute", "city", "in", ["Paris", "Bern"], lambda v: v in ("Paris", "Bern")),
    ("attribute", "birthDate", "before", "1995-01-01", lambda v: v and v < date(1995, 1, 1)),
    (
        "attribute",
        "birthDate",
        "between",
        ["1980-01-01", "2001-01-31"],
        lambda v: v and date(1980, 1, 1) <= v <= date(2001, 1, 31),
    ),
    ("customAttribute", "plan", "equals", "gold", lambda v: v == "gold"),
    ("customAttribute", "plan", "not_equals", "gold", lambda v: v != "gold"),
    ("customAttribute", "plan", "contains", "GOLD", lambda v: v and "gold" in v.lower()),
    ("customAttribute", "plan", "in", ["silver", "Golden"], lambda v: v in ("silver", "Golden")),
    ("customAttribute", "plan", "is_not_set", None, lambda v: not v),
    ("customAttribute", "spend", "gt", 100, lambda v: v is not None and v > 100),
    ("customAttribute", "spend", "lt", 100, lambda v: v is not None and v < 100),
    (
        "customAttribute",
        "spend",
        "between",
        [80, 120.5],
        lambda v: v is not None and 80 <= v <= 120.5,
    ),
    ("customAttribute", "vip", "equals", True, lambda v: v is True),
    ("customAttribute", "vip", "equals", False, lambda v: v is False),
    ("customAttribute", "vip", "is_set", None, lambda v: v is not None),
    (
        "customAttribute",
        "renewal",
        "within_last_days",
        30,
        lambda v: v is not None and v >= str(timezone.now().date() - timedelta(days=30)),
    ),
    ("customAttribute", "hobbies", "contains", "ski", lambda v: v is not None and "ski" in v),
    ("customAttribute", "hobbies", "contains", "golf", lambda v: v is not None and "golf" in v),
]


@pytest.mark.parametrize(("kind", "name", "operator", "value", "check"), CASES)
def test_attribute_operators_match_python(workspace, people, kind, name, operator, value, check):
    """Each operator counts the people the plain check accepts; ``none`` of it counts the
    rest (missing values are 'not matching', never unknown)."""
    condition = {kind: name, "operator": operator}
    if value is not None:
        condition["value"] = value
    want = sum(1 for p in people if check(_value(p, name)))
    assert segment_preview(workspace=workspace, rules={"all": [condition]}) == want
    assert segment_preview(workspace=workspace, rules={"none": [condition]}) == len(people) - want


def test_event_property_filters_and_count_comparisons(workspace):
    """Event conditions count events of one definition matching property filters in a window;
    counts that zero satisfies include people with no events at all."""
    from events.ingestion import events_ingest
    from tests.factories import event

    DefinitionFactory(
        workspace=workspace,
        definition_id="c_order",
        properties=[
            PropertyInput(key="total", type="number"),
            PropertyInput(key="shop", type="text"),
        ],
    )
    ann, bob, _cid = (PersonFactory(workspace=workspace) for _ in range(3))
    now = timezone.now()
    rows = [(ann, 50, "web"), (ann, 150, "web"), (ann, 250, "app"), (bob, 300, "web")]
    events_ingest(
        workspace=workspace,
        origin="api",
        events=[
            event(
                "c_order",
                p,
                occurred_at=now - timedelta(hours=i + 1),
                properties={"total": t, "shop": s},
            )
            for i, (p, t, s) in enumerate(rows)
        ],
    )

    def count(op, n, where=(), window=None):
        rule = {"event": "c_order", "count": {"operator": op, "value": n}, "where": list(where)}
        if window:
            rule["window"] = window
        return segment_preview(workspace=workspace, rules={"all": [rule]})

    big = [{"property": "total", "operator": "gt", "value": 100}]
    assert count(">=", 2, big) == 1  # ann: 150, 250
    assert count("=", 1, big) == 1  # bob
    assert count("<", 1, big) == 1  # cid (no events)
    assert count("<=", 1, big) == 2  # bob, cid
    assert count("=", 0) == 1
    assert count(">", 2) == 1
    assert count(">=", 1, [{"property": "shop", "operator": "equals", "value": "app"}]) == 1
    assert count(">=", 1, window={"lastHours": 2}) == 1  # only ann's first order
    assert count(">=", 1, window={"from": str((now - timedelta(days=1)).date())}) == 2
    assert (
        segment_preview(
            workspace=workspace,
            rules={
                "all": [{"aggregate": "c_order", "field": "count", "operator": ">=", "value": 3}]
            },
        )
        == 1
    )
    assert (
        segment_preview(
            workspace=workspace,
            rules={
                "all": [
                    {
                        "aggregate": "c_order",
                        "field": "lastTime",
                        "operator": "newer_than_days",
                        "value": 1,
                    }
                ]
            },
        )
        == 2
    )


def test_a_definition_used_by_a_segment_cannot_be_deleted(workspace):
    """Deleting a custom definition that a segment's rules read is refused, naming it."""
    from events.services import definition_delete

    definition = DefinitionFactory(workspace=workspace, definition_id="c_signup")
    segment_create(workspace=workspace, name="Signed up", rules={"all": [{"event": "c_signup"}]})
    with pytest.raises(ServiceError) as caught:
        definition_delete(definition=definition)
    assert "segment 'Signed up' uses it" in caught.value.first.message


@pytest.mark.parametrize(
    ("rules", "workers"),
    [
        (
            {
                "all": [
                    {
                        "event": "pageView",
                        "count": {"operator": ">=", "value": 5},
                        "window": {"lastDays": 30},
                    }
                ]
            },
            "0",
        ),
        (
            {
                "all": [
                    {
                        "event": "pageView",
                        "count": {"operator": ">=", "value": 5},
                        "where": [{"property": "path", "operator": "equals", "value": "/m"}],
                    }
                ]
            },
            "2",
        ),
        (
            {
                "all": [
                    {"event": "pageView"},
                    {"attribute": "country", "operator": "equals", "value": "DE"},
                ]
            },
            "2",
        ),
    ],
)
def test_audience_planner_settings_follow_the_tree(workspace, rules, workers):
    """A per-person count read from the index alone is planned serially and grouped by
    sorting; other audiences may use parallel workers (measured in bench/segments.py)."""
    from django.db import connection, transaction

    from people.segments.compiler import audience_settings_apply
    from people.segments.rules import rules_validate

    if connection.vendor != "postgresql":
        pytest.skip("planner settings are PostgreSQL's")
    tree = rules_validate(workspace=workspace, rules=rules).tree
    with transaction.atomic(), connection.cursor() as cursor:
        audience_settings_apply(tree)
        cursor.execute("SHOW max_parallel_workers_per_gather")
        assert cursor.fetchone()[0] == workers
        cursor.execute("SHOW enable_hashagg")
        assert cursor.fetchone()[0] == "off"
        cursor.execute("SHOW work_mem")
        assert cursor.fetchone()[0] == "64MB"
