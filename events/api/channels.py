"""Channels API (SPEC §4, §6): where events come from (an app, a mini program, a website or a
third-party system), named in Quick Audience's ``eventSourceCode`` by their APP_KEY. List,
create, read, change and delete the workspace's own channels; a channel something was
recorded through cannot be deleted (409 naming the definitions whose events keep it). Each
channel answers its global properties: the properties declared global on its definitions,
carried to the channel's later events of a person (``events.ingestion``)."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from cdp.api.auth import SecretKeyRequired
from cdp.api.errors import ApiError, service_error_response
from cdp.api.representation import iso
from cdp.api.schema import ErrorSerializer
from cdp.errors import FieldError, ServiceError
from events.models import Channel, PropertyDefinition
from events.selectors import channel_get, channel_global_properties, channel_list
from events.services import channel_create, channel_delete, channel_update

# Service field names → the API's.
FIELDS = {"name": "name", "app_type": "appType", "app_key": "appKey"}


class GlobalPropertySerializer(serializers.Serializer):
    key = serializers.CharField()
    name = serializers.CharField()
    type = serializers.ChoiceField(choices=PropertyDefinition.Type.choices)
    definitionId = serializers.CharField(help_text="The definition that declares it.")


class ChannelOutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    appType = serializers.ChoiceField(choices=Channel.AppType.choices)
    appKey = serializers.CharField(help_text="Quick Audience's eventSourceCode names it.")
    globalProperties = GlobalPropertySerializer(
        many=True,
        help_text="Properties declared global on the channel's definitions: a value sent "
        "once is carried to the channel's later events of that person until changed.",
    )
    createdTime = serializers.DateTimeField()


class ChannelInSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    appType = serializers.ChoiceField(choices=Channel.AppType.choices)
    appKey = serializers.CharField(
        max_length=64, help_text="Unique in the workspace; eventSourceCode names it."
    )


class ChannelPatchSerializer(ChannelInSerializer):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.required = False


def channel_json(channel: Channel, global_properties: list[PropertyDefinition]) -> dict:
    """Return the body ``ChannelOutSerializer`` describes."""
    return {
        "id": channel.pk,
        "name": channel.name,
        "appType": channel.app_type,
        "appKey": channel.app_key,
        "globalProperties": [
            {
                "key": p.key,
                "name": p.name or p.key,
                "type": p.type,
                "definitionId": p.definition.definition_id,
            }
            for p in global_properties
        ],
        "createdTime": iso(channel.created_at),
    }


def _answer(channel: Channel, status_code: int = 200) -> Response:
    props = channel_global_properties(channels=[channel])[channel.pk]
    return Response(channel_json(channel, props), status=status_code)


def _refused(exc: ServiceError, status_code: int = 400) -> Response:
    """The service's error with its fields named as the API names them."""
    renamed = ServiceError(
        [FieldError(FIELDS.get(e.field, e.field), e.code, e.message) for e in exc.errors]
    )
    return service_error_response(renamed, status_code=status_code)


class ChannelListView(APIView):
    permission_classes = [SecretKeyRequired]

    @extend_schema(tags=["Channels"], responses={200: ChannelOutSerializer(many=True)})
    def get(self, request):
        """The workspace's channels, by name."""
        channels = list(channel_list(workspace=request.user.workspace))
        props = channel_global_properties(channels=channels)
        return Response([channel_json(c, props[c.pk]) for c in channels])

    @extend_schema(
        tags=["Channels"],
        request=ChannelInSerializer,
        responses={201: ChannelOutSerializer, 400: OpenApiResponse(ErrorSerializer)},
    )
    def post(self, request):
        """Create a channel (its APP_KEY is unique in the workspace)."""
        serializer = ChannelInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            channel = channel_create(
                workspace=request.user.workspace,
                name=data["name"],
                app_type=data["appType"],
                app_key=data["appKey"],
            )
        except ServiceError as exc:
            return _refused(exc)
        return _answer(channel, status.HTTP_201_CREATED)


class ChannelDetailView(APIView):
    permission_classes = [SecretKeyRequired]

    def _get(self, request, channel_id: int) -> Channel:
        channel = channel_get(workspace=request.user.workspace, channel_id=channel_id)
        if channel is None:
            raise ApiError(
                f"no channel {channel_id} in this workspace",
                code="not_found",
                field="id",
                status_code=404,
            )
        return channel

    @extend_schema(tags=["Channels"], responses={200: ChannelOutSerializer})
    def get(self, request, channel_id: int):
        return _answer(self._get(request, channel_id))

    @extend_schema(
        tags=["Channels"],
        request=ChannelPatchSerializer,
        responses={200: ChannelOutSerializer, 400: OpenApiResponse(ErrorSerializer)},
    )
    def patch(self, request, channel_id: int):
        """Change the name, application type or APP_KEY (events already stored keep the
        APP_KEY they were sent with)."""
        serializer = ChannelPatchSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        names = {api: field for field, api in FIELDS.items()}
        fields = {names[k]: v for k, v in serializer.validated_data.items()}
        channel = self._get(request, channel_id)
        try:
            channel = channel_update(channel=channel, fields=fields)
        except ServiceError as exc:
            return _refused(exc)
        return _answer(channel)

    @extend_schema(tags=["Channels"], responses={204: None, 409: OpenApiResponse(ErrorSerializer)})
    def delete(self, request, channel_id: int):
        """Delete a channel nothing was recorded through; 409 names what keeps it."""
        channel = self._get(request, channel_id)
        try:
            channel_delete(channel=channel)
        except ServiceError as exc:
            return _refused(exc, status_code=status.HTTP_409_CONFLICT)
        return Response(status=status.HTTP_204_NO_CONTENT)
