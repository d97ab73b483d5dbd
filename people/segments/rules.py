"""Check a rule tree against a workspace and turn it into ``conditions`` nodes.

Stored JSON: a group ``{"all"|"any"|"none": [node, …]}``; a condition names its kind by its
first key::

    {"attribute": "country", "operator": "equals", "value": "DE"}
    {"customAttribute": "plan", "operator": "in", "value": ["gold", "silver"]}
    {"tag": "vip", "operator": "has"}                      # or "has_not"
    {"identifier": "email", "operator": "has"}              # or "has_not"
    {"event": "pageView", "occurred": true, "count": {"operator": ">=", "value": 5},
     "window": {"lastDays": 30}, "where": [{"property": "path", "operator": "equals",
                                           "value": "/mortgage"}]}
    {"aggregate": "pageView", "field": "lastTime", "operator": "older_than_days", "value": 45}
    {"aggregate": "event_count_2", "operator": ">", "value": 8}   # PPMessage's names, below
    {"segment": 12, "operator": "member"}                   # or "not_member"

An aggregate may be named as PPMessage does (SPEC §8), without ``field``: ``event_count_N``,
``event_first_time_N``, ``event_last_time_N``, N being the definition's sequence number in the
workspace; stored as written, resolved to the definition on every check.
(``event_last_data_N`` is data, read in templates, not compared here.)

Operators may be written as symbols or words (``>``/``gt``, ``>=``/``gte``, ``=``/``==``/``eq``
/``equals``, ``!=``/``ne``/``not_equals``…): ``conditions.operators_normalise`` gives each its
one stored form before the check.

Errors are ``ServiceError``s whose field is the path of the bad node (``rules.all[1].event``)
and whose message says, in a marketer's words, what to change.
"""

import re
from dataclasses import dataclass

from cdp.errors import ErrorCode, FieldError, ServiceError, json_typed
from people.errors import SegmentErrorCode
from people.identity import IDENTIFIER_TYPES, normalise_type
from people.models import AttributeDefinition, Workspace
from people.segments import conditions as c
from people.segments.models import Segment
from people.segments.sources import event_source
from people.segments.values import check_value, parse_instant

MAX_DEPTH = 6
MAX_CONDITIONS = 100
GROUP_OPS = ("all", "any", "none")
# Standard attributes by API name: (Person column, value type).
STANDARD_FIELDS = {
    "firstName": ("first_name", c.TEXT),
    "lastName": ("last_name", c.TEXT),
    "gender": ("gender", c.TEXT),
    "birthDate": ("birth_date", c.DATE),
    "country": ("country", c.TEXT),
    "city": ("city", c.TEXT),
    "address": ("address", c.TEXT),
    "language": ("language", c.TEXT),
    "timeZone": ("time_zone", c.TEXT),
    "externalId": ("external_id", c.TEXT),
    "lifecycleStage": ("lifecycle_stage", c.TEXT),
    "score": ("score", c.NUMBER),
    "firstSeenTime": ("first_seen_at", c.DATETIME),
    "lastSeenTime": ("last_seen_at", c.DATETIME),
    "createdTime": ("created_at", c.DATETIME),
}
AGGREGATE_FIELDS = {"firstTime": "first_at", "lastTime": "last_at", "count": "count"}
# PPMessage's aggregate names: event_count_N, … (N: the definition's sequence number).
PPMESSAGE_AGGREGATE = re.compile(r"^event_(count|first_time|last_time|last_data)_(\d{1,9})$")
PPMESSAGE_FIELDS = {"count": "count", "first_time": "firstTime", "last_time": "lastTime"}
LEAF_KEYS = ("attribute", "customAttribute", "tag", "identifier", "event", "aggregate", "segment")


@dataclass(frozen=True)
class ValidatedRules:
    """The checked tree and what it reads (decides which changes re-evaluate a segment)."""

    tree: c.Group
    dependencies: tuple[str, ...]


def _error(path: str, code: str, message: str) -> ServiceError:
    return ServiceError(FieldError(path, code, message))


class _Checker:
    def __init__(self, workspace: Workspace, segment_id: int | None):
        self.workspace = workspace
        self.stack = [segment_id] if segment_id else []
        self.dependencies: set[str] = set()
        self.count = 0
        self._definitions: dict = {}  # code → definition (the event floor's row)
        self._attributes = None

    # Groups ----------------------------------------------------------------------------------
    def group(self, raw, path: str, depth: int) -> c.Group:
        if not isinstance(raw, dict) or len(raw) != 1 or next(iter(raw)) not in GROUP_OPS:
            raise _error(
                path,
                SegmentErrorCode.INVALID_RULE,
                'a group must be {"all": […]}, {"any": […]} or {"none": […]}',
            )
        op, children = next(iter(raw.items()))
        if depth > MAX_DEPTH:
            raise _error(
                path,
                SegmentErrorCode.INVALID_RULE,
                f"groups may be nested at most {MAX_DEPTH} deep",
            )
        if not isinstance(children, list) or not children:
            raise _error(
                f"{path}.{op}",
                SegmentErrorCode.INVALID_RULE,
                "add at least one condition to this group",
            )
        nodes = tuple(
            self.node(child, f"{path}.{op}[{i}]", depth + 1) for i, child in enumerate(children)
        )
        return c.Group(path=path, op=op, children=nodes)

    def node(self, raw, path: str, depth: int):
        if isinstance(raw, dict) and len(raw) == 1 and next(iter(raw)) in GROUP_OPS:
            return self.group(raw, path, depth)
        kind = next((k for k in LEAF_KEYS if isinstance(raw, dict) and k in raw), None)
        if kind is None:
            raise _error(
                path,
                SegmentErrorCode.INVALID_RULE,
                "each condition names one of: "
                + ", ".join(LEAF_KEYS)
                + ", or is a group (all / any / none)",
            )
        self.count += 1
        if self.count > MAX_CONDITIONS:
            raise _error(
                path,
                SegmentErrorCode.INVALID_RULE,
                f"a segment may have at most {MAX_CONDITIONS} conditions",
            )
        return getattr(self, kind.lower())(raw, path)

    # Profile conditions ----------------------------------------------------------------------
    def attribute(self, raw, path):
        name = json_typed(raw["attribute"], str, f"{path}.attribute")
        if name not in STANDARD_FIELDS:
            raise _error(
                f"{path}.attribute",
                SegmentErrorCode.UNKNOWN_ATTRIBUTE,
                f"there is no standard attribute {name!r}; use one of "
                + ", ".join(STANDARD_FIELDS)
                + " (custom ones go in customAttribute)",
            )
        column, value_type = STANDARD_FIELDS[name]
        operator, value = self._operator_value(raw, path, value_type, name)
        self.dependencies.add(f"attribute:{column}")
        return c.AttributeCondition(
            path=path,
            label=name,
            value_type=value_type,
            operator=operator,
            value=value,
            column=column,
        )

    def customattribute(self, raw, path):
        key = raw["customAttribute"]
        if self._attributes is None:
            self._attributes = {
                a.key: a for a in AttributeDefinition.objects.filter(workspace=self.workspace)
            }
        definition = self._attributes.get(key) if isinstance(key, str) else None
        if definition is None:
            raise _error(
                f"{path}.customAttribute",
                SegmentErrorCode.UNKNOWN_ATTRIBUTE,
                f"there is no custom attribute {key!r} in this workspace; create it "
                "under attribute definitions first",
            )
        operator, value = self._operator_value(raw, path, definition.type, definition.name)
        self.dependencies.add(f"custom:{key}")
        return c.AttributeCondition(
            path=path,
            label=definition.name or key,
            value_type=definition.type,
            operator=operator,
            value=value,
            custom_key=key,
        )

    def tag(self, raw, path):
        name, operator = raw["tag"], raw.get("operator", "has")
        if not isinstance(name, str) or not name.strip() or len(name) > 64:
            raise _error(
                f"{path}.tag",
                SegmentErrorCode.INVALID_VALUE,
                "name the tag (at most 64 characters)",
            )
        if operator not in ("has", "has_not"):
            raise _error(
                f"{path}.operator",
                SegmentErrorCode.INVALID_OPERATOR,
                "a tag condition uses has or has_not",
            )
        self.dependencies.add("tags")
        return c.TagCondition(path=path, name=name.strip(), has=operator == "has")

    def identifier(self, raw, path):
        type_, operator = raw["identifier"], raw.get("operator", "has")
        type_ = normalise_type(json_typed(type_, str, f"{path}.identifier"))
        if type_ not in IDENTIFIER_TYPES:
            raise _error(
                f"{path}.identifier",
                SegmentErrorCode.INVALID_VALUE,
                f"unknown identifier type {type_!r}; use one of "
                + ", ".join(sorted(IDENTIFIER_TYPES)),
            )
        if operator not in ("has", "has_not"):
            raise _error(
                f"{path}.operator",
                SegmentErrorCode.INVALID_OPERATOR,
                "an identifier condition uses has or has_not",
            )
        self.dependencies.add("identifiers")
        return c.IdentifierCondition(path=path, identifier_type=type_, has=operator == "has")

    def _operator_value(self, raw, path, value_type, label):
        operator = raw.get("operator")
        allowed = c.OPERATORS[value_type]
        if operator not in allowed:
            raise _error(
                f"{path}.operator",
                SegmentErrorCode.INVALID_OPERATOR,
                f"{operator!r} does not apply to {label} ({value_type}); use one of "
                + ", ".join(allowed),
            )
        return operator, check_value(value_type, operator, raw.get("value"), f"{path}.value")

    # Behaviour -------------------------------------------------------------------------------
    def _definition(self, code, path):
        if not isinstance(code, str) or not code:
            raise _error(path, ErrorCode.UNKNOWN_DEFINITION, "name an event definition")
        if code not in self._definitions:
            found = event_source().definition_find(workspace=self.workspace, code=code)
            if found is None:
                raise _error(
                    path,
                    ErrorCode.UNKNOWN_DEFINITION,
                    f"there is no event {code!r} in this workspace; check the "
                    "spelling or create the definition first",
                )
            self._definitions[code] = found
        definition = self._definitions[code]
        self.dependencies.add(f"event:{definition.pk}")
        return definition

    def event(self, raw, path):
        definition = self._definition(raw["event"], f"{path}.event")
        occurred = raw.get("occurred", True)
        if not isinstance(occurred, bool):
            raise _error(
                f"{path}.occurred", SegmentErrorCode.INVALID_VALUE, "occurred is true or false"
            )
        count = raw.get("count") or {"operator": ">=", "value": 1}
        count_op, number = (
            (count.get("operator"), count.get("value")) if isinstance(count, dict) else (None, None)
        )
        if count_op not in c.COUNT_OPERATORS:
            raise _error(
                f"{path}.count.operator",
                SegmentErrorCode.INVALID_OPERATOR,
                "compare the count with one of " + ", ".join(c.COUNT_OPERATORS),
            )
        if isinstance(number, bool) or not isinstance(number, int) or number < 0:
            raise _error(
                f"{path}.count.value",
                SegmentErrorCode.INVALID_VALUE,
                "the count is a whole number, 0 or more",
            )
        window = _window(raw.get("window"), f"{path}.window")
        where = raw.get("where") or []
        if not isinstance(where, list):
            raise _error(
                f"{path}.where",
                SegmentErrorCode.INVALID_RULE,
                "where is a list of property conditions",
            )
        properties = event_source().definition_properties(definition=definition)
        filters = []
        for i, item in enumerate(where):
            at = f"{path}.where[{i}]"
            key = item.get("property") if isinstance(item, dict) else None
            if not isinstance(key, str) or key not in properties:
                raise _error(
                    f"{at}.property",
                    ErrorCode.UNKNOWN_PROPERTY,
                    f"{definition.definition_id} has no property {key!r}; it has "
                    + (", ".join(sorted(properties)) or "no properties"),
                )
            value_type = properties[key]
            operator, value = self._operator_value(item, at, value_type, key)
            filters.append(
                c.PropertyFilter(key=key, value_type=value_type, operator=operator, value=value)
            )
        return c.EventCondition(
            path=path,
            definition_pk=definition.pk,
            definition_code=definition.definition_id,
            occurred=occurred,
            count_operator=count_op,
            count=number,
            window=window,
            filters=tuple(filters),
        )

    def _ppmessage_aggregate(self, name: str, path: str) -> tuple[str, str]:
        """Resolve ``event_count_N`` (and its kin) to (definition id, field)."""
        kind, number = PPMESSAGE_AGGREGATE.match(name).groups()
        if kind == "last_data":
            raise _error(
                path,
                SegmentErrorCode.INVALID_VALUE,
                f"{name} is the last event's data: name it in templates; compare a "
                "property of the events with an event condition's where",
            )
        code = event_source().definition_code_by_seq(workspace=self.workspace, seq=int(number))
        if code is None:
            raise _error(
                path,
                ErrorCode.UNKNOWN_DEFINITION,
                f"no event is numbered {number} in this workspace (the number is the "
                "definition's sequence number)",
            )
        return code, PPMESSAGE_FIELDS[kind]

    def aggregate(self, raw, path):
        code, field_name = raw["aggregate"], raw.get("field")
        if field_name is None and isinstance(code, str) and PPMESSAGE_AGGREGATE.match(code):
            code, field_name = self._ppmessage_aggregate(code, f"{path}.aggregate")
        definition = self._definition(code, f"{path}.aggregate")
        field = AGGREGATE_FIELDS.get(json_typed(field_name, (str, type(None)), f"{path}.field"))
        if field is None:
            raise _error(
                f"{path}.field",
                SegmentErrorCode.INVALID_VALUE,
                "field is one of " + ", ".join(AGGREGATE_FIELDS),
            )
        operator, value = raw.get("operator"), raw.get("value")
        if field == "count":
            allowed = c.COUNT_OPERATORS
            ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
        else:
            allowed = c.AGGREGATE_TIME_OPERATORS
            ok = True
        if operator not in allowed:
            raise _error(
                f"{path}.operator",
                SegmentErrorCode.INVALID_OPERATOR,
                f"{field_name} is compared with one of " + ", ".join(allowed),
            )
        if field != "count":
            value_type = c.DATETIME if operator in ("before", "after") else c.NUMBER
            check_op = operator if value_type == c.DATETIME else "gt"
            value = check_value(value_type, check_op, value, f"{path}.value")
            ok = value_type == c.DATETIME or (isinstance(value, int) and value > 0)
        if not ok:
            raise _error(
                f"{path}.value",
                SegmentErrorCode.INVALID_VALUE,
                "give a whole number (a count, or a number of days above 0)",
            )
        return c.AggregateCondition(
            path=path,
            definition_pk=definition.pk,
            definition_code=definition.definition_id,
            field=field,
            operator=operator,
            value=value,
        )

    def segment(self, raw, path):
        segment_id, operator = raw["segment"], raw.get("operator", "member")
        if operator not in ("member", "not_member"):
            raise _error(
                f"{path}.operator",
                SegmentErrorCode.INVALID_OPERATOR,
                "a segment condition uses member or not_member",
            )
        other = None
        if isinstance(segment_id, int) and not isinstance(segment_id, bool):
            other = Segment.objects.filter(workspace=self.workspace, pk=segment_id).first()
        if other is None:
            raise _error(
                f"{path}.segment",
                SegmentErrorCode.UNKNOWN_SEGMENT,
                f"there is no segment {segment_id!r} in this workspace",
            )
        if other.pk in self.stack:
            raise _error(
                f"{path}.segment",
                SegmentErrorCode.SEGMENT_CYCLE,
                f"segment {other.name!r} already contains this segment, directly or "
                "through others; a segment cannot include itself",
            )
        self.dependencies.add(f"segment:{other.pk}")
        inner = None
        if other.is_dynamic:
            self.stack.append(other.pk)
            try:
                inner = self.group(other.rules, f"{path}<{other.name}>", 1)
            except ServiceError as exc:  # report it on the node being edited
                first = exc.first
                if first.code == SegmentErrorCode.SEGMENT_CYCLE:
                    raise _error(
                        f"{path}.segment",
                        first.code,
                        f"segment {other.name!r} includes this segment, directly or "
                        "through others; a segment cannot include itself",
                    ) from exc
                raise _error(
                    f"{path}.segment",
                    first.code,
                    f"segment {other.name!r} has a problem: {first.message}",
                ) from exc
            self.stack.pop()
        return c.SegmentCondition(
            path=path,
            segment_id=other.pk,
            segment_name=other.name,
            member=operator == "member",
            inner=inner,
        )


def _window(raw, path: str) -> c.Window:
    if raw in (None, "ever", {}):
        return c.Window()
    if isinstance(raw, dict) and len(raw) == 1 and next(iter(raw)) in ("lastHours", "lastDays"):
        key, amount = next(iter(raw.items()))
        if isinstance(amount, bool) or not isinstance(amount, int) or not 0 < amount <= 36500:
            raise _error(
                f"{path}.{key}", SegmentErrorCode.INVALID_VALUE, "give a whole number above 0"
            )
        return c.Window(**{"last_hours" if key == "lastHours" else "last_days": amount})
    if isinstance(raw, dict) and set(raw) <= {"from", "to"}:
        start = parse_instant(raw.get("from"), f"{path}.from", end=False)
        end = parse_instant(raw.get("to"), f"{path}.to", end=True)
        if start and end and start >= end:
            raise _error(path, SegmentErrorCode.INVALID_VALUE, "from must be before to")
        return c.Window(start=start, end=end)
    raise _error(
        path,
        SegmentErrorCode.INVALID_RULE,
        'a window is {"lastHours": N}, {"lastDays": N}, {"from": date, "to": date} or "ever"',
    )


def rules_validate(*, workspace: Workspace, rules, segment_id: int | None = None) -> ValidatedRules:
    """Check ``rules`` for ``workspace`` (``segment_id``: the segment being saved, to reject
    cycles) and return the tree and its dependencies; raise ``ServiceError`` naming the node."""
    checker = _Checker(workspace, segment_id)
    tree = checker.group(c.operators_normalise(rules), "rules", 1)
    return ValidatedRules(tree=tree, dependencies=tuple(sorted(checker.dependencies)))


def event_condition_validate(*, workspace: Workspace, raw: dict, path: str) -> c.EventCondition:
    """Check one event condition (``{"event": code, "where": […]}``, as in a rule tree) for
    ``workspace`` and return it; raise ``ServiceError`` naming ``path``. Analytics steps and
    series use it, so their property conditions are the rules' own."""
    return _Checker(workspace, None).event(c.operators_normalise(raw), path)
