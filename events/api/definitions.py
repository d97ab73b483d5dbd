"""Event definitions API (§4, §6): list, create, retrieve, patch under the editing rules,
delete with protection. Built-in definitions answer too; PATCH ``enabled`` on one switches it
for the key's workspace."""

from django.db.models import Q
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from cdp.api.auth import SecretKeyRequired
from cdp.api.errors import ApiError, service_error_response
from cdp.api.schema import ErrorSerializer
from cdp.errors import ErrorCode, ServiceError
from events.api import schema
from events.api.representation import definition_json
from events.models import Channel, EventDefinition
from events.selectors import definition_enabled_map, definition_get, definition_list
from events.services import (
    PropertyInput,
    definition_create,
    definition_delete,
    definition_set_enabled,
    definition_update,
)


def _properties(data) -> list[PropertyInput]:
    return [
        PropertyInput(
            key=p["key"],
            name=p.get("name", ""),
            type=p["type"],
            required=p["required"],
            scope=p["scope"],
        )
        for p in data
    ]


def _channel(workspace, app_key):
    if not app_key:
        return None
    channel = Channel.objects.filter(workspace=workspace, app_key=app_key).first()
    if channel is None:
        raise ApiError(
            f"no channel with APP_KEY {app_key!r}", code=ErrorCode.INVALID, field="channel"
        )
    return channel


class DefinitionListView(APIView):
    permission_classes = [SecretKeyRequired]

    @extend_schema(responses={200: schema.DefinitionOutSerializer(many=True)})
    def get(self, request):
        """Definitions the workspace can use; filter with ``kind``, ``category``, ``q``."""
        workspace = request.user.workspace
        query = (
            definition_list(workspace=workspace)
            .select_related("channel")
            .prefetch_related("properties")
        )
        if kind := request.GET.get("kind"):
            query = query.filter(kind=kind)
        if category := request.GET.get("category"):
            query = query.filter(category=category)
        if q := request.GET.get("q"):
            query = query.filter(Q(name__icontains=q) | Q(definition_id__icontains=q))
        definitions = list(query.order_by("kind", "definition_id"))
        enabled = definition_enabled_map(workspace=workspace, definitions=definitions)
        return Response([definition_json(d, enabled=enabled[d.pk]) for d in definitions])

    @extend_schema(
        request=schema.DefinitionInSerializer,
        responses={
            201: schema.DefinitionOutSerializer,
            400: OpenApiResponse(ErrorSerializer),
        },
    )
    def post(self, request):
        """Create a custom definition (id starting with ``c_``, ≤ 5 properties)."""
        serializer = schema.DefinitionInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        workspace = request.user.workspace
        definition = definition_create(
            workspace=workspace,
            definition_id=data["definitionId"],
            name=data["name"],
            description=data["description"],
            properties=_properties(data["properties"]),
            channel=_channel(workspace, data["channel"]),
            default_score=data["defaultScore"],
            lifecycle_stage=data["lifecycleStage"],
            enabled=data["enabled"],
        )
        return Response(definition_json(definition), status=status.HTTP_201_CREATED)


class DefinitionDetailView(APIView):
    permission_classes = [SecretKeyRequired]

    def _get(self, request, definition_id: str) -> EventDefinition:
        definition = definition_get(workspace=request.user.workspace, definition_id=definition_id)
        if definition is None:
            raise ApiError(
                f"no definition {definition_id!r}",
                code="not_found",
                field="definitionId",
                status_code=404,
            )
        return definition

    def _answer(self, request, definition):
        enabled = definition_enabled_map(
            workspace=request.user.workspace, definitions=[definition]
        )[definition.pk]
        return Response(definition_json(definition, enabled=enabled))

    @extend_schema(responses={200: schema.DefinitionOutSerializer})
    def get(self, request, definition_id: str):
        return self._answer(request, self._get(request, definition_id))

    @extend_schema(
        request=schema.DefinitionPatchSerializer,
        responses={
            200: schema.DefinitionOutSerializer,
            400: OpenApiResponse(ErrorSerializer),
        },
    )
    def patch(self, request, definition_id: str):
        """Change names, description, score, stage, ``enabled``; add properties. Ids, keys
        and types never change and properties are never deleted."""
        serializer = schema.DefinitionPatchSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        definition = self._get(request, definition_id)
        workspace = request.user.workspace
        if definition.workspace_id != workspace.pk and set(data) <= {"enabled"}:
            # Built-in or inherited definitions: only this workspace's switch changes.
            if "enabled" in data:
                definition_set_enabled(
                    workspace=workspace, definition=definition, enabled=data["enabled"]
                )
            return self._answer(request, definition)
        if definition.workspace_id != workspace.pk:
            raise ApiError(
                "only enabled can change on a built-in or parent definition",
                code=ErrorCode.IMMUTABLE,
                field="definitionId",
            )
        names = {
            "definitionId": "definition_id",
            "name": "name",
            "description": "description",
            "defaultScore": "default_score",
            "lifecycleStage": "lifecycle_stage",
            "enabled": "enabled",
        }
        fields = {names[k]: v for k, v in data.items() if k in names}
        properties = _properties(data["properties"]) if "properties" in data else ()
        if properties:
            # A PATCH may list only new properties: keep the others as they are.
            listed = {p.key for p in properties}
            kept = [
                PropertyInput(
                    key=p.key, name=p.name, type=p.type, required=p.required, scope=p.scope
                )
                for p in definition.properties.all()
                if p.key not in listed
            ]
            properties = kept + properties
        definition = definition_update(definition=definition, fields=fields, properties=properties)
        return self._answer(request, definition)

    @extend_schema(responses={204: None, 409: OpenApiResponse(ErrorSerializer)})
    def delete(self, request, definition_id: str):
        """Delete an unused custom definition; 409 names what still uses it."""
        definition = self._get(request, definition_id)
        if definition.workspace_id != request.user.workspace.pk:
            raise ApiError(
                "built-in and parent definitions cannot be deleted here",
                code=ErrorCode.PROTECTED,
                field="definitionId",
                status_code=409,
            )
        try:
            definition_delete(definition=definition)
        except ServiceError as exc:
            return service_error_response(exc, status_code=status.HTTP_409_CONFLICT)
        return Response(status=status.HTTP_204_NO_CONTENT)
