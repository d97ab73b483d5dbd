"""The analytics page of the admin and the JSON and CSV endpoints behind it and the dashboard.

The page (``templates/admin/events/analytics.html``, drawn by ``static/cdp/admin/
analytics*.js`` with the vendored Chart.js) posts the same JSON queries as the API to
``segmentation/``, ``funnels/`` and ``retention/`` and draws the answers; ``<kind>/people/``
lists the people behind one number (the API's people request) and ``people/segment/`` saves
them as a static segment (with the "add segment" permission); ``csv/`` answers a query as a
CSV file; ``dashboard/`` gives the admin index's figures. Everything needs the "view analytics"
permission and reads one of the user's workspaces (``?workspace=``, else their first one).
The JSON endpoints answer like the segment builder's (``people.segments.admin_views``): 403
instead of the login redirect, CSRF on POST, errors as ``{"error": {"code", "message",
"field"}}``.
"""

from django.core.exceptions import PermissionDenied
from django.db import DataError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.response import TemplateResponse
from django.urls import reverse

from cdp.admin_scoping import selected_workspace, user_workspaces
from cdp.api.parsing import JsonError, json_parse
from cdp.errors import ErrorCode, ServiceError
from cdp.ids import text_id
from events.analytics.dashboard import dashboard_get, dashboard_workspace
from events.analytics.funnels import funnel_run
from events.analytics.people import people_page, people_segment_create
from events.analytics.presets import FUNNEL_TEMPLATES
from events.analytics.queries import (
    funnel_people_parse,
    funnel_query_parse,
    retention_people_parse,
    retention_query_parse,
    segmentation_people_parse,
    segmentation_query_parse,
)
from events.analytics.representation import (
    funnel_csv,
    funnel_json,
    people_json,
    retention_csv,
    retention_json,
    segmentation_csv,
    segmentation_json,
)
from events.analytics.retention import retention_run
from events.analytics.segmentation import segmentation_run
from people.models import Workspace
from people.segments.selectors import segment_builder_catalogue

KINDS = {
    "segmentation": (
        segmentation_query_parse,
        segmentation_run,
        segmentation_json,
        segmentation_csv,
    ),
    "funnels": (funnel_query_parse, funnel_run, funnel_json, funnel_csv),
    "retention": (retention_query_parse, retention_run, retention_json, retention_csv),
}
PEOPLE_PARSERS = {
    "funnels": funnel_people_parse,
    "segmentation": segmentation_people_parse,
    "retention": retention_people_parse,
}


def _error(status: int, code: str, message: str, field: str | None = None) -> JsonResponse:
    return JsonResponse(
        {"error": {"code": str(code), "message": message, "field": field}}, status=status
    )


def _allowed(request: HttpRequest, model_admin) -> bool:
    return model_admin.has_view_permission(request)


def _workspace(request: HttpRequest) -> Workspace | None:
    """The workspace named by ``workspace`` (it must be one of the user's), else the first."""
    wanted = request.POST.get("workspace") or request.GET.get("workspace") or ""
    if not wanted:
        return selected_workspace(request)[0]
    if text_id(wanted) is None:
        return None
    return user_workspaces(request).filter(pk=text_id(wanted)).first()


def _run(kind: str, workspace: Workspace, data, run=None, parse=None, argument="query"):
    """Parse and run a query; return the result or an error answer."""
    parse, run = parse or KINDS[kind][0], run or KINDS[kind][1]
    try:
        return run(workspace=workspace, **{argument: parse(workspace=workspace, data=data)})
    except ServiceError as exc:
        first = exc.first
        return _error(
            503 if first.code == ErrorCode.QUERY_TIMEOUT else 400,
            first.code,
            first.message,
            first.field or None,
        )
    except (DataError, OverflowError):  # OverflowError: SQLite, an integer beyond 64 bits
        return _error(
            400,
            ErrorCode.INVALID,
            "a value cannot be compared by the database (a number too large)",
        )


def catalogue(workspace: Workspace) -> dict:
    """What the page's forms offer: definitions with their properties, operators per value
    type, segments, and the ready-made funnels whose definitions the workspace has."""
    full = segment_builder_catalogue(workspace=workspace)
    codes = {d["id"] for d in full["definitions"]}
    return {
        "workspace": full["workspace"],
        "definitions": full["definitions"],
        "operators": full["operators"],
        "segments": full["segments"],
        "funnelTemplates": [
            {"key": t.key, "name": t.name, "query": t.query}
            for t in FUNNEL_TEMPLATES
            if set(t.requires) <= codes
        ],
    }


def page_view(request: HttpRequest, model_admin):
    """The analytics page: a segmentation and a funnel form, each with a chart and a table."""
    if not _allowed(request, model_admin):
        raise PermissionDenied
    workspace, workspaces = selected_workspace(request)
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "title": "Analytics",
        "workspace": workspace,
        "workspaces": workspaces,
    }
    if workspace is not None:
        context["config"] = {
            "catalogue": catalogue(workspace),
            "urls": {kind: reverse(f"admin:events_analytics_{kind}") for kind in KINDS}
            | {f"{kind}People": reverse(f"admin:events_analytics_{kind}_people") for kind in KINDS}
            | {
                "csv": reverse("admin:events_analytics_csv"),
                "saveSegment": reverse("admin:events_analytics_people_segment"),
            },
            "canSaveSegment": request.user.has_perm("people.add_segment"),
        }
    return TemplateResponse(request, "admin/events/analytics.html", context)


def _guarded(request: HttpRequest, model_admin, method: str, pick=None) -> Workspace | JsonResponse:
    """Return the workspace a request reads (``pick(request)``, default ``_workspace``), or
    the error answer (method, permission, not one of the user's workspaces)."""
    if request.method != method:
        return _error(405, "method_not_allowed", f"use {method}")
    if not _allowed(request, model_admin):
        return _error(403, "forbidden", "you may not view analytics")
    workspace = (pick or _workspace)(request)
    if workspace is None:
        return _error(
            404, ErrorCode.NOT_FOUND, "there is no such workspace among yours", "workspace"
        )
    return workspace


def _answer(request: HttpRequest, model_admin, kind: str, raw, represent):
    workspace = _guarded(request, model_admin, "POST")
    if isinstance(workspace, JsonResponse):
        return workspace
    if kind not in KINDS:
        return _error(400, ErrorCode.INVALID, "kind is segmentation, funnels or retention", "kind")
    try:
        data = json_parse(raw() or b"null")
    except JsonError as exc:
        if exc.code == "too_deep":
            return _error(400, exc.code, f"the body is {exc}", "body")
        data = None  # answered by the query parser: send a JSON object
    result = _run(kind, workspace, data)
    return result if isinstance(result, JsonResponse) else represent(result)


def query_view(request: HttpRequest, model_admin, kind: str) -> JsonResponse:
    """POST a query (the API's JSON) → the API's answer, or 400 naming the field."""
    return _answer(
        request,
        model_admin,
        kind,
        lambda: request.body,
        lambda result: JsonResponse(KINDS[kind][2](result)),
    )


def _person_url(pk: int) -> str:
    return reverse("admin:people_person_change", args=[pk])


def _body(request: HttpRequest):
    try:
        return json_parse(request.body or b"null"), None
    except JsonError as exc:
        if exc.code == "too_deep":
            return None, _error(400, exc.code, f"the body is {exc}", "body")
        return None, None  # answered by the query parser: send a JSON object


def people_view(request: HttpRequest, model_admin, kind: str) -> JsonResponse:
    """POST a people request (the API's JSON: the query plus the keys naming the number) →
    the count and a page of people with links to their admin pages."""
    workspace = _guarded(request, model_admin, "POST")
    if isinstance(workspace, JsonResponse):
        return workspace
    data, error = _body(request)
    if error:
        return error
    result = _run(kind, workspace, data, people_page, PEOPLE_PARSERS[kind], "request")
    if isinstance(result, JsonResponse):
        return result
    return JsonResponse(people_json(result, _person_url))


def people_segment_view(request: HttpRequest, model_admin) -> JsonResponse:
    """POST ``{"kind", "query": people request, "name"}`` → a new static segment holding
    exactly those people: ``{"segment": {"id", "name", "members", "url"}}``."""
    workspace = _guarded(request, model_admin, "POST")
    if isinstance(workspace, JsonResponse):
        return workspace
    if not request.user.has_perm("people.add_segment"):
        return _error(403, "forbidden", "you may not add segments")
    data, error = _body(request)
    if error:
        return error
    if not isinstance(data, dict) or data.get("kind") not in PEOPLE_PARSERS:
        return _error(400, ErrorCode.INVALID, "kind is segmentation, funnels or retention", "kind")
    kind, name = data["kind"], data.get("name")

    def save(*, workspace, request):
        return people_segment_create(workspace=workspace, request=request, name=name)

    segment = _run(kind, workspace, data.get("query"), save, PEOPLE_PARSERS[kind], "request")
    if isinstance(segment, JsonResponse):
        return segment
    return JsonResponse(
        {
            "segment": {
                "id": segment.pk,
                "name": segment.name,
                "members": segment.member_count,
                "url": reverse("admin:people_segment_change", args=[segment.pk]),
            }
        },
        status=201,
    )


def csv_view(request: HttpRequest, model_admin) -> HttpResponse:
    """POST ``kind`` and ``query`` (form fields) → the answer's table as a CSV file."""
    kind = request.POST.get("kind", "")

    def csv_file(result) -> HttpResponse:
        response = HttpResponse(KINDS[kind][3](result), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{kind}.csv"'
        return response

    return _answer(request, model_admin, kind, lambda: request.POST.get("query"), csv_file)


def dashboard_view(request: HttpRequest, model_admin) -> JsonResponse:
    """GET: the admin index's figures for a workspace (``dashboard_workspace``: the one asked
    for, else the one last chosen…), with the workspaces to choose from."""
    workspace = _guarded(request, model_admin, "GET", pick=dashboard_workspace)
    if isinstance(workspace, JsonResponse):
        return workspace
    choices = [{"id": w.pk, "name": w.name} for w in user_workspaces(request).order_by("name")]
    return JsonResponse(
        {
            **dashboard_get(workspace=workspace),
            "workspaces": choices,
            "analyticsUrl": reverse("admin:events_analytics_changelist"),
        }
    )
