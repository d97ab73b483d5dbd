"""JSON endpoints behind the segments admin, and the members CSV.

The rule builder (``static/cdp/admin/segment_builder.js``) reads its catalogue and asks for a
preview count; the change page's "Refresh now" queues a refresh and polls its state. They are
wired in ``SegmentAdmin.get_urls`` and answer JSON only: staff sessions (403 otherwise, not the
admin's login redirect, since a script reads the answer), CSRF on POST, the workspace of the
segment or one of the user's (superusers name the one chosen on the add form), never another.
Writes go through ``people.segments.services``; rule errors come back as ``400 {"error":
{"code", "message", "field"}}`` with the path of the bad node, never a 500.
"""

import functools
import logging

from django.contrib.admin.utils import unquote
from django.db import DataError, transaction
from django.http import HttpRequest, JsonResponse, StreamingHttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect

from cdp import csvfile
from cdp.admin_scoping import default_workspace, user_workspaces
from cdp.api.parsing import JsonError, json_parse
from cdp.errors import ErrorCode, ServiceError
from cdp.ids import text_id
from people.errors import SegmentErrorCode
from people.models import Workspace
from people.segments.models import Segment, SegmentMembership
from people.segments.selectors import segment_builder_catalogue, segment_refresh_state
from people.segments.services import segment_preview, segment_refresh_queue

logger = logging.getLogger(__name__)


class _Refused(Exception):
    """Stop a view with a JSON error answer."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None):
        super().__init__(message)
        self.response = _error(status, code, message, field)


def _error(status: int, code: str, message: str, field: str | None = None) -> JsonResponse:
    return JsonResponse(
        {"error": {"code": str(code), "message": message, "field": field}}, status=status
    )


def json_admin_view(model_admin, view):
    """Wrap ``view(request, model_admin, …)`` as a staff-only JSON endpoint of the admin."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs):
        if not model_admin.admin_site.has_permission(request):
            return _error(403, "forbidden", "log in to the admin as a staff user")
        try:
            return view(request, model_admin, *args, **kwargs)
        except _Refused as refused:
            return refused.response

    return csrf_protect(never_cache(wrapped))


def _method(request: HttpRequest, method: str) -> None:
    if request.method != method:
        raise _Refused(405, "method_not_allowed", f"use {method}")


def _segment(request: HttpRequest, model_admin, object_id: str) -> Segment:
    segment = model_admin.get_object(request, unquote(object_id))  # workspace-scoped
    if segment is None:
        raise _Refused(404, "not_found", "there is no such segment in your workspaces")
    return segment


def _target(request: HttpRequest, model_admin) -> tuple[Workspace, Segment | None]:
    """Return the workspace the builder works in: the edited segment's (``?segment=``), the
    one chosen on the add form (``?workspace=``), or the user's only one."""
    if request.GET.get("segment"):
        segment = _segment(request, model_admin, request.GET["segment"])
        return segment.workspace, segment
    wanted = request.GET.get("workspace", "")
    if wanted:
        workspace = (
            user_workspaces(request).filter(pk=text_id(wanted)).first()
            if text_id(wanted) is not None
            else None
        )
        if workspace is None:
            raise _Refused(404, "not_found", "there is no such workspace among yours", "workspace")
        return workspace, None
    workspace = default_workspace(request)
    if workspace is None:
        raise _Refused(400, ErrorCode.REQUIRED, "choose a workspace first", "workspace")
    return workspace, None


def catalogue_view(request: HttpRequest, model_admin) -> JsonResponse:
    """GET: what the builder offers in the workspace (see ``segment_builder_catalogue``)."""
    _method(request, "GET")
    workspace, segment = _target(request, model_admin)
    allowed = model_admin.has_view_or_change_permission(request, segment) or (
        segment is None and model_admin.has_add_permission(request)
    )
    if not allowed:
        raise _Refused(403, "forbidden", "you may not view segments")
    return JsonResponse(segment_builder_catalogue(workspace=workspace, segment=segment))


def preview_view(request: HttpRequest, model_admin) -> JsonResponse:
    """POST ``{"rules": …}``: ``{"count": N}`` people the unsaved rules select now, or 400
    naming the bad node. When editing a segment the rules are checked as its save will be
    (including cycles through other segments)."""
    _method(request, "POST")
    workspace, segment = _target(request, model_admin)
    allowed = (
        model_admin.has_change_permission(request, segment)
        if segment is not None
        else model_admin.has_add_permission(request)
    )
    if not allowed:
        raise _Refused(403, "forbidden", "you may not edit segments")
    try:
        body = json_parse(request.body or b"null")
    except JsonError as exc:
        if exc.code == "too_deep":
            return _error(400, exc.code, f"the body is {exc}", "body")
        body = None
    if not isinstance(body, dict):
        return _error(400, ErrorCode.INVALID, 'send a JSON object {"rules": …}')
    rules = body.get("rules")
    try:
        # A savepoint: a value the database refuses must not break the request's connection.
        with transaction.atomic():
            count = segment_preview(workspace=workspace, rules=rules, segment=segment)
    except ServiceError as exc:
        first = exc.first
        return _error(400, first.code, first.message, first.field)
    except (DataError, OverflowError) as exc:  # OverflowError: SQLite, beyond 64 bits
        logger.info("segment preview refused by the database: %s", exc)
        return _error(
            400,
            SegmentErrorCode.INVALID_VALUE,
            "a value cannot be compared by the database (a number too large, or a NUL character)",
            "rules",
        )
    return JsonResponse({"count": count})


def refresh_view(request: HttpRequest, model_admin, object_id: str) -> JsonResponse:
    """POST: queue a full refresh and answer its state (202). With in-process Celery the
    refresh has already run when this answers; its failure is in the state, not a 500."""
    _method(request, "POST")
    segment = _segment(request, model_admin, object_id)
    if not model_admin.has_change_permission(request, segment):
        raise _Refused(403, "forbidden", "you may not refresh segments")
    if not segment.is_dynamic:
        raise _Refused(
            400,
            SegmentErrorCode.SEGMENT_KIND,
            "a static segment changes only through its list of members",
        )
    try:
        segment_refresh_queue(segment=segment)
    except Exception:
        # Eager Celery propagates the task's error; the refresh has recorded it on the segment.
        logger.warning("refresh of segment %s failed", segment.pk, exc_info=True)
    return JsonResponse(segment_refresh_state(segment=segment), status=202)


def refresh_status_view(request: HttpRequest, model_admin, object_id: str) -> JsonResponse:
    """GET: ``{status, progress, error, memberCount, lastRefreshedTime}`` of the segment."""
    _method(request, "GET")
    segment = _segment(request, model_admin, object_id)
    if not model_admin.has_view_or_change_permission(request, segment):
        raise _Refused(403, "forbidden", "you may not view segments")
    return JsonResponse(segment_refresh_state(segment=segment))


class _Echo:
    """A file-like object whose ``write`` returns the line (for streaming ``csv.writer``)."""

    def write(self, value: str) -> str:
        return value


def members_csv_response(segments: dict[int, str]) -> StreamingHttpResponse:
    """Stream the current members of ``segments`` (id → name), rows read in chunks."""
    rows = (
        SegmentMembership.objects.filter(segment_id__in=segments, exited_at__isnull=True)
        .order_by("segment_id", "person_id")
        .values_list("segment_id", "person_id", "person__external_id", "entered_at")
    )
    writer = csvfile.writer(_Echo())

    def lines():
        yield writer.writerow(["segment", "person_id", "external_id", "entered_at"])
        for segment_id, person_id, external_id, entered in rows.iterator(chunk_size=5000):
            yield writer.writerow(
                [segments[segment_id], person_id, external_id or "", entered.isoformat()]
            )

    response = StreamingHttpResponse(lines(), content_type="text/csv")
    response["Content-Disposition"] = 'attachment; filename="segment-members.csv"'
    return response


def members_csv_view(request: HttpRequest, model_admin, object_id: str):
    """GET: the segment's current members as CSV (the change page's "Export CSV" link)."""
    _method(request, "GET")
    segment = _segment(request, model_admin, object_id)
    if not model_admin.has_view_or_change_permission(request, segment):
        raise _Refused(403, "forbidden", "you may not view segments")
    return members_csv_response({segment.pk: segment.name})
