"""Native exports API (SPEC §9 fixed contract), secret keys only.

- ``POST /api/v1/exports/events`` → 201 ``{"requestId", "status"}``
- ``GET /api/v1/exports/events/{requestId}`` → ``{"requestId", "status", "files",
  "eventCount", "progress", "error"}``
- ``DELETE /api/v1/exports/events/{requestId}`` → 202 with that state: a pending export is
  cancelled at once, a running one stops after its current file (409 once finished)
- ``GET /api/v1/exports/definitions`` → the definitions whose events can be exported
"""

from datetime import UTC

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from cdp.api.auth import SecretKeyRequired
from cdp.api.errors import ApiError, service_error_response
from cdp.api.schema import ErrorSerializer
from cdp.errors import ErrorCode, ServiceError
from events.api.representation import definition_json
from events.api.schema import DefinitionOutSerializer
from events.exports.selectors import export_definitions, export_get, export_state
from events.exports.services import (
    BUCKET_RE,
    EXTERNAL_ID_RE,
    REGION_RE,
    ROLE_ARN_RE,
    ExportSpec,
    export_cancel,
    export_submit,
)
from events.selectors import definition_enabled_map


class UtcDateTimeField(serializers.DateTimeField):
    """An ISO-8601 time that also exists in UTC (``0001-01-01T00:00+05:00`` does not)."""

    def to_internal_value(self, value):
        parsed = super().to_internal_value(value)
        try:
            parsed.astimezone(UTC)
        except OverflowError as exc:
            raise serializers.ValidationError("is out of range", code="invalid") from exc
        return parsed


class ExportInSerializer(serializers.Serializer):
    startTime = UtcDateTimeField(help_text="Events that occurred at or after this time.")
    endTime = UtcDateTimeField(help_text="…and before this time (exclusive).")
    definitionIds = serializers.ListField(
        child=serializers.CharField(max_length=32),
        required=False,
        default=list,
        max_length=1000,
        help_text="Definition ids to export; empty or absent: all.",
    )
    # Patterns here describe the input in the schema; the service checks the same rules.
    bucket = serializers.RegexField(
        BUCKET_RE,
        required=False,
        allow_blank=True,
        allow_null=True,
        max_length=63,
        help_text="S3 bucket. Absent: the server's default bucket, else its local folder.",
    )
    region = serializers.RegexField(
        REGION_RE, required=False, allow_blank=True, allow_null=True, max_length=32
    )
    path = serializers.CharField(
        required=False,
        allow_blank=True,
        allow_null=True,
        max_length=400,
        help_text="Key prefix, e.g. exports/daily.",
    )
    roleArn = serializers.RegexField(
        ROLE_ARN_RE,
        required=False,
        allow_blank=True,
        allow_null=True,
        max_length=2048,
        help_text="IAM role to assume (STS AssumeRole).",
    )
    externalId = serializers.RegexField(
        EXTERNAL_ID_RE,
        required=False,
        allow_blank=True,
        allow_null=True,
        max_length=1224,
        help_text="External id the role requires.",
    )
    enrichWithMomentsInfo = serializers.BooleanField(required=False, default=False)


class ExportCreatedSerializer(serializers.Serializer):
    requestId = serializers.UUIDField()
    status = serializers.CharField()


class ExportStateSerializer(serializers.Serializer):
    requestId = serializers.UUIDField()
    status = serializers.ChoiceField(
        choices=["pending", "running", "completed", "failed", "cancelled"]
    )
    files = serializers.ListField(
        child=serializers.CharField(), help_text="Names of the files written so far."
    )
    eventCount = serializers.IntegerField(help_text="Events written so far.")
    progress = serializers.IntegerField(help_text="Percent of the events written.")
    error = serializers.CharField(allow_null=True)


def _spec(data: dict) -> ExportSpec:
    return ExportSpec(
        start_time=data["startTime"],
        end_time=data["endTime"],
        definition_ids=tuple(data["definitionIds"]),
        bucket=data.get("bucket") or "",
        region=data.get("region") or "",
        path=data.get("path") or "",
        role_arn=data.get("roleArn") or "",
        external_id=data.get("externalId") or "",
        enrich_with_moments_info=data["enrichWithMomentsInfo"],
    )


class ExportCreateView(APIView):
    permission_classes = [SecretKeyRequired]

    @extend_schema(
        request=ExportInSerializer,
        responses={
            201: ExportCreatedSerializer,
            400: OpenApiResponse(ErrorSerializer, description="bad input, with the field"),
        },
    )
    def post(self, request):
        """Request an export of the workspace's events to S3 (or the server's folder)."""
        serializer = ExportInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        export = export_submit(
            workspace=request.user.workspace, spec=_spec(serializer.validated_data)
        )
        export.refresh_from_db()  # in-process Celery has already run it
        return Response(
            {"requestId": str(export.request_id), "status": export.status},
            status=status.HTTP_201_CREATED,
        )


class ExportDetailView(APIView):
    permission_classes = [SecretKeyRequired]

    def _get(self, request, request_id: str):
        export = export_get(workspace=request.user.workspace, request_id=request_id)
        if export is None:
            raise ApiError(
                f"no export {request_id!r}",
                code=ErrorCode.NOT_FOUND,
                field="requestId",
                status_code=404,
            )
        return export

    @extend_schema(responses={200: ExportStateSerializer, 404: OpenApiResponse(ErrorSerializer)})
    def get(self, request, request_id: str):
        """Status of an export: files and events written, progress, error."""
        return Response(export_state(export=self._get(request, request_id)))

    @extend_schema(
        request=None,
        responses={
            202: ExportStateSerializer,
            404: OpenApiResponse(ErrorSerializer),
            409: OpenApiResponse(ErrorSerializer),
        },
    )
    def delete(self, request, request_id: str):
        """Cancel an export: a running one stops after the file it is writing."""
        try:
            export = export_cancel(export=self._get(request, request_id))
        except ServiceError as exc:
            return service_error_response(exc, status_code=status.HTTP_409_CONFLICT)
        return Response(export_state(export=export), status=status.HTTP_202_ACCEPTED)


class ExportDefinitionsView(APIView):
    permission_classes = [SecretKeyRequired]

    @extend_schema(responses={200: DefinitionOutSerializer(many=True)})
    def get(self, request):
        """Definitions whose events can be exported (``definitionIds`` of a request)."""
        workspace = request.user.workspace
        definitions = list(
            export_definitions(workspace=workspace)
            .select_related("channel")
            .prefetch_related("properties")
            .order_by("kind", "definition_id")
        )
        enabled = definition_enabled_map(workspace=workspace, definitions=definitions)
        return Response([definition_json(d, enabled=enabled[d.pk]) for d in definitions])
