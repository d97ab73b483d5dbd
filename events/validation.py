"""Checks of one event against its definition, compiled once per definition per batch.

Pure Python, no queries: the ingestion service loads definitions for the whole batch and
runs these per item.
"""

import math
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.utils.dateparse import parse_datetime

from cdp.errors import ErrorCode, FieldError
from events.catalogue import DEFAULTS, RANGES
from events.inputs import EventInput
from events.models import Event, EventDefinition, PropertyDefinition

T = PropertyDefinition.Type
# The property types as plain strings (comparing with them costs less than with the enum's).
_TEXT, _NUMBER, _BOOLEAN, _DATETIME = (
    str(t.value) for t in (T.TEXT, T.NUMBER, T.BOOLEAN, T.DATETIME)
)
CORE_LIMITS = {
    name: Event._meta.get_field(name).max_length
    for name in (
        "session_id",
        "external_id",
        "target_id",
        "target_name",
        "source",
        "content_name",
        "tags",
        "campaign_code",
        "campaign_name",
        "summary",
    )
}
# API (camelCase) names of the core fields, for error messages.
API_NAMES = {
    "session_id": "sessionId",
    "external_id": "externalId",
    "target_id": "targetId",
    "target_name": "targetName",
    "content_name": "contentName",
    "campaign_code": "campaign",
    "campaign_name": "campaignName",
    "occurred_at": "occurredTime",
    "definition_id": "definitionId",
}
MAX_FUTURE = timedelta(days=1)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# A positive number below this is seconds, not milliseconds (SPEC §5 "Times"): 10^11 ms is
# March 1973, 10^11 s the year 5138, so PPMessage's ``event_timestamp`` (seconds) is never
# read as a day in 1970.
SECONDS_BELOW = 10**11


def parse_time(
    value, field: str, *, earliest: datetime | None = EPOCH
) -> tuple[datetime | None, FieldError | None]:
    """Parse an ISO-8601 string, epoch milliseconds or a datetime; naive means UTC.

    A positive number below ``SECONDS_BELOW`` (10^11) is epoch seconds (SPEC §5 "Times").

    Times before ``earliest`` (1970-01-01, SPEC §5 "Times") are refused, negative
    milliseconds included; ``None`` accepts any (a datetime property may be a birth date).
    """
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, int) and not isinstance(value, bool):
        try:
            seconds = value if 0 < value < SECONDS_BELOW else value / 1000
            parsed = datetime.fromtimestamp(seconds, tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None, FieldError(field, ErrorCode.INVALID, "is not a valid timestamp")
    elif isinstance(value, str):
        try:
            parsed = parse_datetime(value.strip().replace("+0000", "+00:00"))
        except ValueError:
            parsed = None
        if parsed is None:
            return None, FieldError(
                field, ErrorCode.INVALID, "use ISO-8601, for example 2024-05-01T12:00:00Z"
            )
    else:
        return None, FieldError(
            field,
            ErrorCode.INVALID_TYPE,
            "must be an ISO-8601 string or epoch milliseconds (seconds below 10^11)",
        )
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    if earliest is not None and parsed < earliest:
        return None, FieldError(
            field, ErrorCode.INVALID, f"is before {earliest.isoformat().replace('+00:00', 'Z')}"
        )
    try:
        return parsed.astimezone(UTC), None
    except OverflowError:  # year 1 or 9999 shifted past the calendar's ends by its offset
        return None, FieldError(field, ErrorCode.INVALID, "is out of range")


# (field, length limit, API name, stored empty value) for the string core fields.
_CORE_FIELDS = tuple(
    (name, limit, API_NAMES.get(name, name), None if name in {"session_id", "external_id"} else "")
    for name, limit in CORE_LIMITS.items()
)
_CORE_EMPTY = {name: empty for name, _, _, empty in _CORE_FIELDS}


def core_validate(item: EventInput, now: datetime) -> tuple[dict, datetime, list[FieldError]]:
    """Check the core fields; return the model field values, the occurred time and errors."""
    errors: list[FieldError] = []
    values = _CORE_EMPTY.copy()
    given = vars(item)
    for name, limit, api_name, _ in _CORE_FIELDS:
        value = given[name]
        if value is None or value == "":
            continue
        if value.__class__ is not str:
            if isinstance(value, int | float) and not isinstance(value, bool):
                value = str(value)
            elif not isinstance(value, str):
                errors.append(FieldError(api_name, ErrorCode.INVALID_TYPE, "must be a string"))
                continue
        if len(value) > limit:
            errors.append(FieldError(api_name, ErrorCode.TOO_LONG, f"at most {limit} characters"))
            continue
        values[name] = value
    score = item.score
    if score is not None and (isinstance(score, bool) or not isinstance(score, int)):
        errors.append(FieldError("score", ErrorCode.INVALID_TYPE, "must be an integer"))
        score = None
    values["score"] = score
    occurred = now
    if item.occurred_at is not None and item.occurred_at != "":
        parsed, error = parse_time(item.occurred_at, "occurredTime")
        if error:
            errors.append(error)
        elif parsed > now + MAX_FUTURE:
            errors.append(
                FieldError("occurredTime", ErrorCode.INVALID, "is more than a day in the future")
            )
        else:
            occurred = parsed
    if item.person.is_empty():
        errors.append(
            FieldError(
                "person", ErrorCode.REQUIRED, "name the person by id, externalId or identifiers"
            )
        )
    return values, occurred, errors


class DefinitionValidator:
    """Property checks of one definition: known keys, types, required ones, sizes."""

    def __init__(self, definition: EventDefinition, props: list[PropertyDefinition]):
        self.definition = definition
        self.types = {p.key: p.type for p in props}
        self.required = [p.key for p in props if p.required]
        self.max_text = settings.CDP_MAX_TEXT_PROPERTY_LENGTH
        builtin = definition.workspace_id is None
        self.defaults = DEFAULTS.get(definition.definition_id, {}) if builtin else {}
        self.ranges = RANGES.get(definition.definition_id, {}) if builtin else {}

    def complete(self, properties: dict) -> dict:
        """Return the properties with the definition's defaults filled in."""
        if not self.defaults or not isinstance(properties, dict):
            return properties
        missing = {k: v for k, v in self.defaults.items() if properties.get(k) in (None, "")}
        return {**properties, **missing} if missing else properties

    def _property_error(self, key: str, kind: str | None, value) -> FieldError | None:
        """The error of one property's value, if any (every case ``validate`` did not pass)."""
        field = f"properties.{key}"
        if kind is None:
            return FieldError(
                field,
                ErrorCode.UNKNOWN_PROPERTY,
                f"{self.definition.definition_id} has no property {key!r}",
            )
        if kind == _TEXT:
            if not isinstance(value, str):
                return FieldError(field, ErrorCode.INVALID_TYPE, "must be a string (quoted)")
            if len(value) > self.max_text:
                return FieldError(field, ErrorCode.TOO_LONG, f"at most {self.max_text} characters")
        elif kind == _NUMBER:
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or (isinstance(value, float) and not math.isfinite(value))
            ):
                return FieldError(field, ErrorCode.INVALID_TYPE, "must be a number (not quoted)")
            if key in self.ranges:
                low, high = self.ranges[key]
                if (low is not None and value < low) or (high is not None and value > high):
                    bounds = f"between {low} and {high}" if high is not None else f">= {low}"
                    return FieldError(field, ErrorCode.INVALID, f"must be {bounds}")
        elif kind == _BOOLEAN:
            if not isinstance(value, bool):
                return FieldError(field, ErrorCode.INVALID_TYPE, "must be true or false")
        elif kind == _DATETIME:
            if isinstance(value, bool) or not isinstance(value, str | int):
                return FieldError(
                    field, ErrorCode.INVALID_TYPE, "must be an ISO-8601 date-time string"
                )
            return parse_time(value, field, earliest=None)[1]
        return None

    def validate(self, properties) -> list[FieldError]:
        if not isinstance(properties, dict):
            return [FieldError("properties", ErrorCode.INVALID_TYPE, "must be an object")]
        errors = []
        types = self.types
        for key, value in properties.items():
            kind = types.get(key)
            if value is None and kind is not None:
                continue
            # The common cases first, without building anything.
            value_type = value.__class__
            if kind == _TEXT:
                if value_type is str and len(value) <= self.max_text:
                    continue
            elif kind == _NUMBER:
                if (
                    value_type is int or (value_type is float and math.isfinite(value))
                ) and key not in self.ranges:
                    continue
            elif kind == _BOOLEAN and value_type is bool:
                continue
            error = self._property_error(key, kind, value)
            if error is not None:
                errors.append(error)
        for key in self.required:
            if properties.get(key) is None:
                errors.append(
                    FieldError(
                        f"properties.{key}",
                        ErrorCode.REQUIRED,
                        f"{self.definition.definition_id} requires {key!r}",
                    )
                )
        return errors
