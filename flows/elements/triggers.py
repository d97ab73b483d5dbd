"""The trigger element: who enters the flow, and when.

    {"type": "event", "event": "c_ticket_searched", "where": [property conditions]}
    {"type": "segment_entry", "segment": 12}
    {"type": "schedule", "segment": 12, "at": "2025-01-31T09:00:00Z"}          # one time
    {"type": "schedule", "segment": 12, "every": {"days": 1}}                  # recurring
    {"type": "schedule", "segment": 12, "cron": "0 9 * * 1"}                   # crontab, UTC

``where`` takes the property conditions of segment rules (``{"property", "operator",
"value"}``). A schedule enters the segment's members at each time; ``every`` is at least 15
minutes (segments refresh every 15 minutes), ``cron`` is ``minute hour day-of-month month
day-of-week`` as in crontab, and the runtime maps both onto django-celery-beat.
"""

from datetime import UTC, datetime

from celery.schedules import crontab
from django.utils.dateparse import parse_datetime

from cdp.errors import ServiceError
from flows.elements.common import (
    Context,
    definition_of,
    duration,
    fail,
    only_keys,
    remap,
    require_object,
    uses,
)
from flows.errors import FlowErrorCode
from people.errors import SegmentErrorCode
from people.segments.models import Segment
from people.segments.rules import rules_validate

TRIGGER_TYPES = ("event", "segment_entry", "schedule")
SCHEDULE_KINDS = ("at", "every", "cron")


def segment_of(segment_id, path: str, ctx: Context, *, static_only: bool = False) -> Segment:
    """Return the workspace's segment ``segment_id`` or fail naming it."""
    found = None
    if isinstance(segment_id, int) and not isinstance(segment_id, bool):
        found = Segment.objects.filter(workspace=ctx.workspace, pk=segment_id).first()
    if found is None:
        raise fail(
            path,
            f"there is no segment {segment_id!r} in this workspace",
            SegmentErrorCode.UNKNOWN_SEGMENT,
        )
    if static_only and found.is_dynamic:
        raise fail(
            path,
            f"segment {found.name!r} is dynamic: its members follow its rules; "
            "choose a static segment",
            SegmentErrorCode.SEGMENT_KIND,
        )
    return found


def event_conditions(raw: dict, path: str, ctx: Context) -> set[str]:
    """Check an event with optional ``where`` (and ``count``) by the segment rule checker."""
    node = {key: raw[key] for key in ("event", "where", "count") if key in raw}
    node.setdefault("event", None)
    definition_of(node["event"], f"{path}.event", ctx)
    try:
        checked = rules_validate(workspace=ctx.workspace, rules={"all": [node]})
    except ServiceError as exc:
        raise remap(exc, "rules.all[0]", path) from exc
    return uses(checked.dependencies)


def _instant(value, path: str, ctx: Context) -> datetime:
    parsed = None
    if isinstance(value, str) and len(value) <= 64:
        try:
            parsed = parse_datetime(value.strip())
        except ValueError:
            parsed = None
    if parsed is None:
        raise fail(path, "give a date-time like 2025-01-31T09:00:00Z")
    parsed = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    if not 2000 <= parsed.year <= 2200:  # before any conversion: year 1 would overflow
        raise fail(path, "give a date-time between the years 2000 and 2200")
    if ctx.activating and parsed <= ctx.now:
        raise fail(
            path,
            f"the scheduled time {value} has passed; choose a later one",
            FlowErrorCode.SCHEDULE_PASSED,
        )
    return parsed


def _cron(value, path: str) -> None:
    fields = value.split() if isinstance(value, str) and len(value) <= 100 else []
    if len(fields) != 5:
        raise fail(
            path,
            'give five crontab fields "minute hour day-of-month month '
            'day-of-week", for example "0 9 * * 1" (Mondays at 09:00 UTC)',
        )
    minute, hour, day_of_month, month, day_of_week = fields
    try:
        crontab(
            minute=minute,
            hour=hour,
            day_of_month=day_of_month,
            month_of_year=month,
            day_of_week=day_of_week,
        )
    except Exception as exc:  # celery raises ValueError and its own parse errors
        raise fail(path, f"the crontab {value!r} cannot be used: {exc}") from exc


def trigger_validate(config: dict, path: str, ctx: Context) -> set[str]:
    """Check a trigger config; return the definitions and segments it names."""
    kind = config.get("type")
    if kind not in TRIGGER_TYPES:
        raise fail(f"{path}.type", "type is one of " + ", ".join(TRIGGER_TYPES))
    if kind == "event":
        only_keys(config, path, ("type", "event", "where"))
        return event_conditions(config, path, ctx)
    if kind == "segment_entry":
        only_keys(config, path, ("type", "segment"))
        return {f"segment:{segment_of(config.get('segment'), f'{path}.segment', ctx).pk}"}
    only_keys(config, path, ("type", "segment", *SCHEDULE_KINDS))
    segment = segment_of(config.get("segment"), f"{path}.segment", ctx)
    given = [key for key in SCHEDULE_KINDS if key in config]
    if len(given) != 1:
        raise fail(
            path,
            'a schedule has one of "at" (once, a date-time), "every" '
            '(recurring, e.g. {"days": 1}) or "cron" (recurring, e.g. "0 9 * * 1")',
        )
    if given[0] == "at":
        _instant(config["at"], f"{path}.at", ctx)
    elif given[0] == "every":
        require_object(config["every"], f"{path}.every", '{"days": 1}')
        duration(config["every"], f"{path}.every", min_minutes=15)
    else:
        _cron(config["cron"], f"{path}.cron")
    return {f"segment:{segment.pk}"}
