"""Saved insights (SPEC §10): named analytics queries of a workspace, pinned to the admin
index's dashboard.

``INSIGHT_KINDS`` maps a kind to how its query is described, checked, answered and shown: the
request serializer of its analytics API (for the schema), the query parser (the same checks as
the API, naming the field), the run and the JSON answer. An insight's ``query`` is exactly the
body of that API, so its result is that API's answer for the same body. A kind is registered in
one line::

    insight_kind_register("funnel", FunnelInSerializer, funnel_query_parse, funnel_run, funnel_json)

Services (``insight_create``, ``insight_update``, ``insight_delete``, ``insights_pin``) check
their input and raise ``ServiceError`` naming the field (``name``, ``kind``, ``query.steps[1]``);
selectors (``insight_list``, ``insight_get``) and ``insight_result`` read.
"""

from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

from django.db import DataError, transaction
from django.db.models import Max, QuerySet

from cdp.errors import ErrorCode, FieldError, ServiceError
from events.analytics.api import (
    FunnelInSerializer,
    RetentionInSerializer,
    SegmentationInSerializer,
)
from events.analytics.funnels import funnel_run
from events.analytics.models import SavedInsight
from events.analytics.queries import (
    funnel_query_parse,
    retention_query_parse,
    segmentation_query_parse,
)
from events.analytics.representation import funnel_json, retention_json, segmentation_json
from events.analytics.retention import retention_run
from events.analytics.segmentation import segmentation_run
from people.models import Workspace

NAME_MAX = 200


class InsightKind(NamedTuple):
    """How one kind of insight is described, checked, answered and shown."""

    serializer: type  # the analytics API's request serializer (the query's schema)
    parse: Callable[..., Any]  # (workspace=, data=) → a checked query; ServiceError naming fields
    run: Callable[..., Any]  # (workspace=, query=) → the result
    render: Callable[[Any], dict]  # result → the analytics API's JSON answer


INSIGHT_KINDS: dict[str, InsightKind] = {}


def insight_kind_register(kind: str, serializer, parse, run, render) -> None:
    """Make ``kind`` (one of ``SavedInsight.Kind``) available to saved insights."""
    if kind not in SavedInsight.Kind.values:
        raise ValueError(f"{kind!r} is not a kind of SavedInsight")
    INSIGHT_KINDS[kind] = InsightKind(serializer, parse, run, render)


insight_kind_register("funnel", FunnelInSerializer, funnel_query_parse, funnel_run, funnel_json)
insight_kind_register(
    "segmentation",
    SegmentationInSerializer,
    segmentation_query_parse,
    segmentation_run,
    segmentation_json,
)
insight_kind_register(
    "retention", RetentionInSerializer, retention_query_parse, retention_run, retention_json
)


def _fail(field: str, message: str, code: str = ErrorCode.INVALID) -> ServiceError:
    return ServiceError(FieldError(field, code, message))


def _in_query(exc: ServiceError) -> ServiceError:
    """The parser's errors, named as fields of ``query``."""
    return ServiceError(
        [
            FieldError(f"query.{e.field}" if e.field else "query", e.code, e.message)
            for e in exc.errors
        ]
    )


def _kind(kind) -> InsightKind:
    if not isinstance(kind, str) or kind not in INSIGHT_KINDS:
        raise _fail("kind", "give one of " + ", ".join(sorted(INSIGHT_KINDS)))
    return INSIGHT_KINDS[kind]


def _name(name) -> str:
    if not isinstance(name, str) or not name.strip():
        raise _fail("name", "give the insight a name", ErrorCode.REQUIRED)
    if "\x00" in name:
        raise _fail("name", "remove the NUL character (\\u0000)")
    if len(name.strip()) > NAME_MAX:
        raise _fail("name", f"at most {NAME_MAX} characters", ErrorCode.TOO_LONG)
    return name.strip()


def insight_query_check(*, workspace: Workspace, kind: str, query) -> None:
    """Check ``query`` as the kind's analytics API would; raise ``ServiceError`` naming the
    field (``query.…``)."""
    try:
        _kind(kind).parse(workspace=workspace, data=query)
    except ServiceError as exc:
        raise _in_query(exc) from None


def _next_position(workspace: Workspace) -> int:
    last = SavedInsight.objects.filter(workspace=workspace).aggregate(last=Max("position"))
    return (last["last"] or 0) + 1


def insight_create(
    *,
    workspace: Workspace,
    name,
    kind,
    query,
    pinned: bool = False,
    position: int | None = None,
    created_by=None,
) -> SavedInsight:
    """Save a checked query under a name; it goes last on the dashboard unless placed."""
    name = _name(name)
    _kind(kind)
    insight_query_check(workspace=workspace, kind=kind, query=query)
    return SavedInsight.objects.create(
        workspace=workspace,
        name=name,
        kind=kind,
        query=query,
        pinned=bool(pinned),
        position=_next_position(workspace) if position is None else position,
        created_by=created_by if getattr(created_by, "pk", None) else None,
    )


def insight_update(*, insight: SavedInsight, **changes) -> SavedInsight:
    """Change the name, kind and query (checked together), pin and position."""
    unknown = set(changes) - {"name", "kind", "query", "pinned", "position"}
    if unknown:
        raise ValueError(f"cannot change {sorted(unknown)}")
    if "name" in changes:
        insight.name = _name(changes["name"])
    if "kind" in changes or "query" in changes:
        kind = changes.get("kind", insight.kind)
        query = changes.get("query", insight.query)
        _kind(kind)
        insight_query_check(workspace=insight.workspace, kind=kind, query=query)
        insight.kind, insight.query = kind, query
    if "pinned" in changes:
        insight.pinned = bool(changes["pinned"])
    if "position" in changes:
        insight.position = changes["position"]
    insight.save()
    return insight


def insight_delete(*, insight: SavedInsight) -> None:
    insight.delete()


def insights_pin(*, insights: Iterable[SavedInsight] | QuerySet, pinned: bool) -> int:
    """Pin (or unpin) insights; return how many changed."""
    ids = [i.pk for i in insights if i.pinned != pinned]
    with transaction.atomic():
        return SavedInsight.objects.filter(pk__in=ids).update(pinned=pinned)


def insight_list(
    *, workspaces: QuerySet | Iterable[Workspace], pinned: bool | None = None
) -> QuerySet[SavedInsight]:
    """The insights of the workspaces, in dashboard order."""
    rows = SavedInsight.objects.filter(workspace__in=workspaces)
    if pinned is not None:
        rows = rows.filter(pinned=pinned)
    return rows.order_by("position", "pk")


def insight_get(*, workspaces: QuerySet | Iterable[Workspace], insight_id) -> SavedInsight | None:
    return (
        SavedInsight.objects.filter(workspace__in=workspaces, pk=insight_id)
        .select_related("workspace")
        .first()
    )


def insight_result(*, insight: SavedInsight) -> dict:
    """Answer the insight's query now: the kind's analytics API's answer for the same body.
    Raises ``ServiceError`` naming the field of ``query`` (a definition deleted since it was
    saved, a query that took too long: ``query_timeout``)."""
    kind = _kind(insight.kind)
    workspace = insight.workspace
    try:
        query = kind.parse(workspace=workspace, data=insight.query)
        result = kind.run(workspace=workspace, query=query)
    except ServiceError as exc:
        raise _in_query(exc) from None
    except (DataError, OverflowError):  # OverflowError: SQLite, an integer beyond 64 bits
        raise _fail(
            "query", "a value cannot be compared by the database (a number too large)"
        ) from None
    return kind.render(result)
