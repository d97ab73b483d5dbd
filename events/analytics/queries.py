"""Check an analytics query (the JSON of the API and the admin page) against a workspace.

A segmentation names up to 10 series and a funnel 2 to 10 steps; each is an event definition
with optional property conditions in the segment rules' ``where`` format, checked by the rules'
own checker (``people.segments.rules.event_condition_validate``)::

    {"events": ["pageView", {"event": "c_checkout",
                             "where": [{"property": "currency", "operator": "equals",
                                        "value": "EUR"}]}],
     "from": "2024-05-01", "to": "2024-05-31", "interval": "day",
     "breakdown": {"property": "path", "limit": 10}, "segment": 12}

    {"steps": ["c_ticket_searched", "c_ticket_chosen", "c_checkout"],
     "from": "2024-05-01", "to": "2024-05-31", "conversionWindow": {"days": 7}}

    {"cohortEvent": "c_signup", "returnEvent": "pageView", "from": "2024-05-01",
     "to": "2024-05-31", "interval": "week", "periods": 8}

The people behind a number are asked with the same body and a few more keys (``…_people_
parse``): ``step`` and ``outcome`` (funnels), ``series`` and ``bucket`` (segmentation),
``cohort`` and ``period`` (retention), and ``limit``/``offset`` for the page of people.

A date ``to`` includes that whole day (UTC). Errors are ``ServiceError``s naming the field
(``steps[2].where[0].property``), so callers answer 400, never 500.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cdp.errors import ErrorCode, FieldError, ServiceError
from cdp.ids import MAX_ID
from events.models import EventDefinition, PropertyDefinition
from events.segment_source import PROPERTY_TYPES
from people.errors import SegmentErrorCode
from people.models import Workspace
from people.segments import conditions as c
from people.segments.rules import event_condition_validate
from people.segments.selectors import segment_get
from people.segments.values import parse_instant

MAX_SERIES = 10
MIN_STEPS, MAX_STEPS = 2, 10
MAX_WHERE = 20
MAX_DAYS = 731
MAX_BUCKETS = 1000
EARLIEST, LATEST = datetime(1970, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)
INTERVALS = {"hour": timedelta(hours=1), "day": timedelta(days=1), "week": timedelta(weeks=1)}
WINDOW_UNITS = {"minutes": 60, "hours": 3600, "days": 86400}
MAX_WINDOW = timedelta(days=90)
DEFAULT_WINDOW = timedelta(days=7)
DEFAULT_LIMIT, MAX_LIMIT = 10, 50
SELECTION_KEYS = {"event", "where"}
SEGMENTATION_KEYS = {"events", "from", "to", "interval", "breakdown", "segment"}
FUNNEL_KEYS = {"steps", "from", "to", "conversionWindow", "segment"}
RETENTION_KEYS = {"cohortEvent", "returnEvent", "from", "to", "interval", "periods", "segment"}
RETENTION_INTERVALS = ("day", "week")
DEFAULT_PERIODS, MAX_PERIODS = 7, 60
PAGE_KEYS = {"limit", "offset"}
DEFAULT_PAGE, MAX_PAGE, MAX_OFFSET = 100, 1000, 10**9
OUTCOMES = ("converted", "dropped")


@dataclass(frozen=True)
class EventSelection:
    """What a series or a funnel step counts: events of one definition that meet its property
    conditions (``condition.filters``; the condition's window and count are not used)."""

    event: str
    label: str
    condition: c.EventCondition


@dataclass(frozen=True)
class Breakdown:
    """Split each series by the value of one event property: the top ``limit`` values (by
    events in the range), the rest as "other". ``value_type`` is the property's."""

    property: str
    limit: int
    value_type: str


@dataclass(frozen=True)
class SegmentationQuery:
    events: tuple[EventSelection, ...]
    start: datetime
    end: datetime  # exclusive
    interval: str
    breakdown: Breakdown | None = None
    segment_id: int | None = None


@dataclass(frozen=True)
class FunnelQuery:
    steps: tuple[EventSelection, ...]
    start: datetime
    end: datetime  # exclusive; bounds step 1 only
    window: timedelta
    segment_id: int | None = None


@dataclass(frozen=True)
class RetentionQuery:
    """People who did ``cohort_event`` in the range, grouped by the day or week of their first
    such event (their cohort), and who did ``return_event`` at or after it in each period
    0…``periods`` after the start of their cohort."""

    cohort_event: EventSelection
    return_event: EventSelection
    start: datetime
    end: datetime  # exclusive; bounds the cohort event only
    interval: str
    periods: int
    segment_id: int | None = None


@dataclass(frozen=True)
class PeopleRequest:
    """The people behind one number of an answer: ``query`` names the answer, ``at`` the
    number (funnels: ``(step, outcome)``; segmentation: ``(series, bucket)``; retention:
    ``(cohort, period)``, period ``None`` for the whole cohort), then a page of them."""

    kind: str
    query: object
    at: tuple
    limit: int = DEFAULT_PAGE
    offset: int = 0


def _fail(field: str | None, message: str, code: str = ErrorCode.INVALID) -> ServiceError:
    return ServiceError(FieldError(field or "", code, message))


def _check_strings(data) -> None:
    """Refuse NUL characters anywhere in the query (PostgreSQL cannot compare them)."""
    stack = [(data, "")]
    while stack:
        value, path = stack.pop()
        if isinstance(value, str) and "\x00" in value:
            raise _fail(path, "remove the NUL character (\\u0000)")
        if isinstance(value, dict):
            for key, item in value.items():
                if "\x00" in key:
                    raise _fail(path, "remove the NUL character (\\u0000) from a key")
                stack.append((item, f"{path}.{key}" if path else key))
        elif isinstance(value, list):
            stack.extend((item, f"{path}[{i}]") for i, item in enumerate(value))


def _body(data, allowed: set[str]) -> dict:
    if not isinstance(data, dict):
        raise _fail(None, "send a JSON object")
    _check_strings(data)
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise _fail(unknown[0], f"unknown field {unknown[0]!r}; use " + ", ".join(sorted(allowed)))
    return data


def _label(condition: c.EventCondition) -> str:
    """Return "code" or "code (path is /mortgage, …)" for charts and tables."""
    parts = []
    for item in condition.filters:
        words = c.OPERATOR_WORDS.get(item.operator, item.operator)
        value = item.value
        if isinstance(value, tuple):
            value = (
                " and ".join(map(str, value))
                if item.operator == "between"
                else ", ".join(map(str, value))
            )
        parts.append(f"{item.key} {words}" + ("" if value is None else f" {value}"))
    return (
        f"{condition.definition_code} ({', '.join(parts)})"
        if parts
        else (condition.definition_code)
    )


def _selections(
    workspace: Workspace, raw, field: str, least: int, most: int, noun: str
) -> tuple[EventSelection, ...]:
    if not isinstance(raw, list) or not least <= len(raw) <= most:
        raise _fail(
            field,
            f"give {least} to {most} {noun}: event definition ids, or objects "
            '{"event": id, "where": [property conditions]}',
        )
    return tuple(
        _selection(workspace, item, f"{field}[{i}]", noun[:-1]) for i, item in enumerate(raw)
    )


def _selection(workspace: Workspace, item, path: str, noun: str) -> EventSelection:
    item = {"event": item} if isinstance(item, str) else item
    if not isinstance(item, dict) or "event" not in item:
        raise _fail(path, 'give an event definition id or {"event": id, "where": […]}')
    unknown = sorted(set(item) - SELECTION_KEYS)
    if unknown:
        raise _fail(
            f"{path}.{unknown[0]}",
            f"unknown field {unknown[0]!r}; a {noun} has event and where",
        )
    where = item.get("where")
    if isinstance(where, list) and len(where) > MAX_WHERE:
        raise _fail(f"{path}.where", f"at most {MAX_WHERE} property conditions")
    condition = event_condition_validate(workspace=workspace, raw=item, path=path)
    return EventSelection(
        event=condition.definition_code, label=_label(condition), condition=condition
    )


def _range(data: dict) -> tuple[datetime, datetime]:
    for key in ("from", "to"):
        if data.get(key) is None:
            raise _fail(
                key,
                "give a date like 2024-05-31 or a date-time like 2024-05-31T14:00:00Z",
                ErrorCode.REQUIRED,
            )
    start = parse_instant(data["from"], "from", end=False)
    end = parse_instant(data["to"], "to", end=True)
    for key, value in (("from", start), ("to", end)):
        try:
            inside = EARLIEST <= value <= LATEST
        except OverflowError:  # an offset that takes the time out of range
            inside = False
        if not inside:
            raise _fail(key, "give a time between 1970 and 2100")
    if start >= end:
        raise _fail("to", "to must be after from")
    if end - start > timedelta(days=MAX_DAYS):
        raise _fail("to", f"a query covers at most {MAX_DAYS} days", ErrorCode.RANGE_TOO_LONG)
    return start, end


def bucket_start(when: datetime, interval: str) -> datetime:
    """Return the start of the hour, day or (ISO, Monday) week holding ``when``, in UTC."""
    when = when.astimezone(UTC)
    if interval == "hour":
        return when.replace(minute=0, second=0, microsecond=0)
    day = when.replace(hour=0, minute=0, second=0, microsecond=0)
    return day if interval == "day" else day - timedelta(days=day.weekday())


def buckets(start: datetime, end: datetime, interval: str) -> list[datetime]:
    """Return the starts of every bucket that overlaps ``[start, end)``."""
    step, current, result = INTERVALS[interval], bucket_start(start, interval), []
    while current < end:
        result.append(current)
        current += step
    return result


def _properties(definition_pks: set[int]) -> dict[str, str]:
    """Return ``{key: value type}`` of the properties the definitions declare (their own and
    their channels' global ones)."""
    channels = set(
        EventDefinition.objects.filter(pk__in=definition_pks, channel__isnull=False).values_list(
            "channel_id", flat=True
        )
    )
    rows = PropertyDefinition.objects.filter(definition_id__in=definition_pks)
    shared = PropertyDefinition.objects.filter(
        scope=PropertyDefinition.Scope.GLOBAL, definition__channel_id__in=channels
    )
    return {
        key: PROPERTY_TYPES[type_]
        for key, type_ in [*rows.values_list("key", "type"), *shared.values_list("key", "type")]
    }


def _breakdown(raw, events: tuple[EventSelection, ...]) -> Breakdown | None:
    if raw is None:
        return None
    raw = {"property": raw} if isinstance(raw, str) else raw
    if not isinstance(raw, dict) or not set(raw) <= {"property", "limit"}:
        raise _fail("breakdown", 'give {"property": key, "limit": N} or a property key')
    key, limit = raw.get("property"), raw.get("limit", DEFAULT_LIMIT)
    known = _properties({e.condition.definition_pk for e in events})
    if not isinstance(key, str) or key not in known:
        raise _fail(
            "breakdown.property",
            f"the events have no property {key!r}; they have "
            + (", ".join(sorted(known)) or "no properties"),
            ErrorCode.UNKNOWN_PROPERTY,
        )
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise _fail("breakdown.limit", f"give a whole number from 1 to {MAX_LIMIT}")
    return Breakdown(property=key, limit=limit, value_type=known[key])


def _segment(workspace: Workspace, raw) -> int | None:
    if raw is None:
        return None
    found = None
    if isinstance(raw, int) and not isinstance(raw, bool) and 0 < raw <= MAX_ID:
        found = segment_get(workspace=workspace, segment_id=raw)
    if found is None:
        raise _fail(
            "segment",
            f"there is no segment {raw!r} in this workspace",
            SegmentErrorCode.UNKNOWN_SEGMENT,
        )
    return found.pk


def _window(raw) -> timedelta:
    if raw is None:
        return DEFAULT_WINDOW
    if not isinstance(raw, dict) or len(raw) != 1 or next(iter(raw)) not in WINDOW_UNITS:
        raise _fail("conversionWindow", 'give {"days": N}, {"hours": N} or {"minutes": N}')
    unit, amount = next(iter(raw.items()))
    limit = MAX_WINDOW.total_seconds() // WINDOW_UNITS[unit]
    if isinstance(amount, bool) or not isinstance(amount, int) or not 0 < amount <= limit:
        raise _fail(
            f"conversionWindow.{unit}",
            f"give a whole number from 1 to {limit:.0f} (at most 90 days)",
        )
    return timedelta(seconds=amount * WINDOW_UNITS[unit])


def segmentation_query_parse(*, workspace: Workspace, data) -> SegmentationQuery:
    """Check a segmentation query for ``workspace``; raise ``ServiceError`` naming the field."""
    data = _body(data, SEGMENTATION_KEYS)
    events = _selections(workspace, data.get("events"), "events", 1, MAX_SERIES, "events")
    start, end = _range(data)
    interval = data.get("interval", "day")
    if not isinstance(interval, str) or interval not in INTERVALS:
        raise _fail("interval", "give hour, day or week")
    if len(buckets(start, end, interval)) > MAX_BUCKETS:
        raise _fail(
            "interval",
            f"at most {MAX_BUCKETS:,} {interval}s; choose a shorter range or a longer interval",
            ErrorCode.RANGE_TOO_LONG,
        )
    return SegmentationQuery(
        events=events,
        start=start,
        end=end,
        interval=interval,
        breakdown=_breakdown(data.get("breakdown"), events),
        segment_id=_segment(workspace, data.get("segment")),
    )


def funnel_query_parse(*, workspace: Workspace, data) -> FunnelQuery:
    """Check a funnel query for ``workspace``; raise ``ServiceError`` naming the field."""
    data = _body(data, FUNNEL_KEYS)
    steps = _selections(workspace, data.get("steps"), "steps", MIN_STEPS, MAX_STEPS, "steps")
    start, end = _range(data)
    return FunnelQuery(
        steps=steps,
        start=start,
        end=end,
        window=_window(data.get("conversionWindow")),
        segment_id=_segment(workspace, data.get("segment")),
    )


def _whole(raw, field: str, least: int, most: int | None = None) -> int:
    if (
        isinstance(raw, bool)
        or not isinstance(raw, int)
        or raw < least
        or (most is not None and raw > most)
    ):
        raise _fail(
            field,
            f"give a whole number from {least}" + ("" if most is None else f" to {most}"),
        )
    return raw


def retention_query_parse(*, workspace: Workspace, data) -> RetentionQuery:
    """Check a retention query for ``workspace``; raise ``ServiceError`` naming the field."""
    data = _body(data, RETENTION_KEYS)
    selections = {}
    for key in ("cohortEvent", "returnEvent"):
        if data.get(key) is None:
            raise _fail(key, "give an event definition id", ErrorCode.REQUIRED)
        selections[key] = _selection(workspace, data[key], key, "retention event")
    start, end = _range(data)
    interval = data.get("interval", "day")
    if not isinstance(interval, str) or interval not in RETENTION_INTERVALS:
        raise _fail("interval", "give day or week")
    periods = _whole(data.get("periods", DEFAULT_PERIODS), "periods", 1, MAX_PERIODS)
    if len(buckets(start, end, interval)) > MAX_BUCKETS:
        raise _fail(
            "interval",
            f"at most {MAX_BUCKETS:,} cohorts; choose a shorter range",
            ErrorCode.RANGE_TOO_LONG,
        )
    return RetentionQuery(
        cohort_event=selections["cohortEvent"],
        return_event=selections["returnEvent"],
        start=start,
        end=end,
        interval=interval,
        periods=periods,
        segment_id=_segment(workspace, data.get("segment")),
    )


def _people_body(data, at_keys: set[str]) -> tuple[dict, dict, int, int]:
    """Split a people request into the answer's query, the keys naming the number, and the
    page (limit, offset)."""
    if not isinstance(data, dict):
        raise _fail(None, "send a JSON object")
    query = {k: v for k, v in data.items() if k not in at_keys | PAGE_KEYS}
    limit = _whole(data.get("limit", DEFAULT_PAGE), "limit", 1, MAX_PAGE)
    offset = _whole(data.get("offset", 0), "offset", 0, MAX_OFFSET)
    return query, {k: data.get(k) for k in at_keys}, limit, offset


def funnel_people_parse(*, workspace: Workspace, data) -> PeopleRequest:
    """A funnel query plus ``step`` (1…steps) and ``outcome``: ``converted`` (the people who
    reached the step) or ``dropped`` (who reached the step before but not this one; step 2
    or later)."""
    raw, at, limit, offset = _people_body(data, {"step", "outcome"})
    query = funnel_query_parse(workspace=workspace, data=raw)
    step = _whole(at["step"], "step", 1, len(query.steps))
    outcome = at["outcome"] if at["outcome"] is not None else "converted"
    if outcome not in OUTCOMES:
        raise _fail("outcome", "give converted or dropped")
    if outcome == "dropped" and step == 1:
        raise _fail("outcome", "people drop off at step 2 or later; give a step from 2")
    return PeopleRequest("funnels", query, (step, outcome), limit, offset)


def segmentation_people_parse(*, workspace: Workspace, data) -> PeopleRequest:
    """A segmentation query plus ``series`` (the position in the answer's series, which a
    breakdown splits by value) and ``bucket`` (the position in its buckets)."""
    raw, at, limit, offset = _people_body(data, {"series", "bucket"})
    query = segmentation_query_parse(workspace=workspace, data=raw)
    count = len(buckets(query.start, query.end, query.interval))
    bucket = _whole(at["bucket"], "bucket", 0, count - 1)
    series = _whole(at["series"], "series", 0)
    return PeopleRequest("segmentation", query, (series, bucket), limit, offset)


def retention_people_parse(*, workspace: Workspace, data) -> PeopleRequest:
    """A retention query plus ``cohort`` (the position in the answer's cohorts) and
    ``period`` (0…periods; left out or null: everyone in the cohort)."""
    raw, at, limit, offset = _people_body(data, {"cohort", "period"})
    query = retention_query_parse(workspace=workspace, data=raw)
    count = len(buckets(query.start, query.end, query.interval))
    cohort = _whole(at["cohort"], "cohort", 0, count - 1)
    period = None if at["period"] is None else _whole(at["period"], "period", 0, query.periods)
    return PeopleRequest("retention", query, (cohort, period), limit, offset)
