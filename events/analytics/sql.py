"""SQL pieces shared by segmentation and funnels.

The events a series or a step counts are the segment compiler's own (``event_rows``: the
``(workspace, definition, occurred_at) INCLUDE (person)`` index, property conditions as
``json_q``), restricted to a segment's current members when asked. The few expressions the two
databases write differently are here: a property's text, time differences in microseconds
(exact on both: PostgreSQL's interval, SQLite's ``django_timestamp_diff``), and the median.
"""

import json
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import OperationalError, connection, transaction
from django.db.models import F, Func, QuerySet, TextField
from django.utils import timezone

from cdp.errors import ErrorCode, FieldError, ServiceError
from events.analytics.queries import EventSelection
from events.models import Event
from people.segments import conditions as c
from people.segments.compiler import Context, event_rows
from people.segments.models import SegmentMembership

# PostgreSQL cancels an analytics statement after this long (SQLState 57014, query_canceled).
TIMEOUT_MS = 120_000


@contextmanager
def statement_limits():
    """Run one analytics query's statements in a transaction with a time limit (PostgreSQL),
    so a query too large for a request ends with a coded error, not a stuck worker.

    The transaction also turns JIT compilation off (it spent 0.2–0.3 s compiling each
    statement of the bench's queries, which run for a second or two) and gives sorts and
    hashes ``CDP_ANALYTICS_WORK_MEM_MB`` (default 256: the daily breakdown of the bench's 2.3M
    page views sorts about 150 MB by bucket and slot, on disk with the server's 4 MB)."""
    try:
        with transaction.atomic():
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    work_mem = int(settings.CDP_ANALYTICS_WORK_MEM_MB)
                    cursor.execute(
                        f"SET LOCAL statement_timeout = {TIMEOUT_MS};"
                        f" SET LOCAL jit = off; SET LOCAL work_mem = '{work_mem}MB'"
                    )
            yield
    except OperationalError as exc:
        if getattr(exc.__cause__, "sqlstate", None) != "57014":
            raise
        raise ServiceError(
            FieldError(
                "",
                ErrorCode.QUERY_TIMEOUT,
                (
                    f"the query took longer than {TIMEOUT_MS // 1000} seconds; "
                    "choose a shorter range or fewer series"
                ),
            )
        ) from exc


@contextmanager
def planner_settings(cursor, **settings: str):
    """Set PostgreSQL planner ``settings`` for the statements run inside (within the
    transaction of ``statement_limits``), then put the previous values back."""
    previous = {}
    for name, value in settings.items():
        cursor.execute("SELECT current_setting(%s), set_config(%s, %s, true)", [name, name, value])
        previous[name] = cursor.fetchone()[0]
    try:
        yield
    finally:
        for name, value in previous.items():
            cursor.execute("SELECT set_config(%s, %s, true)", [name, value])


def selection_rows(
    *,
    workspace_id: int,
    selection: EventSelection,
    start: datetime,
    end: datetime,
    segment_id: int | None = None,
) -> QuerySet[Event]:
    """Return the events ``selection`` counts in ``[start, end)``, of the members of
    ``segment_id`` when given (its current members: stays not exited)."""
    condition = replace(selection.condition, window=c.Window(start=start, end=end))
    rows = event_rows(condition, Context(workspace_id=workspace_id, now=timezone.now()))
    if segment_id is not None:
        rows = rows.filter(
            person_id__in=SegmentMembership.objects.filter(
                segment_id=segment_id, exited_at__isnull=True
            ).values("person_id")
        )
    return rows.order_by()


class PropertyText(Func):
    """The text of one event property, the same on both databases: strings as they are,
    numbers as written, ``true``/``false``, NULL when absent or JSON null."""

    output_field = TextField()

    def __init__(self, key: str):
        super().__init__(F("properties"))
        self.key = key

    def as_postgresql(self, compiler, connection, **extra_context):
        sql, params = compiler.compile(self.source_expressions[0])
        return f"({sql} ->> %s)", [*params, self.key]

    def as_sqlite(self, compiler, connection, **extra_context):
        sql, params = compiler.compile(self.source_expressions[0])
        path = "$." + json.dumps(self.key)
        return (
            f"(CASE json_type({sql}, %s) WHEN 'true' THEN 'true' WHEN 'false' THEN 'false'"
            f" WHEN 'null' THEN NULL ELSE CAST(json_extract({sql}, %s) AS TEXT) END)",
            [*params, path, *params, path],
        )


def as_utc(value) -> datetime:
    """Return a time read by a raw cursor (SQLite gives text, PostgreSQL a naive UTC time
    for ``AT TIME ZONE 'UTC'``) as an aware UTC datetime."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def within(later: str, earlier: str, window: timedelta) -> tuple[str, list]:
    """SQL (and parameters) for ``later - earlier <= window`` on two time columns."""
    if connection.vendor == "postgresql":
        return f"{later} <= {earlier} + %s", [window]
    return f"django_timestamp_diff({later}, {earlier}) <= %s", [window // timedelta(microseconds=1)]


def micros_between(later: str, earlier: str) -> str:
    """SQL for ``later - earlier`` in microseconds (a float on PostgreSQL, exact)."""
    if connection.vendor == "postgresql":
        return f"(EXTRACT(EPOCH FROM {later} - {earlier}) * 1000000)::float8"
    return f"django_timestamp_diff({later}, {earlier})"


def median(expression: str, table: str) -> str:
    """SQL for the median of ``expression`` over the rows of ``table`` (NULL when none): the
    middle value, or the mean of the two middle ones."""
    if connection.vendor == "postgresql":
        return f"(SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY {expression}) FROM {table})"
    return (
        f"(SELECT AVG(d) FROM (SELECT {expression} AS d, ROW_NUMBER() OVER (ORDER BY"
        f" {expression}) AS rn, COUNT(*) OVER () AS n FROM {table})"
        " WHERE rn IN ((n + 1) / 2, (n + 2) / 2))"
    )


def steps_since(column: str, origin: datetime, step: timedelta) -> tuple[str, list]:
    """SQL (and parameters) for the whole number of ``step``s from ``origin`` to the time in
    ``column`` (not before ``origin``): ``floor((column - origin) / step)``, exact on both."""
    if connection.vendor == "postgresql":
        return (
            f"FLOOR(EXTRACT(EPOCH FROM ({column} - %s::timestamptz)) / %s)::bigint",
            [origin, int(step.total_seconds())],
        )
    return (
        f"(django_timestamp_diff({column}, %s) / %s)",
        [connection.ops.adapt_datetimefield_value(origin), step // timedelta(microseconds=1)],
    )
