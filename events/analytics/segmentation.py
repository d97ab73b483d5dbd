"""Event segmentation: events and unique people per hour, day or week, in SQL.

Per series (a definition with optional property conditions) one statement grouping its events
by bucket (``date_trunc`` in UTC; weeks start on Monday): ``COUNT(*)`` and ``COUNT(DISTINCT
person)``; without a breakdown the index alone answers it. With a breakdown the events (with
the property, read from the table) are read once into ``r``; ``top`` ranks the values by events
in the range (ties by value in code point order, "not set" last); the top ``limit`` get a slot
each and every other value shares the "other" slot, so a person with two "other" values in a
day counts once there. Buckets without events are zeros in the answer.

Measured on the segments bench data (bench/analytics.py): counting distinct people per group
by sorting was 2-5x faster than grouping by person first and counting the groups, and one
read of the events with the ranking in the same statement beat a ranking query before it.
"""

from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import connection
from django.db.models import Count, QuerySet
from django.db.models.functions import Trunc

from events.analytics.queries import Breakdown, EventSelection, SegmentationQuery, buckets
from events.analytics.sql import PropertyText, as_utc, selection_rows, statement_limits
from people.models import Workspace


@dataclass(frozen=True)
class Series:
    """One line of the chart: a selection, or one value of its breakdown (``other``: the
    values outside the top ones)."""

    event: str
    label: str
    value: str | None
    other: bool
    events: tuple[int, ...]  # per bucket
    people: tuple[int, ...]  # per bucket

    @property
    def total_events(self) -> int:
        return sum(self.events)


@dataclass(frozen=True)
class SegmentationResult:
    query: SegmentationQuery
    buckets: tuple[datetime, ...]
    series: tuple[Series, ...]


def _counts(rows: QuerySet, interval: str) -> list[tuple]:
    """``(bucket, 0, None, events, people)`` per bucket of ``rows``."""
    grouped = (rows.annotate(bucket=Trunc("occurred_at", interval, tzinfo=UTC)).values("bucket")
               .annotate(events=Count("*"), people=Count("person_id", distinct=True)))
    return [(row["bucket"], 0, None, row["events"], row["people"]) for row in grouped]


def _broken_down(rows: QuerySet, interval: str, breakdown: Breakdown) -> list[tuple]:
    """``(bucket, slot, None, events, people)`` per bucket and slot, and ``(None, slot, value,
    None, None)`` naming the value of each top slot. One statement: the events are read once
    (with their properties, from the table) into ``r``, ranked by value in ``top``."""
    rows = rows.annotate(bucket=Trunc("occurred_at", interval, tzinfo=UTC),
                         value=PropertyText(breakdown.property))
    inner, params = rows.values("bucket", "value", "person_id").query.sql_with_params()
    collate = ' COLLATE "C"' if connection.vendor == "postgresql" else ""
    sql = (
        f"WITH r AS MATERIALIZED ({inner}),"
        " top AS MATERIALIZED (SELECT value, ROW_NUMBER() OVER (ORDER BY COUNT(*) DESC,"
        f" value IS NULL, value{collate}) - 1 AS slot FROM r GROUP BY value),"
        " kept AS (SELECT value, slot FROM top WHERE slot < %s)"
        " SELECT r.bucket, COALESCE(kept.slot, CASE WHEN r.value IS NULL THEN"
        " (SELECT slot FROM kept WHERE value IS NULL) END, %s) AS slot, NULL AS value,"
        " COUNT(*) AS events, COUNT(DISTINCT r.person_id) AS people"
        " FROM r LEFT JOIN kept ON kept.value = r.value GROUP BY 1, 2"
        " UNION ALL SELECT NULL, slot, value, NULL, NULL FROM kept")
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, breakdown.limit, breakdown.limit])
        return cursor.fetchall()


def _series(workspace_id: int, query: SegmentationQuery, selection: EventSelection,
            starts: list[datetime]) -> list[Series]:
    rows = selection_rows(workspace_id=workspace_id, selection=selection, start=query.start,
                          end=query.end, segment_id=query.segment_id)
    breakdown = query.breakdown
    found = (_broken_down(rows, query.interval, breakdown) if breakdown
             else _counts(rows, query.interval))
    index = {start: i for i, start in enumerate(starts)}
    values = {slot: value for bucket, slot, value, *_ in found if bucket is None}
    slots = len(values) + 1
    events = [[0] * len(starts) for _ in range(slots)]
    people = [[0] * len(starts) for _ in range(slots)]
    for bucket, slot, _, n_events, n_people in found:
        if bucket is not None:
            i, slot = index[as_utc(bucket)], min(slot, len(values))
            events[slot][i], people[slot][i] = n_events, n_people
    if not breakdown:
        return [Series(event=selection.event, label=selection.label, value=None, other=False,
                       events=tuple(events[0]), people=tuple(people[0]))]
    result = [Series(event=selection.event, label=f"{selection.label}: "
                     + ("(not set)" if values[i] is None else values[i]),
                     value=values[i], other=False, events=tuple(events[i]),
                     people=tuple(people[i])) for i in range(len(values))]
    if any(events[len(values)]):
        result.append(Series(event=selection.event, label=f"{selection.label}: other",
                             value=None, other=True, events=tuple(events[len(values)]),
                             people=tuple(people[len(values)])))
    return result


def segmentation_run(*, workspace: Workspace, query: SegmentationQuery) -> SegmentationResult:
    """Return events and unique people per bucket for each series of ``query``."""
    starts = buckets(query.start, query.end, query.interval)
    with statement_limits():
        series = [s for selection in query.events
                  for s in _series(workspace.pk, query, selection, starts)]
    return SegmentationResult(query=query, buckets=tuple(starts), series=tuple(series))
