"""Retention: of the people who did an event, how many came back with another, per period.

Semantics (README "Analytics"): a person's first cohort event in ``[from, to)`` puts them in
the cohort of its day or (ISO, Monday) week, UTC. They count in period p of their cohort when
they did the return event at or after that first cohort event, within the p-th day or week
after the start of their cohort (period 0 is the cohort's own day or week). Return events may
fall after ``to``.

One statement: ``a`` keeps each person's first cohort event (the events the segment compiler
selects, restricted to a segment's members when asked), ``c`` numbers their cohort from the
first bucket of the range, ``r`` holds one row per person, cohort and period they returned
in. The counts and the people behind them (``events.analytics.people``) read the same tables.
"""

from dataclasses import dataclass
from datetime import datetime

from django.db import connection

from events.analytics.queries import INTERVALS, RetentionQuery, buckets
from events.analytics.sql import selection_rows, statement_limits, steps_since
from people.models import Workspace


@dataclass(frozen=True)
class Cohort:
    start: datetime
    people: int
    returned: tuple[int, ...]  # people per period 0…periods


@dataclass(frozen=True)
class RetentionResult:
    query: RetentionQuery
    cohorts: tuple[Cohort, ...]


def retention_ctes(workspace_id: int, query: RetentionQuery) -> tuple[str, list]:
    """Return ``WITH a AS (…), c AS (…), r AS (…)`` (and its parameters): ``c`` holds
    ``(person_id, t, cohort)``, ``r`` ``(person_id, cohort, period)``; cohorts count from 0."""
    starts = buckets(query.start, query.end, query.interval)
    step = INTERVALS[query.interval]
    cohort_rows = selection_rows(
        workspace_id=workspace_id,
        selection=query.cohort_event,
        start=query.start,
        end=query.end,
        segment_id=query.segment_id,
    )
    return_rows = selection_rows(
        workspace_id=workspace_id,
        selection=query.return_event,
        start=query.start,
        end=starts[-1] + step * (query.periods + 1),
    )
    a_sql, a_params = cohort_rows.values("person_id", "occurred_at").query.sql_with_params()
    b_sql, b_params = return_rows.values("person_id", "occurred_at").query.sql_with_params()
    cohort_sql, cohort_params = steps_since("a.t", starts[0], step)
    period_sql, period_params = steps_since("b.occurred_at", starts[0], step)
    sql = (
        f"WITH a AS (SELECT e.person_id, MIN(e.occurred_at) AS t FROM ({a_sql}) e"
        " GROUP BY e.person_id),"
        f" c AS (SELECT a.person_id, a.t, {cohort_sql} AS cohort FROM a),"
        " r AS (SELECT DISTINCT x.person_id, x.cohort, x.period FROM"
        f" (SELECT c.person_id, c.cohort, {period_sql} - c.cohort AS period"
        f" FROM c JOIN ({b_sql}) b ON b.person_id = c.person_id AND b.occurred_at >= c.t) x"
        " WHERE x.period <= %s)"
    )
    params = [*a_params, *cohort_params, *period_params, *b_params, query.periods]
    return sql, params


def retention_run(*, workspace: Workspace, query: RetentionQuery) -> RetentionResult:
    """Return each cohort's size and the people of it who returned in each period."""
    ctes, params = retention_ctes(workspace.pk, query)
    sql = (
        f"{ctes} SELECT cohort, -1, COUNT(*) FROM c GROUP BY cohort"
        " UNION ALL SELECT cohort, period, COUNT(*) FROM r GROUP BY cohort, period"
    )
    starts = buckets(query.start, query.end, query.interval)
    sizes = [0] * len(starts)
    returned = [[0] * (query.periods + 1) for _ in starts]
    with statement_limits(), connection.cursor() as cursor:
        cursor.execute(sql, params)
        for cohort, period, people in cursor.fetchall():
            if period == -1:
                sizes[int(cohort)] = people
            else:
                returned[int(cohort)][int(period)] = people
    return RetentionResult(
        query=query,
        cohorts=tuple(
            Cohort(start=start, people=sizes[i], returned=tuple(returned[i]))
            for i, start in enumerate(starts)
        ),
    )
