"""The people behind a number of an analytics answer (SPEC §10), and saving them as a static
segment.

Each number is read from the tables its count is read from, so the list is as long as the
number shown: a funnel step's converted people are ``s{k}`` of ``funnels.funnel_ctes`` and its
dropped-off people ``s{k-1}`` without ``s{k}``; a retention cell is ``r`` (a cohort ``c``) of
``retention.retention_ctes``; a segmentation bucket is the distinct people of the series'
events in the bucket (the breakdown's value, or the values outside its top ones for "other").
The people are paged in id order, set-based in SQL; saving reads them all and adds them with
``people.segments.services.segment_members_add``.
"""

from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import Q

from cdp.errors import ErrorCode, FieldError, ServiceError
from events.analytics.funnels import funnel_ctes
from events.analytics.queries import INTERVALS, PeopleRequest, buckets
from events.analytics.retention import retention_ctes
from events.analytics.segmentation import segmentation_run
from events.analytics.sql import PropertyText, selection_rows, statement_limits
from people.models import Person, Workspace
from people.segments.models import Segment
from people.segments.services import segment_create, segment_members_add


@dataclass(frozen=True)
class PeoplePage:
    count: int
    limit: int
    offset: int
    people: tuple[Person, ...]


def _funnel(workspace: Workspace, request: PeopleRequest) -> tuple[str, str, list]:
    ctes, params = funnel_ctes(workspace.pk, request.query)
    step, outcome = request.at
    if outcome == "converted":
        return ctes, f"SELECT person_id FROM s{step}", params
    return ctes, f"SELECT person_id FROM s{step - 1} EXCEPT SELECT person_id FROM s{step}", params


def _retention(workspace: Workspace, request: PeopleRequest) -> tuple[str, str, list]:
    ctes, params = retention_ctes(workspace.pk, request.query)
    cohort, period = request.at
    if period is None:
        return ctes, "SELECT person_id FROM c WHERE cohort = %s", [*params, cohort]
    return (
        ctes,
        "SELECT person_id FROM r WHERE cohort = %s AND period = %s",
        [*params, cohort, period],
    )


def _segmentation(workspace: Workspace, request: PeopleRequest) -> tuple[str, str, list]:
    query = request.query
    index, bucket = request.at
    if query.breakdown is None:
        if index >= len(query.events):
            raise _no_series(len(query.events))
        selection, series, top = query.events[index], None, []
    else:
        # The breakdown's top values (by events in the range) decide what each series holds.
        found = segmentation_run(workspace=workspace, query=query).series
        if index >= len(found):
            raise _no_series(len(found))
        series = found[index]
        selection = query.events[series.selection]
        top = [s.value for s in found if s.selection == series.selection and not s.other]
    start = buckets(query.start, query.end, query.interval)[bucket]
    rows = selection_rows(
        workspace_id=workspace.pk,
        selection=selection,
        start=max(start, query.start),
        end=min(start + INTERVALS[query.interval], query.end),
        segment_id=query.segment_id,
    )
    if series is not None:
        rows = rows.annotate(value=PropertyText(query.breakdown.property))
        if series.other:
            known = [v for v in top if v is not None]
            kept = Q(value__isnull=False) & ~Q(value__in=known)
            rows = rows.filter(kept if None in top else kept | Q(value__isnull=True))
        elif series.value is None:
            rows = rows.filter(value__isnull=True)
        else:
            rows = rows.filter(value=series.value)
    sql, params = rows.values("person_id").distinct().query.sql_with_params()
    return "", sql, list(params)


def _no_series(count: int) -> ServiceError:
    message = (
        f"give a whole number from 0 to {count - 1}"
        if count
        else "the answer has no series (no events in the range)"
    )
    return ServiceError(FieldError("series", ErrorCode.INVALID, message))


DRILLS = {"funnels": _funnel, "retention": _retention, "segmentation": _segmentation}


def _statement(workspace: Workspace, request: PeopleRequest, tail: str) -> tuple[str, list]:
    ctes, select, params = DRILLS[request.kind](workspace, request)
    ctes = f"{ctes}, " if ctes else "WITH "
    return f"{ctes}drill AS ({select}) {tail}", params


def _people(pks: list[int], workspace: Workspace) -> tuple[Person, ...]:
    found = Person.objects.filter(workspace=workspace, pk__in=pks).in_bulk()
    return tuple(found[pk] for pk in pks if pk in found)


def people_page(*, workspace: Workspace, request: PeopleRequest) -> PeoplePage:
    """Return how many people are behind the number ``request`` names and one page of them
    (in id order)."""
    with statement_limits(), connection.cursor() as cursor:
        sql, params = _statement(workspace, request, "SELECT COUNT(*) FROM drill")
        cursor.execute(sql, params)
        count = cursor.fetchone()[0]
        sql, params = _statement(
            workspace,
            request,
            "SELECT person_id FROM drill ORDER BY person_id LIMIT %s OFFSET %s",
        )
        cursor.execute(sql, [*params, request.limit, request.offset])
        pks = [row[0] for row in cursor.fetchall()]
    return PeoplePage(
        count=count,
        limit=request.limit,
        offset=request.offset,
        people=_people(pks, workspace),
    )


def people_ids(*, workspace: Workspace, request: PeopleRequest) -> list[int]:
    """Return the ids of every person behind the number (in id order)."""
    with statement_limits(), connection.cursor() as cursor:
        sql, params = _statement(
            workspace, request, "SELECT person_id FROM drill ORDER BY person_id"
        )
        cursor.execute(sql, params)
        return [row[0] for row in cursor.fetchall()]


def people_segment_create(*, workspace: Workspace, request: PeopleRequest, name) -> Segment:
    """Create a static segment named ``name`` in ``workspace`` holding exactly the people
    behind the number (a name already taken is an error naming ``name``)."""
    pks = people_ids(workspace=workspace, request=request)
    with transaction.atomic():
        segment = segment_create(workspace=workspace, name=name, kind=Segment.Kind.STATIC)
        segment_members_add(segment=segment, person_ids=pks)
    segment.refresh_from_db()
    return segment
