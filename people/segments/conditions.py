"""The validated form of a rule tree: frozen nodes the compiler and the explainer walk.

``people.segments.rules`` turns the stored JSON into these after checking every name against
the workspace (definitions, properties, attribute definitions, segments), so the compiler never
meets an unknown name and the explainer describes exactly what is evaluated.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

# Value types of attributes and event properties, with the operators each accepts.
TEXT, NUMBER, BOOLEAN, LIST = "text", "number", "boolean", "list"
DATE, DATETIME = "date", "datetime"
# Date-time event properties arrive as ISO strings or epoch numbers, which do not compare as
# stored: only their presence is a condition.
OPAQUE = "opaque"
OPERATORS = {
    TEXT: ("equals", "not_equals", "contains", "starts_with", "in", "is_set", "is_not_set"),
    NUMBER: (
        "equals",
        "not_equals",
        "gt",
        "gte",
        "lt",
        "lte",
        "between",
        "in",
        "is_set",
        "is_not_set",
    ),
    BOOLEAN: ("equals", "is_set", "is_not_set"),
    DATE: ("equals", "before", "after", "between", "within_last_days", "is_set", "is_not_set"),
    DATETIME: ("before", "after", "between", "within_last_days", "is_set", "is_not_set"),
    LIST: ("contains", "is_set", "is_not_set"),
    OPAQUE: ("is_set", "is_not_set"),
}
COUNT_OPERATORS = ("=", ">=", "<=", ">", "<")
# One operator vocabulary everywhere (SPEC §8): symbols and words are both accepted, and each
# is stored in one form, words for values (attributes, properties, trigger fields) and symbols
# for counts (event counts, aggregate counts), as rules were stored before both were accepted.
VALUE_OPERATOR_ALIASES = {
    "=": "equals",
    "==": "equals",
    "eq": "equals",
    "is": "equals",
    "!=": "not_equals",
    "<>": "not_equals",
    "ne": "not_equals",
    "neq": "not_equals",
    "is_not": "not_equals",
    ">": "gt",
    ">=": "gte",
    "<": "lt",
    "<=": "lte",
    "greater_than": "gt",
    "less_than": "lt",
}
COUNT_OPERATOR_ALIASES = {
    "==": "=",
    "eq": "=",
    "equals": "=",
    "gt": ">",
    "gte": ">=",
    "lt": "<",
    "lte": "<=",
    "greater_than": ">",
    "less_than": "<",
}
# An aggregate compared as a count (its other fields are times, with their own operators).
_COUNT_AGGREGATE = ("event_count_",)


def _normal_operator(node: dict, counted: bool) -> dict:
    operator = node.get("operator")
    if not isinstance(operator, str):
        return node
    aliases = COUNT_OPERATOR_ALIASES if counted else VALUE_OPERATOR_ALIASES
    key = operator.strip().lower() if operator.strip().isalpha() else operator.strip()
    return {**node, "operator": aliases.get(key, operator)}


def operators_normalise(value, *, counted: bool = False):
    """Return ``value`` (a rule tree, a flow element's config, a condition list) with every
    ``operator`` in its one stored form: ``gt``/``>`` … as the place takes them."""
    if isinstance(value, list):
        return [operators_normalise(item) for item in value]
    if not isinstance(value, dict):
        return value
    out = {key: operators_normalise(item, counted=key == "count") for key, item in value.items()}
    if "operator" in out:
        aggregate = out.get("aggregate")
        is_count = counted or (
            aggregate is not None
            and (
                out.get("field") == "count"
                or (isinstance(aggregate, str) and aggregate.startswith(_COUNT_AGGREGATE))
            )
        )
        out = _normal_operator(out, is_count)
    return out


AGGREGATE_TIME_OPERATORS = ("older_than_days", "newer_than_days", "before", "after")
OPERATOR_WORDS = {
    "equals": "is",
    "not_equals": "is not",
    "contains": "contains",
    "starts_with": "starts with",
    "in": "is one of",
    "is_set": "is set",
    "is_not_set": "is not set",
    "gt": "is greater than",
    "gte": "is at least",
    "lt": "is less than",
    "lte": "is at most",
    "between": "is between",
    "before": "is before",
    "after": "is after",
    "within_last_days": "is within the last N days",
    "older_than_days": "is older than N days",
    "newer_than_days": "is within the last N days",
}


def count_holds(operator: str, actual: int, wanted: int) -> bool:
    """Return whether ``actual <operator> wanted`` (the count comparisons of event rules)."""
    return {
        "=": actual == wanted,
        ">=": actual >= wanted,
        "<=": actual <= wanted,
        ">": actual > wanted,
        "<": actual < wanted,
    }[operator]


def day_start(day: date) -> datetime:
    """Return midnight UTC starting ``day``."""
    return datetime.combine(day, time.min, tzinfo=UTC)


@dataclass(frozen=True)
class Window:
    """When events count: the last N hours or days, between two instants, or ever."""

    last_hours: int | None = None
    last_days: int | None = None
    start: datetime | None = None
    end: datetime | None = None  # exclusive

    def bounds(self, now: datetime) -> tuple[datetime | None, datetime | None]:
        """Return ``(start, end)`` (either may be None: unbounded) relative to ``now``."""
        if self.last_hours is not None:
            return now - timedelta(hours=self.last_hours), None
        if self.last_days is not None:
            return now - timedelta(days=self.last_days), None
        return self.start, self.end

    def describe(self) -> str:
        if self.last_hours is not None:
            return f"in the last {self.last_hours} hours"
        if self.last_days is not None:
            return f"in the last {self.last_days} days"
        if self.start or self.end:
            start = f"{self.start:%Y-%m-%d %H:%M}" if self.start else "the beginning"
            end = f"{self.end:%Y-%m-%d %H:%M}" if self.end else "now"
            return f"between {start} and {end}"
        return "ever"


@dataclass(frozen=True)
class Group:
    """``all`` (and), ``any`` (or) or ``none`` (not any) of the children."""

    path: str
    op: str
    children: tuple


@dataclass(frozen=True)
class AttributeCondition:
    """A standard field of Person (``column``) or a custom attribute (``custom_key``)."""

    path: str
    label: str
    value_type: str
    operator: str
    value: object
    column: str | None = None
    custom_key: str | None = None


@dataclass(frozen=True)
class PropertyFilter:
    """A condition on one key of ``Event.properties``."""

    key: str
    value_type: str
    operator: str
    value: object


@dataclass(frozen=True)
class TagCondition:
    path: str
    name: str
    has: bool


@dataclass(frozen=True)
class IdentifierCondition:
    path: str
    identifier_type: str
    has: bool


@dataclass(frozen=True)
class EventCondition:
    """Events of one definition, in a window, matching property filters, counted."""

    path: str
    definition_pk: int
    definition_code: str
    occurred: bool
    count_operator: str
    count: int
    window: Window
    filters: tuple[PropertyFilter, ...]


@dataclass(frozen=True)
class AggregateCondition:
    """The person × definition aggregate: first or last time, or the all-time count."""

    path: str
    definition_pk: int
    definition_code: str
    field: str  # "first_at", "last_at" or "count"
    operator: str
    value: object


@dataclass(frozen=True)
class SegmentCondition:
    """Membership of another segment: its rules inlined (dynamic) or its list (static)."""

    path: str
    segment_id: int
    segment_name: str
    member: bool
    inner: Group | None  # the other segment's rules when dynamic


def leaves(node) -> list:
    """Return the conditions of a tree in order (not descending into other segments)."""
    if isinstance(node, Group):
        return [leaf for child in node.children for leaf in leaves(child)]
    return [node]
