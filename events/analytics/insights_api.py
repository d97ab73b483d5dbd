"""Saved insights API under ``/api/v1/analytics/insights`` (SPEC §10).

- ``GET`` (``?pinned=true|false``) lists a workspace's insights in dashboard order; ``POST``
  saves one (``name``, ``kind``, ``query``: exactly the body of the kind's analytics API, checked
  as that API checks it; ``pinned``, ``position``);
- ``GET``/``PATCH``/``DELETE .../insights/{id}`` read, change and delete one;
- ``GET .../insights/{id}/result`` answers its query now: the kind's analytics API's answer.

Secret keys act on their workspace. The admin's pages call the same endpoints with the staff
user's session (CSRF checked on writes) and the model permissions of ``SavedInsight``; they
read and write the workspace named by ``?workspace=`` (one of the user's; default: the one the
dashboard shows) and any insight of the user's workspaces by id. Errors use the native shape
``{"error": {"code", "message", "field"}}``, naming the field (``query.steps[1].event``).
"""

from django.http import Http404
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
)
from rest_framework import authentication, permissions, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from cdp.admin_scoping import user_workspaces
from cdp.api.auth import ApiKeyAuthentication, KeyPrincipal
from cdp.api.errors import service_error_response
from cdp.api.exceptions import ApiError
from cdp.api.schema import ErrorSerializer
from cdp.errors import ErrorCode, ServiceError
from cdp.ids import MAX_ID
from events.analytics.dashboard import dashboard_workspace
from events.analytics.insights import (
    insight_create,
    insight_delete,
    insight_get,
    insight_list,
    insight_result,
    insight_update,
)
from events.analytics.models import SavedInsight
from people.models import Workspace


class AdminSessionAuthentication(authentication.SessionAuthentication):
    """The admin's session, for active staff users only (CSRF enforced on writes)."""

    def authenticate(self, request):
        found = super().authenticate(request)
        if found is None or not found[0].is_staff:
            return None
        return found


class AdminSessionScheme(OpenApiAuthenticationExtension):
    target_class = "events.analytics.insights_api.AdminSessionAuthentication"
    name = "AdminSession"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "cookie",
            "name": "sessionid",
            "description": "The admin's session (staff users; send X-CSRFToken on writes).",
        }


class InsightAccess(permissions.BasePermission):
    """A secret key, or a staff user with the ``SavedInsight`` permission of the method (and
    "view analytics" for answers)."""

    message = "this endpoint needs a secret API key or the permission on saved insights"
    ACTIONS = {"GET": "view", "HEAD": "view", "OPTIONS": "view", "POST": "add"}
    ACTIONS |= {"PATCH": "change", "PUT": "change", "DELETE": "delete"}

    def has_permission(self, request, view):
        user = request.user
        if isinstance(user, KeyPrincipal):
            return user.is_secret
        if user is None or not getattr(user, "is_staff", False):
            return False
        action = getattr(view, "action_permission", None) or self.ACTIONS.get(request.method)
        if getattr(view, "reads_analytics", False) and not user.has_perm("events.view_analytics"):
            return False
        return bool(action) and user.has_perm(f"events.{action}_savedinsight")


def _scope(request) -> list[Workspace]:
    """The workspaces the caller may read insights of."""
    if isinstance(request.user, KeyPrincipal):
        return [request.user.workspace]
    return list(user_workspaces(request))


def _workspace(request) -> Workspace:
    """The workspace a list or a new insight belongs to."""
    if isinstance(request.user, KeyPrincipal):
        return request.user.workspace
    workspace = dashboard_workspace(request._request)
    if workspace is None:
        raise ApiError(
            "there is no such workspace among yours",
            status_code=status.HTTP_404_NOT_FOUND,
            code=ErrorCode.NOT_FOUND,
            field="workspace",
        )
    return workspace


def _insight(request, insight_id: int) -> SavedInsight:
    if insight_id > MAX_ID:
        raise Http404
    insight = insight_get(workspaces=_scope(request), insight_id=insight_id)
    if insight is None:
        raise Http404
    return insight


def insight_json(insight: SavedInsight) -> dict:
    """The body ``InsightOutSerializer`` describes."""
    return {
        "id": insight.pk,
        "workspace": insight.workspace_id,
        "name": insight.name,
        "kind": insight.kind,
        "query": insight.query,
        "pinned": insight.pinned,
        "position": insight.position,
        "createdTime": insight.created_at.isoformat(),
        "modifiedTime": insight.modified_at.isoformat(),
    }


# A plain string in the schema (checked by the service): an enum named "kind" would collide
# with the segments' and the keys' in the schema's component names.
KIND_HELP = "funnel, segmentation or retention (when registered)."
QUERY_HELP = (
    "Exactly the body of the kind's analytics API: POST /api/v1/analytics/funnels for a "
    "funnel, /api/v1/analytics/segmentation for a segmentation (retention: its own)."
)


class InsightInSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    kind = serializers.CharField(max_length=20, help_text=KIND_HELP)
    query = serializers.JSONField(help_text=QUERY_HELP)
    pinned = serializers.BooleanField(required=False, default=False)
    position = serializers.IntegerField(
        required=False, min_value=0, max_value=2**31 - 1, help_text="Default: last."
    )


class InsightPatchSerializer(serializers.Serializer):
    name = serializers.CharField(required=False, max_length=200)
    kind = serializers.CharField(required=False, max_length=20, help_text=KIND_HELP)
    query = serializers.JSONField(required=False, help_text=QUERY_HELP)
    pinned = serializers.BooleanField(required=False)
    position = serializers.IntegerField(required=False, min_value=0, max_value=2**31 - 1)


class InsightOutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    workspace = serializers.IntegerField()
    name = serializers.CharField()
    kind = serializers.CharField(help_text=KIND_HELP)
    query = serializers.JSONField(help_text=QUERY_HELP)
    pinned = serializers.BooleanField()
    position = serializers.IntegerField()
    createdTime = serializers.DateTimeField()
    modifiedTime = serializers.DateTimeField()


WORKSPACE = OpenApiParameter(
    "workspace",
    int,
    description="Admin session only: one of the user's workspaces (default: the dashboard's).",
)
PINNED = OpenApiParameter("pinned", bool, description="Only the pinned (true) or the others.")
ERROR = OpenApiResponse(ErrorSerializer, description="bad input, with the field")
MISSING = OpenApiResponse(ErrorSerializer, description="no such insight in the workspace")


def _validated(serializer_class, request) -> dict:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _pinned_filter(raw: str | None) -> bool | None:
    if raw in (None, ""):
        return None
    if raw in ("true", "1"):
        return True
    if raw in ("false", "0"):
        return False
    raise ApiError("give true or false", code=ErrorCode.INVALID, field="pinned")


class InsightView(APIView):
    authentication_classes = [ApiKeyAuthentication, AdminSessionAuthentication]
    permission_classes = [InsightAccess]


class InsightListCreateView(InsightView):
    @extend_schema(
        parameters=[PINNED, WORKSPACE],
        responses={200: InsightOutSerializer(many=True), 400: ERROR},
    )
    def get(self, request):
        """The workspace's saved insights, in dashboard order (position, then id)."""
        pinned = _pinned_filter(request.query_params.get("pinned"))
        rows = insight_list(workspaces=[_workspace(request)], pinned=pinned)
        return Response([insight_json(i) for i in rows])

    @extend_schema(
        parameters=[WORKSPACE],
        request=InsightInSerializer,
        responses={201: InsightOutSerializer, 400: ERROR},
        examples=[
            OpenApiExample(
                "Ticket funnel, pinned",
                request_only=True,
                value={
                    "name": "Ticket purchase",
                    "kind": "funnel",
                    "query": {
                        "steps": ["c_ticket_searched", "c_ticket_chosen", "c_checkout"],
                        "from": "2024-05-01",
                        "to": "2024-05-31",
                        "conversionWindow": {"days": 7},
                    },
                    "pinned": True,
                },
            )
        ],
    )
    def post(self, request):
        """Save a query under a name; the query is checked as its analytics API checks it."""
        data = _validated(InsightInSerializer, request)
        user = request.user if not isinstance(request.user, KeyPrincipal) else None
        insight = insight_create(workspace=_workspace(request), created_by=user, **data)
        return Response(insight_json(insight), status=status.HTTP_201_CREATED)


class InsightDetailView(InsightView):
    @extend_schema(responses={200: InsightOutSerializer, 404: MISSING})
    def get(self, request, insight_id: int):
        return Response(insight_json(_insight(request, insight_id)))

    @extend_schema(
        request=InsightPatchSerializer,
        responses={200: InsightOutSerializer, 400: ERROR, 404: MISSING},
    )
    def patch(self, request, insight_id: int):
        """Change the name, the kind and query (checked together), the pin or the position."""
        insight = _insight(request, insight_id)
        data = _validated(InsightPatchSerializer, request)
        return Response(insight_json(insight_update(insight=insight, **data)))

    @extend_schema(responses={204: None, 404: MISSING})
    def delete(self, request, insight_id: int):
        insight_delete(insight=_insight(request, insight_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class InsightResultView(InsightView):
    action_permission = "view"
    reads_analytics = True  # staff also need "view analytics"

    @extend_schema(
        responses={
            200: OpenApiResponse(
                description="The kind's analytics API's answer for the insight's query "
                "(FunnelOut, SegmentationOut…)."
            ),
            400: ERROR,
            404: MISSING,
            503: OpenApiResponse(ErrorSerializer, description="the query took too long"),
        }
    )
    def get(self, request, insight_id: int):
        """Answer the insight's query now, as its analytics API would."""
        insight = _insight(request, insight_id)
        try:
            return Response(insight_result(insight=insight))
        except ServiceError as exc:
            timeout = exc.first.code == ErrorCode.QUERY_TIMEOUT
            return service_error_response(
                exc, status.HTTP_503_SERVICE_UNAVAILABLE if timeout else status.HTTP_400_BAD_REQUEST
            )
