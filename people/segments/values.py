"""Check and normalise the values of rule conditions (dates, numbers, lists, ranges).

Dates are parsed once here so the compiler and the explainer use the same instants: a date
given for a date-time field means that whole UTC day.
"""

from datetime import UTC, date, datetime, timedelta

from django.utils.dateparse import parse_date, parse_datetime

from cdp.errors import FieldError, ServiceError
from people.errors import SegmentErrorCode
from people.segments import conditions as c

MAX_TEXT = 1024
MAX_IN = 500
NO_VALUE = ("is_set", "is_not_set")


def _fail(field: str, message: str) -> ServiceError:
    return ServiceError(FieldError(field, SegmentErrorCode.INVALID_VALUE, message))


def parse_instant(value, field: str, *, end: bool) -> datetime | None:
    """Return an aware datetime for an ISO date or date-time; a date means its whole day, so
    ``end=True`` gives the next midnight (an exclusive end). None stays None."""
    if value is None:
        return None
    parsed = None
    if isinstance(value, str):
        try:
            parsed = parse_datetime(value) if "T" in value or " " in value else None
            day = None if parsed else parse_date(value)
        except ValueError:
            day = None
        if parsed is not None:
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        if day is not None and not (end and day == date.max):
            return c.day_start(day + timedelta(days=1) if end else day)
    raise _fail(field, "give a date like 2024-05-31 or a date-time like 2024-05-31T14:00:00Z")


def _date(value, field: str) -> date:
    try:
        parsed = parse_date(value) if isinstance(value, str) else None
    except ValueError:
        parsed = None
    if parsed is None:
        raise _fail(field, "give a date like 2024-05-31")
    return parsed


def _scalar(value_type: str, value, field: str):
    if value_type in (c.TEXT, c.LIST):
        if not isinstance(value, str) or len(value) > MAX_TEXT:
            raise _fail(field, f"give a text value (at most {MAX_TEXT} characters)")
        return value
    if value_type == c.NUMBER:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _fail(field, "give a number (not quoted)")
        if isinstance(value, int) and abs(value) > 2**63:  # compared as a float in SQL
            raise _fail(field, "give a number between -2^63 and 2^63")
        return value
    if value_type == c.BOOLEAN:
        if not isinstance(value, bool):
            raise _fail(field, "give true or false")
        return value
    if value_type == c.DATE:
        return _date(value, field)
    return (
        parse_instant(value, field, end=False),
        parse_instant(value, field, end=True)
        if isinstance(value, str) and len(value) == 10
        else parse_instant(value, field, end=False) + timedelta(microseconds=1),
    )


def check_value(value_type: str, operator: str, value, field: str):
    """Return the normalised value of a condition or raise a message naming ``field``.

    Dates become ``date`` objects; date-times become ``(start, exclusive end)`` pairs (a
    whole day for a date, one instant for a date-time); ``between`` gives a pair of those.
    """
    if operator in NO_VALUE:
        return None
    if operator == "within_last_days":
        if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= 36500:
            raise _fail(field, "give a number of days above 0")
        return value
    if operator == "in":
        if not isinstance(value, list) or not value or len(value) > MAX_IN:
            raise _fail(field, f"give a list of 1 to {MAX_IN} values")
        return tuple(_scalar(value_type, item, f"{field}[{i}]") for i, item in enumerate(value))
    if operator == "between":
        if not isinstance(value, list) or len(value) != 2:
            raise _fail(field, "give two values: [from, to]")
        low, high = (_scalar(value_type, item, f"{field}[{i}]") for i, item in enumerate(value))
        if low > high:  # dates, numbers, texts and (start, end) pairs all compare
            raise _fail(field, "the first value must not be greater than the second")
        return low, high
    return _scalar(value_type, value, field)
