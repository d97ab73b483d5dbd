"""Element configs: every kind accepts its documented format, and each mistake is reported on
the path of the value at fault with a message saying what to write instead."""

import pytest

from cdp.errors import ServiceError
from flows.models import FlowElement
from flows.services import flow_activate, flow_create
from tests.flows.conftest import END, chain, spec, start

pytestmark = pytest.mark.django_db

WHERE = [{"property": "destination", "operator": "equals", "value": "Rome"}]
WEBHOOK = {
    "action": "webhook",
    "url": "https://hooks.example.com/cdp",
    "secret": "s3cret",
    "payload": {"who": "{{ person.id }}", "nested": ["{{ event.destination }}"]},
}
GOOD_TRIGGERS = [
    {"type": "event", "event": "c_ticket_searched", "where": WHERE},
    {"type": "event", "event": "pageView"},
    {"type": "segment_entry", "segment": "vip"},
    {"type": "schedule", "segment": "vip", "at": "2099-01-31T09:00:00Z"},
    {"type": "schedule", "segment": "list", "every": {"hours": 6}},
    {"type": "schedule", "segment": "vip", "cron": "0 9 * * 1"},
]
GOOD_STEPS = [
    ("wait", {"duration": {"days": 0, "hours": 1, "minutes": 30}}),
    (
        "wait_for_event",
        {
            "occurred": [{"event": "c_ticket_chosen"}],
            "notOccurred": [{"event": "c_checkout"}],
            "within": {"days": 1},
        },
    ),
    (
        "wait_for_event",
        {
            "occurred": [
                {
                    "event": "c_ticket_searched",
                    "where": WHERE,
                    "count": {"operator": ">=", "value": 2},
                }
            ],
            "within": {"hours": 12},
        },
    ),
    (
        "branch",
        {
            "rules": {
                "all": [
                    {
                        "aggregate": "c_product_viewed",
                        "field": "count",
                        "operator": ">",
                        "value": 8,
                    },
                    {
                        "aggregate": "c_pricing_viewed",
                        "field": "count",
                        "operator": ">",
                        "value": 8,
                    },
                ]
            }
        },
    ),
    (
        "branch",
        {
            "rules": {
                "any": [
                    {"tag": "vip"},
                    {"segment": "vip"},
                    {"customAttribute": "loyalty", "operator": "gt", "value": 9},
                ]
            },
            "trigger": [
                {"trigger": "track_event_count", "operator": "gt", "value": 3},
                {"trigger": "track_event_data.seats", "operator": "gt", "value": 1},
                {"trigger": "track_event_uuid", "operator": "equals", "value": "c_ticket_searched"},
            ],
        },
    ),
    ("branch", {"trigger": [{"trigger": "track_event_seq", "operator": "in", "value": [1, 2]}]}),
    ("action", {"action": "tag_add", "tag": "vip"}),
    ("action", {"action": "tag_remove", "tag": "vip"}),
    ("action", {"action": "attribute_set", "attribute": "city", "value": "Berlin"}),
    ("action", {"action": "attribute_set", "attribute": "birthDate", "value": None}),
    ("action", {"action": "attribute_set", "attribute": "loyalty", "value": 120}),
    ("action", {"action": "score_change", "by": -5}),
    ("action", WEBHOOK),
    ("action", {"action": "webhook", "url": "http://93.184.215.14:8080/in"}),  # public
    (
        "action",
        {
            "action": "email",
            "to": "person",
            "subject": "Hi {{ person.first_name }}",
            "body": "{% if event.seats %}{{ event.seats }} seats{% endif %} to "
            "{{ event.destination|default:'Rome' }}",
        },
    ),
    (
        "action",
        {
            "action": "email",
            "to": "sales@example.com",
            "subject": "Lead",
            "body": "Call {{ person.id }}",
        },
    ),
    (
        "action",
        {
            "action": "event_record",
            "event": "c_offer_sent",
            "properties": {"offer": "mortgage", "amount": 200000},
        },
    ),
    ("action", {"action": "segment_add", "segment": "list"}),
    ("end", {}),
]


def with_segments(config, segments):
    """Replace segment names ("vip", "list") in a config by the fixture segments' ids."""
    if isinstance(config, dict):
        return {
            k: (segments[v].pk if k == "segment" and v in segments else with_segments(v, segments))
            for k, v in config.items()
        }
    if isinstance(config, list):
        return [with_segments(v, segments) for v in config]
    return config


def error_of(workspace, flow_spec):
    """The problems found on saving; for what a draft may still lack (a definition, property,
    attribute or segment the workspace does not have), the draft saves and its activation
    finds them."""
    try:
        flow = flow_create(workspace=workspace, spec=flow_spec)
    except ServiceError as exc:
        refused = exc
    else:
        refused = None
    if refused is not None:
        assert refused.first.code not in DRAFT_TOLERATED, refused.first
        return refused
    with pytest.raises(ServiceError) as caught:
        flow_activate(flow=flow)
    assert caught.value.first.code in DRAFT_TOLERATED, caught.value.first
    return caught.value


# What a draft may name before the workspace has it.
DRAFT_TOLERATED = {"unknown_definition", "unknown_property", "unknown_segment"}


@pytest.mark.parametrize("config", GOOD_TRIGGERS)
def test_good_triggers_are_accepted(workspace, catalogue, config):
    """Event (with property conditions), segment entry and the three schedules are stored."""
    flow = flow_create(
        workspace=workspace, spec=chain(start(with_segments(config, catalogue)), END)
    )
    assert flow.elements.get(key="start").config == with_segments(config, catalogue)


@pytest.mark.parametrize(("kind", "config"), GOOD_STEPS)
def test_good_steps_are_accepted(workspace, catalogue, kind, config):
    """Every kind's documented format is accepted as written."""
    flow = flow_create(
        workspace=workspace,
        spec=spec([start(), ("step", kind, with_segments(config, catalogue))], [("start", "step")]),
    )
    stored = flow.elements.get(key="step")
    assert (stored.kind, stored.config) == (kind, with_segments(config, catalogue))


BAD = [
    # (element kind, config, field under elements[1].config, code, words)
    ("trigger", {"event": "c_checkout"}, ".type", "invalid_config", "type is one of"),
    (
        "trigger",
        {"type": "event", "event": "c_nope"},
        ".event",
        "unknown_definition",
        "there is no event 'c_nope'",
    ),
    (
        "trigger",
        {
            "type": "event",
            "event": "c_ticket_searched",
            "where": [{"property": "colour", "operator": "equals", "value": "red"}],
        },
        ".where[0].property",
        "unknown_property",
        "c_ticket_searched has no property 'colour'",
    ),
    (
        "trigger",
        {"type": "event", "evnt": "c_checkout"},
        ".evnt",
        "invalid_config",
        "unknown setting 'evnt'",
    ),
    (
        "trigger",
        {"type": "segment_entry", "segment": 999999},
        ".segment",
        "unknown_segment",
        "no segment 999999",
    ),
    ("trigger", {"type": "schedule", "segment": "vip"}, "", "invalid_config", 'one of "at"'),
    (
        "trigger",
        {"type": "schedule", "segment": "vip", "at": "next monday"},
        ".at",
        "invalid_config",
        "date-time like",
    ),
    (
        "trigger",
        {"type": "schedule", "segment": "vip", "at": "0001-01-01T00:00:00+05:00"},
        ".at",
        "invalid_config",
        "between the years 2000 and 2200",
    ),
    (
        "trigger",
        {"type": "schedule", "segment": "vip", "every": {"minutes": 5}},
        ".every",
        "invalid_config",
        "at least 15 minutes",
    ),
    (
        "trigger",
        {"type": "schedule", "segment": "vip", "cron": "99 * * * *"},
        ".cron",
        "invalid_config",
        "cannot be used",
    ),
    (
        "trigger",
        {"type": "schedule", "segment": "vip", "cron": "0 9 * *"},
        ".cron",
        "invalid_config",
        "five crontab fields",
    ),
    ("wait", {}, ".duration", "invalid_config", "give the time to wait"),
    ("wait", {"duration": {"hours": 0}}, ".duration", "invalid_config", "at least 1 minute"),
    ("wait", {"duration": {"days": 366}}, ".duration", "invalid_config", "at most 365 days"),
    (
        "wait",
        {"duration": {"weeks": 1}},
        ".duration.weeks",
        "invalid_config",
        "unknown setting 'weeks'",
    ),
    ("wait", {"duration": {"hours": "1"}}, ".duration.hours", "invalid_config", "whole number"),
    (
        "wait_for_event",
        {"notOccurred": [{"event": "c_checkout"}], "within": {"days": 1}},
        ".notOccurred",
        "not_occurred_alone",
        "cannot stand alone",
    ),
    (
        "wait_for_event",
        {"occurred": [], "within": {"days": 1}},
        ".occurred",
        "invalid_config",
        "at least one event",
    ),
    (
        "wait_for_event",
        {"occurred": [{"event": "c_checkout"}]},
        ".within",
        "invalid_config",
        "how long to wait",
    ),
    (
        "wait_for_event",
        {
            "occurred": [{"event": "c_checkout", "count": {"operator": "<", "value": 2}}],
            "within": {"days": 1},
        },
        ".occurred[0].count.operator",
        "invalid_config",
        "use notOccurred",
    ),
    (
        "wait_for_event",
        {"occurred": [{"event": "c_chekout"}], "within": {"days": 1}},
        ".occurred[0].event",
        "unknown_definition",
        "no event 'c_chekout'",
    ),
    (
        "wait_for_event",
        {"occurred": [{"event": "c_checkout", "window": {"lastDays": 1}}], "within": {"days": 1}},
        ".occurred[0].window",
        "invalid_config",
        "unknown setting 'window'",
    ),
    ("branch", {}, "", "invalid_config", 'give "rules"'),
    (
        "branch",
        {"rules": {"all": [{"event": "pageVeiw"}]}},
        ".rules.all[0].event",
        "unknown_definition",
        "there is no event 'pageVeiw'",
    ),
    (
        "branch",
        {"trigger": [{"trigger": "track_event_colour", "operator": "equals", "value": "x"}]},
        ".trigger[0].trigger",
        "unknown_attribute",
        "track_event_data.<property>",
    ),
    (
        "branch",
        {"trigger": [{"trigger": "track_event_data.colour", "operator": "equals", "value": "x"}]},
        ".trigger[0].trigger",
        "unknown_attribute",
        "c_ticket_searched has no property 'colour'",
    ),
    (
        "branch",
        {"trigger": [{"trigger": "track_event_count", "operator": "contains", "value": 1}]},
        ".trigger[0].operator",
        "invalid_operator",
        "does not apply to track_event_count",
    ),
    (
        "branch",
        {"trigger": [{"trigger": "track_event_data.seats", "operator": "gt", "value": "2"}]},
        ".trigger[0].value",
        "invalid_value",
        "give a number",
    ),
    ("action", {"action": "sms"}, ".action", "invalid_config", "action is one of"),
    ("action", {"action": "tag_add", "tag": " "}, ".tag", "required", "give the tag's name"),
    (
        "action",
        {"action": "attribute_set", "attribute": "shoeSize", "value": 42},
        ".attribute",
        "unknown_property",
        "there is no attribute 'shoeSize'",
    ),
    (
        "action",
        {"action": "attribute_set", "attribute": "loyalty", "value": "many"},
        ".value",
        "invalid_type",
        "loyalty must be a number",
    ),
    (
        "action",
        {"action": "attribute_set", "attribute": "gender", "value": "x"},
        ".value",
        "invalid_type",
        "female, male or other",
    ),
    (
        "action",
        {"action": "attribute_set", "attribute": "city"},
        ".value",
        "required",
        "null clears",
    ),
    ("action", {"action": "score_change", "by": 0}, ".by", "invalid_config", "not 0"),
    ("action", {"action": "score_change", "by": "5"}, ".by", "invalid_config", "points"),
    (
        "action",
        {"action": "webhook", "url": "ftp://example.com/x"},
        ".url",
        "invalid_config",
        "http:// or https://",
    ),
    (
        "action",
        {"action": "webhook", "url": "http://10.0.0.5:8080/in"},
        ".url",
        "url_refused",
        "10.0.0.5 is a private address",
    ),
    (
        "action",
        {"action": "webhook", "url": "https://example.com", "payload": ["x"]},
        ".payload",
        "invalid_config",
        "give an object",
    ),
    (
        "action",
        {
            "action": "webhook",
            "url": "https://example.com",
            "payload": {"a": {"b": "{{ person.id|nofilter }}"}},
        },
        ".payload.a.b",
        "invalid_template",
        "does not compile",
    ),
    (
        "action",
        {"action": "email", "to": "not-an-address", "subject": "s", "body": "b"},
        ".to",
        "invalid_config",
        '"person"',
    ),
    (
        "action",
        {"action": "email", "to": "person", "subject": "{% if %}", "body": "b"},
        ".subject",
        "invalid_template",
        "does not compile",
    ),
    (
        "action",
        {
            "action": "email",
            "to": "person",
            "subject": "s",
            "body": '{% include "admin/base.html" %}',
        },
        ".body",
        "invalid_template",
        "include",
    ),
    (
        "action",
        {"action": "email", "to": "person", "subject": "s", "body": "{% load static %}"},
        ".body",
        "invalid_template",
        "load",
    ),
    (
        "action",
        {"action": "email", "to": "person", "subject": "a\nb", "body": "b"},
        ".subject",
        "invalid_config",
        "one line",
    ),
    (
        "action",
        {"action": "event_record", "event": "pageView"},
        ".event",
        "custom_prefix_required",
        "a flow records custom events",
    ),
    (
        "action",
        {
            "action": "event_record",
            "event": "c_offer_sent",
            "properties": {"offer": "x", "colour": "red"},
        },
        ".properties.colour",
        "unknown_property",
        "no property 'colour'",
    ),
    (
        "action",
        {"action": "event_record", "event": "c_offer_sent", "properties": {}},
        ".properties.offer",
        "required",
        "requires 'offer'",
    ),
    (
        "action",
        {"action": "segment_add", "segment": "vip"},
        ".segment",
        "segment_kind",
        "choose a static segment",
    ),
    ("end", {"next": "x"}, "", "invalid_config", "an end element has no settings"),
    ("wait", "1 hour", "", "invalid_config", "config is an object"),
    ("action", {"action": "tag_add", "tag": "a\u0000b"}, ".tag", "invalid", "NUL"),
]


@pytest.mark.parametrize(
    ("kind", "config", "field", "code", "words"),
    BAD,
    ids=[f"{b[0]}-{i}" for i, b in enumerate(BAD)],
)
def test_bad_configs_name_the_value_at_fault(
    workspace, catalogue, kind, config, field, code, words
):
    """Each mistake comes back on its path (elements[1].config…) with its code and advice."""
    steps = [start(), ("step", kind, with_segments(config, catalogue))]
    if kind == FlowElement.Kind.TRIGGER:  # the element under test is the only trigger
        steps = [("other", "end", {}), ("step", kind, with_segments(config, catalogue))]
    error = error_of(workspace, spec(steps)).first
    assert (error.field, error.code) == (f"elements[1].config{field}", code), error
    assert words in error.message, error.message


def test_not_occurred_alone_explains_why(workspace, catalogue):
    """The "not occurred" message says why it needs an "occurred" and gives an example."""
    error = error_of(
        workspace,
        chain(
            start(),
            (
                "w",
                "wait_for_event",
                {"notOccurred": [{"event": "c_checkout"}], "within": {"days": 1}},
            ),
        ),
    ).first
    assert error.field == "elements[1].config.notOccurred"
    assert "plain wait" in error.message
    assert 'e.g. "chose tickets" (occurred), then "checkout" (not occurred)' in error.message


def test_trigger_conditions_need_an_event_trigger(workspace, catalogue):
    """A branch on the trigger event in a flow started by segment entry has nothing to test."""
    error = error_of(
        workspace,
        chain(
            start({"type": "segment_entry", "segment": catalogue["vip"].pk}),
            (
                "b",
                "branch",
                {"trigger": [{"trigger": "track_event_count", "operator": "gt", "value": 1}]},
            ),
        ),
    ).first
    assert error.field == "elements[1].config.trigger[0].trigger"
    assert "starts on segment entry, not on an event" in error.message


def test_every_element_problem_is_reported_at_once(workspace, catalogue):
    """Problems in several elements come back together, in element order (the unknown event
    a draft may name is left for activation)."""
    errors = error_of(
        workspace,
        spec(
            [
                start({"type": "event", "event": "c_nope"}),
                ("w", "wait", {"duration": {"days": 0}}),
                ("a", "action", {"action": "score_change", "by": 0}),
            ]
        ),
    ).errors
    assert [e.field for e in errors] == ["elements[1].config.duration", "elements[2].config.by"]


@pytest.mark.parametrize(
    ("edges", "field", "code", "words"),
    [
        ([("start", "nowhere")], "edges[0].target", "invalid_edge", "no element with the key"),
        (
            [("start", "end", "yes")],
            "edges[0].outcome",
            "invalid_edge",
            "its exits are next, not 'yes'",
        ),
        ([("end", "start")], "edges[0].outcome", "invalid_edge", "its exits are none"),
        ([("start", "end"), ("start", "w")], "edges[1]", "invalid_edge", "already has a 'next'"),
        ([("w", "w")], "edges[0].target", "flow_cycle", "cannot lead to itself"),
        ([("w", "start")], "edges[0].target", "invalid_edge", "is the trigger"),
    ],
)
def test_edges_are_checked_when_saving(workspace, catalogue, edges, field, code, words):
    """Edges join elements of the flow on exits their source has, one element per exit."""
    steps = [start(), ("w", "wait", {"duration": {"hours": 1}}), END]
    error = error_of(workspace, spec(steps, edges)).first
    assert (error.field, error.code) == (field, code)
    assert words in error.message


def test_element_keys_are_unique_and_short(workspace, catalogue):
    """Keys are slugs of at most 32 characters, unique in the flow."""
    errors = error_of(workspace, spec([start(), ("start", "end", {}), ("a b", "end", {})])).errors
    assert [(e.field, e.code) for e in errors] == [
        ("elements[1].key", "duplicate"),
        ("elements[2].key", "invalid"),
    ]
