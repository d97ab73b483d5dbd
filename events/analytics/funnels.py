"""Funnels: how many people went through ordered steps, in one SQL statement.

Semantics (README "Analytics"): a person's first step-1 event in ``[from, to)`` starts their
attempt (one per person). Step k counts the person when an event of step k occurs strictly after
the time their step k-1 was reached and at most the conversion window after their step 1; the
earliest such event is the time step k is reached (the earliest is never a worse start for the
steps after it, so this finds a path whenever one exists). Events out of order, or too late,
do not count; later steps may fall after ``to`` while inside the window. The median time of a
step is over the people who reached it, from their previous step.

Each step is one common table expression: the people of the step before, joined with the
step's events (the ``(workspace, definition, occurred_at) INCLUDE (person)`` index, or the
``(person, definition, occurred_at)`` one when few people are left: the planner's choice), the
earliest qualifying time kept per person. The same statement runs on PostgreSQL and SQLite;
only time arithmetic and the median differ (``events.analytics.sql``).
"""

from dataclasses import dataclass

from django.db import connection

from events.analytics.queries import FunnelQuery
from events.analytics.sql import (
    median,
    micros_between,
    selection_rows,
    statement_limits,
    within,
)
from people.models import Workspace


@dataclass(frozen=True)
class FunnelStep:
    number: int
    event: str
    label: str
    people: int
    conversion_from_previous: float | None  # None for the first step
    conversion_from_first: float
    median_seconds_from_previous: float | None  # None for the first step, or when nobody


@dataclass(frozen=True)
class FunnelResult:
    query: FunnelQuery
    steps: tuple[FunnelStep, ...]


def funnel_ctes(workspace_id: int, query: FunnelQuery) -> tuple[str, list]:
    """Return ``WITH s1 AS (…), …, sN AS (…)`` (and its parameters): ``s{k}`` holds one row
    per person who reached step k, with the times ``t1``…``t{k}`` they reached each step. The
    counts and the people behind them (``events.analytics.people``) read the same tables."""
    ctes, params = [], []
    for k, step in enumerate(query.steps, start=1):
        first = k == 1
        rows = selection_rows(
            workspace_id=workspace_id,
            selection=step,
            start=query.start,
            end=query.end if first else query.end + query.window,
            segment_id=query.segment_id if first else None,
        )
        rows_sql, rows_params = rows.values("person_id", "occurred_at").query.sql_with_params()
        if first:
            ctes.append(
                f"s1 AS (SELECT e.person_id, MIN(e.occurred_at) AS t1 FROM ({rows_sql}) e"
                " GROUP BY e.person_id)"
            )
            params += rows_params
            continue
        kept = ", ".join(f"p.t{i}" for i in range(1, k))
        window_sql, window_params = within("e.occurred_at", "p.t1", query.window)
        ctes.append(
            f"s{k} AS (SELECT p.person_id, {kept}, MIN(e.occurred_at) AS t{k}"
            f" FROM s{k - 1} p JOIN ({rows_sql}) e ON e.person_id = p.person_id"
            f" AND e.occurred_at > p.t{k - 1} AND {window_sql}"
            f" GROUP BY p.person_id, {kept})"
        )
        params += [*rows_params, *window_params]
    return "WITH " + ", ".join(ctes), params


def _statement(workspace_id: int, query: FunnelQuery) -> tuple[str, list]:
    ctes, params = funnel_ctes(workspace_id, query)
    selects = ["SELECT 1, (SELECT COUNT(*) FROM s1), NULL"]
    selects += [
        f"SELECT {k}, (SELECT COUNT(*) FROM s{k}), "
        + median(micros_between(f"t{k}", f"t{k - 1}"), f"s{k}")
        for k in range(2, len(query.steps) + 1)
    ]
    return f"{ctes} " + " UNION ALL ".join(selects), params


def funnel_run(*, workspace: Workspace, query: FunnelQuery) -> FunnelResult:
    """Return the people reaching each step of ``query`` in ``workspace``, the conversion from
    the previous and the first step, and the median time from the previous step."""
    sql, params = _statement(workspace.pk, query)
    with statement_limits(), connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = sorted(cursor.fetchall())
    steps, first, previous = [], rows[0][1], None
    for (number, people, micros), selection in zip(rows, query.steps, strict=True):
        steps.append(
            FunnelStep(
                number=number,
                event=selection.event,
                label=selection.label,
                people=people,
                conversion_from_previous=(
                    None if previous is None else people / previous if previous else 0.0
                ),
                conversion_from_first=people / first if first else 0.0,
                median_seconds_from_previous=None if micros is None else float(micros) / 1e6,
            )
        )
        previous = people
    return FunnelResult(query=query, steps=tuple(steps))
