"""Mutated bodies on every write operation never answer 5xx (SPEC §11).

For every operation of the served OpenAPI schema that takes a body (the native API and the
compatible endpoints the schema lists), a valid body from ``BODIES`` is mutated: each field at
every depth (and the whole body) is replaced by null, a list, an object, a boolean, 0, -1,
1e30, 10**30, a 100,000-character string, a NUL character and impossible dates, or removed;
raw malformed bodies (truncated, nested 5,000 levels, invalid UTF-8, empty) are sent too.
Every answer is below 500; the native API's 400s carry ``{"error": {code, message, field}}``
with the field named, and the compatible endpoints answer in a JSON shape of their own.

Each request runs in a savepoint rolled back afterwards, so every mutation meets the same
workspace (and one request's failure cannot hide behind another's).
"""

import base64
import json
import os
import random
from dataclasses import dataclass, field

import pytest
from django.db import transaction

from tests.api_helpers import JsonClient, workspace_api
from tests.factories import DefinitionFactory, PersonFactory, props

pytestmark = pytest.mark.django_db

MISSING = object()
VALUES = [
    None,
    [],
    {},
    True,
    0,
    -1,
    1e30,
    10**30,
    "x" * 100_000,
    "\u0000",
    "0000-00-00",
    "9999-99-99T99:99",
    MISSING,
]
# At most this many (path, value) mutations per operation, chosen with a fixed seed; the raw
# bodies are always sent. Keeps the module within a minute or two on PostgreSQL; set
# MUTATIONS_PER_OPERATION=100000 for every mutation (about a minute more on a quiet machine).
MAX_MUTATIONS = int(os.environ.get("MUTATIONS_PER_OPERATION", "120"))


def _nested(levels: int) -> bytes:
    return b'{"a": ' * levels + b"1" + b"}" * levels


RAW_BODIES = [
    b"",
    b" ",
    b"{",
    b'{"a": ',
    b"[1, 2",
    b"\xff\xfe\xfa",
    b'{"a": "\xff"}',
    b"nul\x00",
    _nested(900),
    b"[" * 900 + b"]" * 900,
    _nested(5_000),
    b"[" * 5_000 + b"]" * 5_000,
    b"null",
    b"[]",
    b"1e999",
    b'"\\ud800"',
]

RULES = {
    "all": [
        {
            "event": "c_p",
            "count": {"operator": ">=", "value": 2},
            "window": {"lastDays": 30},
            "where": [{"property": "orderId", "operator": "equals", "value": "o-1"}],
        },
        {"attribute": "country", "operator": "equals", "value": "DE"},
        {"none": [{"tag": "unsubscribed"}]},
    ]
}
FLOW = {
    "name": "Welcome",
    "reentry": "recurring",
    "reentryInterval": {"days": 7},
    "startTime": "2030-01-01T00:00:00Z",
    "elements": [
        {
            "key": "start",
            "kind": "trigger",
            "config": {
                "type": "event",
                "event": "c_p",
                "where": [{"property": "total", "operator": "gt", "value": 5}],
            },
        },
        {
            "key": "wait",
            "kind": "wait_for_event",
            "config": {
                "occurred": [{"event": "c_p", "count": {"operator": ">=", "value": 1}}],
                "within": {"days": 1},
            },
        },
        {
            "key": "tag",
            "kind": "action",
            "config": {"action": "tag_add", "tag": "vip"},
            "positionX": 10,
            "positionY": 20,
        },
        {"key": "end", "kind": "end"},
    ],
    "edges": [
        {"source": "start", "target": "wait"},
        {"source": "wait", "target": "tag", "outcome": "met"},
        {"source": "wait", "target": "end", "outcome": "timeout"},
        {"source": "tag", "target": "end"},
    ],
}
EVENT = {
    "definitionId": "c_p",
    "person": {"identifiers": {"email": "ann@example.com"}},
    "occurredTime": "2024-05-01T12:00:00Z",
    "properties": {"total": 42.5, "orderId": "o-1"},
    "externalId": "order-1",
}
SEGMENTATION = {
    "events": [
        "c_p",
        {"event": "c_p", "where": [{"property": "orderId", "operator": "equals", "value": "o-1"}]},
    ],
    "from": "2024-05-01",
    "to": "2024-05-31",
    "interval": "day",
    "breakdown": {"property": "orderId", "limit": 10},
    "segment": "{segment}",
}
RETENTION = {
    "cohortEvent": "c_p",
    "returnEvent": {
        "event": "c_p",
        "where": [{"property": "total", "operator": "gt", "value": 1}],
    },
    "from": "2024-05-01",
    "to": "2024-05-31",
    "interval": "week",
    "periods": 4,
    "segment": "{segment}",
}
FUNNEL = {
    "steps": [
        "c_p",
        {"event": "c_p", "where": [{"property": "total", "operator": "gt", "value": 1}]},
    ],
    "from": "2024-05-01",
    "to": "2024-05-31",
    "conversionWindow": {"days": 7},
    "segment": "{segment}",
}
QA_EVENT = {
    "customerId": "ann",
    "eventCode": "c_p",
    "eventTime": 1714564800000,
    "extendAttributes": {"outBizId": "qa-1", "total": 9},
    "customerIdList": [{"customerId": "ann@example.com", "idMapping": "email"}],
}
QA_USER = {
    "customerId": "ann",
    "v": 1,
    "customerIdList": [{"customerId": "13888888888", "idMapping": "mobile"}],
}


@dataclass(frozen=True)
class Op:
    """A valid body for one operation; ``native`` answers in the native error shape."""

    body: object
    native: bool = True
    auth: str = "secret"  # secret | public | token (DM Hub's ?access_token=)
    params: dict = field(default_factory=dict)


BODIES = {
    ("POST", "/api/v1/definitions"): Op(
        {
            "definitionId": "c_order_paid",
            "name": "Order paid",
            "description": "Paid",
            "defaultScore": 10,
            "lifecycleStage": "purchase",
            "properties": [{"key": "total", "name": "Total", "type": "number", "required": True}],
        }
    ),
    ("PATCH", "/api/v1/definitions/{definition_id}"): Op(
        {
            "name": "P",
            "description": "d",
            "defaultScore": 2,
            "enabled": True,
            "properties": [{"key": "extra", "name": "Extra", "type": "text"}],
        }
    ),
    ("POST", "/api/v1/channels"): Op({"name": "Shop app", "appType": "app", "appKey": "shop"}),
    ("PATCH", "/api/v1/channels/{channel_id}"): Op(
        {"name": "Shop", "appType": "mini_program", "appKey": "shop-2"}
    ),
    ("POST", "/api/v1/events"): Op(EVENT),
    ("POST", "/api/v1/events/batch"): Op(
        {
            "events": [
                EVENT,
                {
                    "definitionId": "c_p",
                    "person": {"externalId": "cust-1"},
                    "properties": {"total": 10},
                },
            ]
        }
    ),
    ("POST", "/api/v1/collect"): Op(
        {
            "anonymousId": "a-123",
            "sentAt": "2024-05-01T12:00:00Z",
            "events": [
                {
                    "type": "track",
                    "event": "c_p",
                    "properties": {"total": 3},
                    "messageId": "m-1",
                    "timestamp": "2024-05-01T12:00:00Z",
                },
                {
                    "type": "identify",
                    "identifiers": {"email": "ann@example.com"},
                    "traits": {"firstName": "Ann"},
                },
            ],
        },
        auth="public",
    ),
    ("POST", "/api/v1/people"): Op(
        {
            "externalId": "cust-2",
            "identifiers": {"email": "bob2@example.com"},
            "attributes": {"firstName": "Bob", "birthDate": "1990-01-02"},
            "tags": ["vip"],
        }
    ),
    ("PATCH", "/api/v1/people/{person_id}"): Op(
        {"attributes": {"firstName": "Ann", "gender": "female"}, "customAttributes": {}}
    ),
    ("POST", "/api/v1/people/{person_id}/identifiers"): Op(
        {"type": "phone", "value": "+8613888888888"}
    ),
    ("DELETE", "/api/v1/people/{person_id}/identifiers"): Op(
        {"type": "email", "value": "ann@example.com"}
    ),
    ("POST", "/api/v1/people/{person_id}/tags"): Op({"tags": ["vip", "newsletter"]}),
    ("DELETE", "/api/v1/people/{person_id}/tags"): Op({"tags": ["vip"]}),
    ("POST", "/api/v1/people/{person_id}/merge"): Op({"personId": "{bob}"}),
    ("POST", "/api/v1/people/{person_id}/erase"): Op({"reason": "ticket GDPR-123"}),
    ("POST", "/api/v1/attribute-definitions"): Op(
        {"key": "loyalty_tier", "name": "Loyalty tier", "type": "text"}
    ),
    ("POST", "/api/v1/segments/preview"): Op({"rules": RULES}),
    ("POST", "/api/v1/segments"): Op(
        {"name": "Lapsed", "description": "x", "kind": "dynamic", "rules": RULES}
    ),
    ("PATCH", "/api/v1/segments/{segment_id}"): Op(
        {"name": "Renamed", "description": "y", "rules": RULES}
    ),
    ("POST", "/api/v1/segments/{segment_id}/members"): Op(
        {"personIds": ["{ann}"], "csv": "email,external_id\nann@example.com,\n,cust-42\n"},
        params={"segment_id": "static"},
    ),
    ("DELETE", "/api/v1/segments/{segment_id}/members"): Op(
        {"personIds": ["{ann}"]}, params={"segment_id": "static"}
    ),
    ("POST", "/api/v1/flows"): Op({**FLOW, "name": "Another"}),
    ("PATCH", "/api/v1/flows/{flow_id}"): Op({**FLOW, "name": "Welcome 2", "description": "v2"}),
    ("POST", "/api/v1/flows/{flow_id}/activate"): Op({"admitCurrentMembers": True}),
    ("POST", "/api/v1/flows/templates/{key}"): Op(
        {"name": "From a template", "definitions": {"c_ticket_searched": "c_p"}}
    ),
    ("POST", "/api/v1/exports/events"): Op(
        {
            "startTime": "2024-05-01T00:00:00Z",
            "endTime": "2024-05-02T00:00:00Z",
            "definitionIds": ["c_p"],
            "path": "daily",
            "enrichWithMomentsInfo": True,
        }
    ),
    ("POST", "/api/v1/analytics/segmentation"): Op(SEGMENTATION),
    ("POST", "/api/v1/analytics/funnels"): Op(FUNNEL),
    ("POST", "/api/v1/analytics/insights"): Op(
        {"name": "Paid", "kind": "funnel", "query": FUNNEL, "pinned": True, "position": 2}
    ),
    ("PATCH", "/api/v1/analytics/insights/{insight_id}"): Op(
        {"name": "Views", "kind": "segmentation", "query": SEGMENTATION, "pinned": False}
    ),
    ("POST", "/api/v1/analytics/retention"): Op(RETENTION),
    ("POST", "/api/v1/analytics/funnels/people"): Op(
        {**FUNNEL, "step": 2, "outcome": "dropped", "limit": 10, "offset": 0}
    ),
    ("POST", "/api/v1/analytics/segmentation/people"): Op(
        # Without the breakdown: with no events in the range it has no series to name.
        {
            **{k: v for k, v in SEGMENTATION.items() if k != "breakdown"},
            "series": 0,
            "bucket": 3,
            "limit": 10,
            "offset": 0,
        }
    ),
    ("POST", "/api/v1/analytics/retention/people"): Op(
        {**RETENTION, "cohort": 0, "period": 1, "limit": 10, "offset": 0}
    ),
    # Compatible endpoints, bodies as in the README.
    ("POST", "/peopleevents/1/persons/{personId}/definitions/{definitionId}/events"): Op(
        {"properties": {"total": 9, "orderId": "o-9"}}, native=False
    ),
    ("POST", "/v1/customerevents"): Op(
        {
            "customerId": "ann",
            "event": "c_p",
            "date": "2024-05-01T12:00:00Z",
            "targetName": "Order 17",
            "externalId": "dm-1",
            "total": 9,
        },
        native=False,
        auth="token",
    ),
    ("POST", "/quickaudience/v1/event-messages"): Op([QA_EVENT], native=False),
    ("POST", "/quickaudience/v1/user-messages"): Op(
        {"customerMessageModelListStr": json.dumps([QA_USER])}, native=False
    ),
    ("POST", "/v1/track"): Op(
        {
            "userId": "ann",
            "event": "c_p",
            "messageId": "order-1",
            "properties": {"total": 14.99},
            "timestamp": "2024-05-01T12:00:00Z",
            "context": {"ip": "1.2.3.4"},
        },
        native=False,
    ),
    ("POST", "/v1/identify"): Op(
        {
            "userId": "ann",
            "traits": {"email": "ann@example.com", "name": "Ann Smith", "birthday": "1990-01-02"},
        },
        native=False,
    ),
    ("POST", "/v1/page"): Op(
        {
            "userId": "ann",
            "name": "Pricing",
            "properties": {"url": "https://shop.example.com/pricing", "title": "Pricing"},
        },
        native=False,
    ),
    ("POST", "/v1/screen"): Op({"anonymousId": "device-42", "name": "Basket"}, native=False),
    ("POST", "/v1/alias"): Op({"previousId": "39239-239239", "userId": "ann"}, native=False),
    ("POST", "/v1/group"): Op(
        {"userId": "ann", "groupId": "8e9df332ac", "traits": {"name": "Initech"}}, native=False
    ),
    ("POST", "/v1/batch"): Op(
        {
            "batch": [
                {"type": "identify", "userId": "971mj8mk7p", "traits": {"email": "c@example.com"}},
                {
                    "type": "track",
                    "userId": "971mj8mk7p",
                    "event": "c_p",
                    "properties": {"total": 1},
                },
            ]
        },
        native=False,
    ),
}

# analytics-next's short paths take the same bodies as the long ones.
for _short, _long in {
    "t": "track",
    "p": "page",
    "i": "identify",
    "s": "screen",
    "g": "group",
    "a": "alias",
    "b": "batch",
}.items():
    BODIES[("POST", f"/v1/{_short}")] = BODIES[("POST", f"/v1/{_long}")]


def _paths(value, path=()):
    """Every path into ``value`` (keys and list indexes), the root first."""
    yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _paths(item, (*path, i))


def _replaced(value, path, new):
    if not path:
        return new
    copy = dict(value) if isinstance(value, dict) else list(value)
    head, rest = path[0], path[1:]
    if not rest and new is MISSING:
        del copy[head]
    else:
        copy[head] = _replaced(value[head], rest, new)
    return copy


def _filled(value, names: dict):
    """``value`` with "{name}" strings replaced by the world's ids."""
    if isinstance(value, dict):
        return {k: _filled(v, names) for k, v in value.items()}
    if isinstance(value, list):
        return [_filled(v, names) for v in value]
    if isinstance(value, str) and value.startswith("{") and value.endswith("}"):
        return names.get(value[1:-1], value)
    return value


def mutations(body) -> list[tuple[tuple, object]]:
    every = [
        (path, new) for path in _paths(body) for new in VALUES if not (new is MISSING and not path)
    ]
    if len(every) <= MAX_MUTATIONS:
        return every
    return random.Random(len(every)).sample(every, MAX_MUTATIONS)


def schema_write_operations(client) -> set[tuple[str, str]]:
    schema = client.get("/api/v1/schema?format=json").json()
    return {
        (method.upper(), path)
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
        if method in ("post", "put", "patch", "delete") and "requestBody" in operation
    }


@pytest.fixture
def world(workspace):
    """The workspace every mutation meets: a definition, two people, a dynamic and a static
    segment and a draft flow, made through the API."""
    DefinitionFactory(
        workspace=workspace, definition_id="c_p", properties=props(total="number", orderId="text")
    )
    api = workspace_api(workspace)
    ann = PersonFactory(
        workspace=workspace, external_id="ann", identifiers={"email": "ann@example.com"}
    )
    bob = PersonFactory(workspace=workspace, external_id="bob")
    client = api.secret
    dynamic = client.post("/api/v1/segments", {"name": "Dynamic", "rules": RULES})
    static = client.post("/api/v1/segments", {"name": "Static", "kind": "static"})
    flow = client.post("/api/v1/flows", FLOW)
    channel = client.post("/api/v1/channels", {"name": "Web", "appType": "web", "appKey": "web-1"})
    assert channel.status_code == 201, channel.content
    insight = client.post(
        "/api/v1/analytics/insights",
        {"name": "Orders", "kind": "segmentation", "query": {**SEGMENTATION, "segment": None}},
    )
    assert insight.status_code == 201, insight.content
    assert (dynamic.status_code, static.status_code, flow.status_code) == (201, 201, 201), (
        dynamic.content,
        static.content,
        flow.content,
    )
    return {
        "api": api,
        "ann": ann.pk,
        "bob": bob.pk,
        "segment": dynamic.json()["id"],
        "static": static.json()["id"],
        "flow": flow.json()["id"],
        "insight": insight.json()["id"],
        "channel": channel.json()["id"],
    }


def _url(path: str, op: Op, world: dict) -> str:
    values = {
        "definition_id": "c_p",
        "person_id": world["ann"],
        "personId": "ann",
        "definitionId": "c_p",
        "segment_id": world["segment"],
        "flow_id": world["flow"],
        "insight_id": world["insight"],
        "channel_id": world["channel"],
        "key": "abandoned-booking",
    }
    values.update({k: world[v] for k, v in op.params.items()})
    for name, value in values.items():
        path = path.replace("{" + name + "}", str(value))
    api = world["api"]
    return f"{path}?access_token={api.secret_raw}" if op.auth == "token" else path


def _client(op: Op, world: dict) -> JsonClient:
    api = world["api"]
    if op.auth == "token":
        return JsonClient(raise_request_exception=False)
    raw = api.public_raw if op.auth == "public" else api.secret_raw
    if op.auth == "secret" and not op.native:
        # Compatible clients send the key their own way: HTTP Basic with the key as user.
        token = base64.b64encode(f"{raw}:".encode()).decode()
        return JsonClient(
            headers={"Authorization": f"Basic {token}"}, raise_request_exception=False
        )
    return JsonClient(headers={"Authorization": f"App {raw}"}, raise_request_exception=False)


def _send(client, method: str, url: str, raw: bytes):
    """One request in a savepoint that is rolled back: the next one meets the same data."""
    with transaction.atomic():
        response = getattr(client, method.lower())(url, raw, content_type="application/json")
        transaction.set_rollback(True)
    return response


def _problem(response, native: bool) -> str | None:
    """What is wrong with the answer, or None."""
    if response.status_code >= 500:
        return f"{response.status_code}: {response.content[:300]!r}"
    if response.status_code < 400 and native:
        return None
    try:
        body = json.loads(response.content)
    except ValueError:
        return f"{response.status_code} not JSON: {response.content[:200]!r}"
    if not native:
        return None
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict) or not error.get("code") or not error.get("message"):
        return f"{response.status_code} not the native error shape: {body!r:.300}"
    if response.status_code in (400, 413) and not error.get("field"):
        return f"{response.status_code} names no field: {error!r:.300}"
    return None


def test_every_write_operation_of_the_schema_has_a_body_here(world):
    """A new write operation in the schema fails this test until ``BODIES`` has its body."""
    operations = schema_write_operations(world["api"].secret)
    assert operations, "the schema lists no write operations"
    assert operations <= set(BODIES), sorted(operations - set(BODIES))


@pytest.mark.parametrize(
    ("method", "path"), sorted(BODIES), ids=[" ".join(k) for k in sorted(BODIES)]
)
def test_mutated_bodies_never_answer_5xx(world, method, path):
    """The valid body is accepted; each mutation and each malformed raw body answers below
    500, and a native 400 names the field."""
    op = BODIES[(method, path)]
    client, url = _client(op, world), _url(path, op, world)
    body = _filled(op.body, world)
    valid = _send(client, method, url, json.dumps(body).encode())
    assert valid.status_code < 400 or not op.native, valid.content[:500]
    problems = []
    for where, new in mutations(body):
        raw = json.dumps(_replaced(body, where, new)).encode()
        if (problem := _problem(_send(client, method, url, raw), op.native)) is not None:
            problems.append(f"{'.'.join(map(str, where)) or 'body'} = {new!r:.20}: {problem}")
    for raw in RAW_BODIES:
        if (problem := _problem(_send(client, method, url, raw), op.native)) is not None:
            problems.append(f"raw {raw[:20]!r}: {problem}")
    assert not problems, "\n".join(problems)


def test_a_body_at_the_depth_limit_is_served_and_one_deeper_is_refused(world, settings):
    """Segment rules nested up to ``CDP_MAX_JSON_DEPTH`` reach the rule checks (no
    RecursionError); one level more is a 400 ``too_deep`` naming the body."""
    settings.CDP_MAX_JSON_DEPTH = 64
    client = world["api"].secret
    rules: dict = {"tag": "vip"}
    depth = 2  # {"rules": {…}}
    while depth + 2 <= 64:
        rules, depth = {"any": [rules]}, depth + 2
    response = client.post("/api/v1/segments/preview", {"rules": rules})
    assert response.status_code < 500, response.content[:300]
    deeper = client.post("/api/v1/segments/preview", {"rules": {"any": [rules]}})
    assert deeper.status_code == 400
    assert deeper.json()["error"]["code"] == "too_deep"
    assert deeper.json()["error"]["field"] == "body"
