"""The branch element: a yes / no question about the person and the trigger event.

    {"rules": {"all": [{"aggregate": "c_product_viewed", "field": "count",
                        "operator": ">", "value": 8}, …]},
     "trigger": [{"trigger": "track_event_data.plan", "operator": "equals",
                  "value": "pro"}]}                                          -> yes | no

``rules`` is a segment rule tree (attributes, tags, identifiers, events, aggregates, segment
membership; ``people.segments.rules``) evaluated for the run's person. ``trigger`` is a list of
conditions on the event that started the run (PPMessage's variables): ``track_event_count``
(how many times the person has had that event, number), ``track_event_seq`` (the event's
sequence number in the workspace, number), ``track_event_uuid`` (the event's definition id,
text) and ``track_event_data.<property>`` (typed by the trigger event's property). Operators
and values are those of segment conditions for the type.

The answer is ``yes`` when the rules hold and every trigger condition holds; give either or
both. For "either … or …" across the two, chain branches: the ``no`` exit of the first leads
to the second. Trigger conditions need a flow started by an event.
"""

from cdp.errors import ServiceError
from events.models import PropertyDefinition
from events.segment_source import PROPERTY_TYPES
from flows.elements.common import (
    Context,
    fail,
    only_keys,
    remap,
    require_list,
    require_object,
    uses,
)
from people.errors import SegmentErrorCode
from people.segments import conditions as c
from people.segments.rules import rules_validate
from people.segments.values import check_value

TRIGGER_FIELDS = {
    "track_event_count": c.NUMBER,
    "track_event_seq": c.NUMBER,
    "track_event_uuid": c.TEXT,
}
DATA_PREFIX = "track_event_data."


def _guess_type(value) -> str:
    if isinstance(value, bool):
        return c.BOOLEAN
    if isinstance(value, int | float) or (
        isinstance(value, list) and value and isinstance(value[0], int | float)
    ):
        return c.NUMBER
    return c.TEXT


def _field_type(name, value, path: str, ctx: Context) -> str:
    if ctx.trigger_type not in (None, "event"):
        raise fail(
            path,
            f"this flow starts on {ctx.trigger_type.replace('_', ' ')}, not on "
            "an event: there is no trigger event to test; use person conditions "
            "in rules",
            SegmentErrorCode.INVALID_RULE,
        )
    if name in TRIGGER_FIELDS:
        return TRIGGER_FIELDS[name]
    if not isinstance(name, str) or not name.startswith(DATA_PREFIX) or name == DATA_PREFIX:
        raise fail(
            path,
            "test one of " + ", ".join(TRIGGER_FIELDS) + f" or {DATA_PREFIX}<property>",
            SegmentErrorCode.UNKNOWN_ATTRIBUTE,
        )
    if ctx.trigger_event is None:  # no usable trigger yet; activation checks it again
        return _guess_type(value)
    key = name[len(DATA_PREFIX) :]
    validator = ctx.catalogue.validators.get(ctx.trigger_event)
    types = getattr(validator, "types", {})
    if key not in types:
        raise fail(
            path,
            f"the trigger event {ctx.trigger_event} has no property {key!r}; it "
            "has " + (", ".join(sorted(types)) or "no properties"),
            SegmentErrorCode.UNKNOWN_ATTRIBUTE,
        )
    return PROPERTY_TYPES[PropertyDefinition.Type(types[key])]


def _trigger_condition(raw, path: str, ctx: Context) -> None:
    raw = require_object(
        raw, path, '{"trigger": "track_event_count", "operator": "gt", "value": 3}'
    )
    only_keys(raw, path, ("trigger", "operator", "value"))
    value_type = _field_type(raw.get("trigger"), raw.get("value"), f"{path}.trigger", ctx)
    operator = raw.get("operator")
    allowed = c.OPERATORS[value_type]
    if operator not in allowed:
        raise fail(
            f"{path}.operator",
            f"{operator!r} does not apply to {raw['trigger']} "
            f"({value_type}); use one of " + ", ".join(allowed),
            SegmentErrorCode.INVALID_OPERATOR,
        )
    check_value(value_type, operator, raw.get("value"), f"{path}.value")


def branch_validate(config: dict, path: str, ctx: Context) -> set[str]:
    only_keys(config, path, ("rules", "trigger"))
    if "rules" not in config and not config.get("trigger"):
        raise fail(
            path,
            'give "rules" (conditions on the person) and/or "trigger" '
            "(conditions on the event that started the run)",
        )
    dependencies: set[str] = set()
    if "rules" in config:
        try:
            checked = rules_validate(workspace=ctx.workspace, rules=config["rules"])
        except ServiceError as exc:
            raise remap(exc, "rules", f"{path}.rules") from exc
        dependencies |= uses(checked.dependencies)
    items = require_list(
        config.get("trigger"), f"{path}.trigger", what="conditions on the trigger event"
    )
    for i, item in enumerate(items):
        _trigger_condition(item, f"{path}.trigger[{i}]", ctx)
    return dependencies
