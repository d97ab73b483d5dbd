"""Helpers shared by the element validators: failing on a path, shapes, numbers, durations.

Every check raises ``ServiceError`` with one ``FieldError`` whose field is the path of the bad
value (``elements[2].config.within.days``) and whose message says what to write instead.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from cdp.errors import ErrorCode, FieldError, ServiceError
from events.definition_cache import Catalogue
from events.models import EventDefinition
from flows.errors import FlowErrorCode
from people.models import Workspace

DURATION_UNITS = {"days": 86400, "hours": 3600, "minutes": 60}
MAX_LIST = 20


@dataclass(frozen=True)
class Context:
    """What element checks may read: the workspace, its definitions, the flow's trigger.

    ``activating`` adds the checks that only matter once people enter (definitions switched
    on, schedules in the future); ``trigger_type`` / ``trigger_event`` describe the flow's one
    valid trigger, if it has one (branches test the trigger event's data).
    """

    workspace: Workspace
    catalogue: Catalogue
    now: datetime
    activating: bool = False
    trigger_type: str | None = None
    trigger_event: str | None = None


def fail(path: str, message: str, code: str = FlowErrorCode.INVALID_CONFIG) -> ServiceError:
    return ServiceError(FieldError(path, code, message))


def remap(exc: ServiceError, old: str, new: str) -> ServiceError:
    """Return ``exc`` with field paths starting ``old`` moved under ``new`` (errors of a
    segment rule tree checked on behalf of an element)."""
    return ServiceError(
        [
            FieldError(
                new + e.field[len(old) :] if e.field.startswith(old) else new, e.code, e.message
            )
            for e in exc.errors
        ]
    )


def require_object(raw, path: str, example: str) -> dict:
    if not isinstance(raw, dict):
        raise fail(path, f"give an object, for example {example}")
    return raw


def only_keys(raw: dict, path: str, allowed: Iterable[str]) -> None:
    """Reject keys the format does not have (a typo would otherwise be ignored silently)."""
    allowed = tuple(allowed)
    for key in raw:
        if key not in allowed:
            raise fail(
                f"{path}.{key}",
                f"unknown setting {key!r}; this element takes " + ", ".join(allowed),
            )


def require_list(
    raw, path: str, *, what: str, max_items: int = MAX_LIST, allow_empty: bool = True
) -> list:
    if raw is None and allow_empty:
        return []
    if not isinstance(raw, list):
        raise fail(path, f"give a list of {what}")
    if len(raw) > max_items:
        raise fail(path, f"at most {max_items} {what}")
    if not raw and not allow_empty:
        raise fail(path, f"add at least one of {what}")
    return raw


def whole_number(value, path: str, *, low: int, high: int, what: str = "a whole number") -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise fail(path, f"give {what} from {low} to {high}")
    return value


def text(value, path: str, *, max_length: int, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise fail(path, f"give {what}", ErrorCode.REQUIRED)
    if len(value) > max_length:
        raise fail(path, f"{what} has at most {max_length} characters", ErrorCode.TOO_LONG)
    return value


def duration(raw, path: str, *, max_days: int = 365, min_minutes: int = 1) -> timedelta:
    """Parse ``{"days": D, "hours": H, "minutes": M}`` (any of them, whole numbers)."""
    example = '{"days": 1} or {"hours": 1, "minutes": 30}'
    raw = require_object(raw, path, example)
    only_keys(raw, path, DURATION_UNITS)
    if not raw:
        raise fail(path, f"give a duration, for example {example}")
    seconds = sum(
        whole_number(value, f"{path}.{unit}", low=0, high=max_days * 86400) * DURATION_UNITS[unit]
        for unit, value in raw.items()
    )
    if seconds < min_minutes * 60 or seconds > max_days * 86400:
        low = f"{min_minutes} minute" + ("s" if min_minutes > 1 else "")
        raise fail(path, f"the duration must be at least {low} and at most {max_days} days")
    return timedelta(seconds=seconds)


def duration_json(value: timedelta | None) -> dict | None:
    """Return a timedelta in the ``{"days", "hours", "minutes"}`` format (None stays None)."""
    if value is None:
        return None
    minutes = int(value.total_seconds()) // 60
    days, minutes = divmod(minutes, 1440)
    hours, minutes = divmod(minutes, 60)
    return {"days": days, "hours": hours, "minutes": minutes}


def nul_free(value, path: str) -> None:
    """Reject NUL characters anywhere (PostgreSQL cannot store them in JSON or text)."""
    if isinstance(value, str):
        if "\x00" in value:
            raise fail(path, "remove the NUL character (\\u0000)", ErrorCode.INVALID)
    elif isinstance(value, dict):
        for key, item in value.items():
            nul_free(key, path)
            nul_free(item, f"{path}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            nul_free(item, f"{path}[{i}]")


def definition_of(code, path: str, ctx: Context) -> EventDefinition:
    """Return the workspace's definition ``code`` (with the enable check when activating)."""
    definition = ctx.catalogue.definitions.get(code) if isinstance(code, str) else None
    if definition is None:
        raise fail(
            path,
            f"there is no event {code!r} in this workspace; check the spelling "
            "or create the definition first",
            ErrorCode.UNKNOWN_DEFINITION,
        )
    if ctx.activating and not ctx.catalogue.enabled.get(definition.pk, False):
        raise fail(
            path,
            f"{code} is switched off for this workspace; switch it on under "
            "event definitions before activating the flow",
            ErrorCode.DEFINITION_DISABLED,
        )
    return definition


def uses(dependencies: Iterable[str]) -> set[str]:
    """Keep the dependencies a flow records: definitions and segments."""
    return {d for d in dependencies if d.startswith(("event:", "segment:"))}
