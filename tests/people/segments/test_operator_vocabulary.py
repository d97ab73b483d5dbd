"""One operator vocabulary (SPEC §8): symbols and words are accepted alike in segment rules
(attribute, property, event count and aggregate conditions), in flow triggers, branches and
waits; each is stored and answered in one form, words for values and symbols for counts.
Through the HTTP API, read back through it."""

import pytest

from people.services import attribute_definition_create
from tests.api_helpers import workspace_api
from tests.factories import DefinitionFactory, PersonFactory, props

pytestmark = pytest.mark.django_db

# The same question in each spelling: loyalty at least 10, more than 2 views of a product
# costing at least 5, an aggregate count above 1.
SPELLINGS = [
    (">=", ">", ">=", ">"),
    ("gte", "gt", "gte", "gt"),
]
STORED = {
    "all": [
        {"customAttribute": "loyalty", "operator": "gte", "value": 10},
        {
            "event": "c_product_viewed",
            "count": {"operator": ">", "value": 2},
            "where": [{"property": "price", "operator": "gte", "value": 5}],
        },
        {"aggregate": "c_product_viewed", "field": "count", "operator": ">", "value": 1},
    ]
}


def _rules(attribute_op, count_op, where_op, aggregate_op) -> dict:
    return {
        "all": [
            {"customAttribute": "loyalty", "operator": attribute_op, "value": 10},
            {
                "event": "c_product_viewed",
                "count": {"operator": count_op, "value": 2},
                "where": [{"property": "price", "operator": where_op, "value": 5}],
            },
            {
                "aggregate": "c_product_viewed",
                "field": "count",
                "operator": aggregate_op,
                "value": 1,
            },
        ]
    }


@pytest.fixture
def shop(workspace, django_capture_on_commit_callbacks):
    from events.ingestion import events_ingest
    from tests.factories import event

    DefinitionFactory(
        workspace=workspace, definition_id="c_product_viewed", properties=props(price="number")
    )
    DefinitionFactory(workspace=workspace, definition_id="c_ticket_searched")
    attribute_definition_create(
        workspace=workspace, key="loyalty", name="Loyalty points", type="number"
    )
    keen = PersonFactory(workspace=workspace, attributes={"loyalty": 10})
    casual = PersonFactory(workspace=workspace, attributes={"loyalty": 9})
    with django_capture_on_commit_callbacks(execute=True):
        events_ingest(
            workspace=workspace,
            origin="api",
            events=[
                event("c_product_viewed", who, properties={"price": 5})
                for who in (keen, casual)
                for _ in range(3)
            ],
        )
    return workspace_api(workspace)


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_segments_take_either_spelling_and_store_one(shop, spelling):
    preview = shop.secret.post("/api/v1/segments/preview", {"rules": _rules(*spelling)})
    assert preview.status_code == 200, preview.content
    assert preview.json()["count"] == 1  # the loyalty of 10, not 9: >= is inclusive
    created = shop.secret.post("/api/v1/segments", {"name": "Keen", "rules": _rules(*spelling)})
    assert created.status_code == 201, created.content
    read = shop.secret.get(f"/api/v1/segments/{created.json()['id']}").json()
    assert read["rules"] == STORED


@pytest.mark.parametrize(("word", "symbol"), [("gt", ">"), ("lte", "<="), ("eq", "==")])
def test_flow_conditions_take_either_spelling_and_store_one(shop, word, symbol):
    """A trigger's property condition with a symbol, a branch's trigger condition and its
    aggregate rule with words: stored as words for values, symbols for counts."""
    value_form = {"gt": "gt", "lte": "lte", "eq": "equals"}
    count_form = {"gt": ">", "lte": "<=", "eq": "="}
    body = {
        "name": "Routing",
        "elements": [
            {
                "key": "start",
                "kind": "trigger",
                "config": {
                    "type": "event",
                    "event": "c_product_viewed",
                    "where": [{"property": "price", "operator": symbol, "value": 5}],
                },
            },
            {
                "key": "route",
                "kind": "branch",
                "config": {
                    "trigger": [{"trigger": "track_event_count", "operator": word, "value": 3}],
                    "rules": {
                        "all": [
                            {
                                "aggregate": "c_product_viewed",
                                "field": "count",
                                "operator": word,
                                "value": 1,
                            }
                        ]
                    },
                },
            },
            {"key": "end", "kind": "end", "config": {}},
        ],
        "edges": [
            {"source": "start", "target": "route", "outcome": "next"},
            {"source": "route", "target": "end", "outcome": "yes"},
            {"source": "route", "target": "end", "outcome": "no"},
        ],
    }
    created = shop.secret.post("/api/v1/flows", body)
    assert created.status_code == 201, created.content
    flow = shop.secret.get(f"/api/v1/flows/{created.json()['id']}").json()
    configs = {e["key"]: e["config"] for e in flow["elements"]}
    assert configs["start"]["where"][0]["operator"] == value_form[word]  # sent as symbol
    assert configs["route"]["trigger"][0]["operator"] == value_form[word]
    assert configs["route"]["rules"]["all"][0]["operator"] == count_form[word]
    activated = shop.secret.post(f"/api/v1/flows/{created.json()['id']}/activate", {})
    assert activated.status_code == 200, activated.content


def test_an_unknown_operator_is_refused_naming_the_field(shop):
    answer = shop.secret.post(
        "/api/v1/segments/preview",
        {"rules": {"all": [{"customAttribute": "loyalty", "operator": "≥", "value": 1}]}},
    )
    assert answer.status_code == 400, answer.content
    assert answer.json()["error"]["field"] == "rules.all[0].operator"
