"""Native people API (§3, §6): create, update, retrieve by id or any identifier, list and
search, identifiers, tags; custom attribute definitions."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from cdp.api.auth import SecretKeyRequired
from cdp.api.errors import ApiError
from cdp.api.schema import ErrorSerializer
from cdp.errors import ErrorCode
from people.api.representation import person_json
from people.models import AttributeDefinition, Person
from people.selectors import person_list, person_lookup, person_search
from people.services import (
    STANDARD_ATTRIBUTES,
    attribute_definition_create,
    identifier_add,
    identifier_remove,
    person_create,
    person_update,
    tags_add,
    tags_remove,
)


class PersonInSerializer(serializers.Serializer):
    externalId = serializers.CharField(required=False, allow_null=True, max_length=255)
    identifiers = serializers.DictField(child=serializers.CharField(), required=False, default=dict)
    attributes = serializers.DictField(
        required=False,
        default=dict,
        help_text="Standard attributes: " + ", ".join(STANDARD_ATTRIBUTES),
    )
    customAttributes = serializers.DictField(required=False, default=dict)
    tags = serializers.ListField(
        child=serializers.CharField(max_length=64), required=False, default=list
    )


class PersonPatchSerializer(serializers.Serializer):
    attributes = serializers.DictField(required=False, default=dict)
    customAttributes = serializers.DictField(required=False, default=dict)


class PersonIdentifierOutSerializer(serializers.Serializer):
    type = serializers.CharField()
    value = serializers.CharField()


class PersonOutSerializer(serializers.Serializer):
    """A person as ``people.api.representation.person_json`` answers it
    (tests/test_api_shapes.py holds the two together)."""

    id = serializers.IntegerField()
    externalId = serializers.CharField(allow_null=True)
    identifiers = PersonIdentifierOutSerializer(many=True)
    attributes = serializers.DictField(
        help_text="Standard attributes: " + ", ".join(STANDARD_ATTRIBUTES) + " (null when unset)."
    )
    customAttributes = serializers.DictField()
    tags = serializers.ListField(child=serializers.CharField())
    lifecycleStage = serializers.CharField(allow_null=True)
    score = serializers.IntegerField()
    firstSeenTime = serializers.DateTimeField(allow_null=True)
    lastSeenTime = serializers.DateTimeField(allow_null=True)
    createdTime = serializers.DateTimeField()
    modifiedTime = serializers.DateTimeField()


class IdentifierSerializer(serializers.Serializer):
    type = serializers.CharField()
    value = serializers.CharField(max_length=255)


class TagsSerializer(serializers.Serializer):
    tags = serializers.ListField(child=serializers.CharField(max_length=64), allow_empty=False)


class AttributeDefinitionSerializer(serializers.Serializer):
    key = serializers.SlugField(max_length=64)
    name = serializers.CharField(max_length=100)
    type = serializers.ChoiceField(choices=AttributeDefinition.Type.values)


def _unknown_standard(attributes: dict) -> None:
    unknown = sorted(set(attributes) - set(STANDARD_ATTRIBUTES))
    if unknown:
        raise ApiError(
            "unknown standard attribute; custom ones go in customAttributes",
            code=ErrorCode.UNKNOWN_PROPERTY,
            field=f"attributes.{unknown[0]}",
        )


class PeoplePagination(LimitOffsetPagination):
    # Bounded: an unbounded ?limit= reads everyone (and overflows SQLite's integers).
    max_limit = 1000


class PersonListCreateView(generics.GenericAPIView):
    permission_classes = [SecretKeyRequired]
    pagination_class = PeoplePagination
    serializer_class = PersonOutSerializer

    @extend_schema(
        parameters=[
            OpenApiParameter("q", str, description="search identifiers, external id and names")
        ],
        responses={200: PersonOutSerializer(many=True)},
    )
    def get(self, request):
        workspace = request.user.workspace
        q = request.GET.get("q", "")
        query = (
            person_search(workspace=workspace, query=q) if q else person_list(workspace=workspace)
        )
        page = self.paginate_queryset(query.order_by("-id"))
        return self.get_paginated_response([person_json(p) for p in page])

    @extend_schema(
        request=PersonInSerializer,
        responses={201: PersonOutSerializer, 400: OpenApiResponse(ErrorSerializer)},
    )
    def post(self, request):
        serializer = PersonInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        _unknown_standard(data["attributes"])
        person = person_create(
            workspace=request.user.workspace,
            external_id=data.get("externalId"),
            identifiers=data["identifiers"],
            standard=data["attributes"],
            attributes=data["customAttributes"],
            tags=data["tags"],
        )
        return Response(person_json(person), status=status.HTTP_201_CREATED)


def _person(request, person_id: int) -> Person:
    return get_object_or_404(person_list(workspace=request.user.workspace), pk=person_id)


class PersonDetailView(APIView):
    permission_classes = [SecretKeyRequired]

    @extend_schema(responses={200: PersonOutSerializer})
    def get(self, request, person_id: int):
        return Response(person_json(_person(request, person_id)))

    @extend_schema(
        request=PersonPatchSerializer,
        responses={200: PersonOutSerializer, 400: OpenApiResponse(ErrorSerializer)},
    )
    def patch(self, request, person_id: int):
        """Update standard attributes and custom attributes (``null`` removes one)."""
        person = _person(request, person_id)
        serializer = PersonPatchSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        _unknown_standard(data["attributes"])
        person_update(
            person=person, standard=data["attributes"], attributes=data["customAttributes"]
        )
        return Response(person_json(_person(request, person_id)))


class PersonLookupView(APIView):
    permission_classes = [SecretKeyRequired]

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "type",
                str,
                required=True,
                description="email, phone, push, anonymous_id, external_id, …",
            ),
            OpenApiParameter("value", str, required=True),
        ],
        responses={200: PersonOutSerializer, 404: OpenApiResponse(ErrorSerializer)},
    )
    def get(self, request):
        """The person with an identifier, e.g. ``?type=email&value=ann@example.com``."""
        type_, value = request.GET.get("type"), request.GET.get("value")
        if not type_:
            raise ApiError("is required", code=ErrorCode.REQUIRED, field="type")
        if not value:
            raise ApiError("is required", code=ErrorCode.REQUIRED, field="value")
        person = person_lookup(workspace=request.user.workspace, type=type_, value=value)
        if person is None:
            raise ApiError(
                "no person has this identifier",
                code=ErrorCode.PERSON_NOT_FOUND,
                field="value",
                status_code=404,
            )
        return Response(person_json(person))


class PersonIdentifiersView(APIView):
    permission_classes = [SecretKeyRequired]

    @extend_schema(responses={200: IdentifierSerializer(many=True)})
    def get(self, request, person_id: int):
        person = _person(request, person_id)
        return Response([{"type": i.type, "value": i.value} for i in person.identifiers.all()])

    @extend_schema(
        request=IdentifierSerializer,
        responses={201: PersonOutSerializer, 400: OpenApiResponse(ErrorSerializer)},
    )
    def post(self, request, person_id: int):
        person = _person(request, person_id)
        serializer = IdentifierSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        identifier_add(
            person=person,
            type=serializer.validated_data["type"],
            value=serializer.validated_data["value"],
        )
        return Response(person_json(_person(request, person_id)), status=201)

    @extend_schema(request=IdentifierSerializer, responses={200: PersonOutSerializer})
    def delete(self, request, person_id: int):
        person = _person(request, person_id)
        serializer = IdentifierSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        identifier_remove(
            person=person,
            type=serializer.validated_data["type"],
            value=serializer.validated_data["value"],
        )
        return Response(person_json(_person(request, person_id)))


class PersonTagsView(APIView):
    permission_classes = [SecretKeyRequired]

    @extend_schema(responses={200: TagsSerializer})
    def get(self, request, person_id: int):
        return Response({"tags": sorted(t.name for t in _person(request, person_id).tags.all())})

    @extend_schema(request=TagsSerializer, responses={200: TagsSerializer})
    def post(self, request, person_id: int):
        serializer = TagsSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        tags_add(person=_person(request, person_id), names=serializer.validated_data["tags"])
        return self.get(request, person_id)

    @extend_schema(request=TagsSerializer, responses={200: TagsSerializer})
    def delete(self, request, person_id: int):
        serializer = TagsSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        tags_remove(person=_person(request, person_id), names=serializer.validated_data["tags"])
        return self.get(request, person_id)


class AttributeDefinitionsView(APIView):
    permission_classes = [SecretKeyRequired]

    @extend_schema(responses={200: AttributeDefinitionSerializer(many=True)})
    def get(self, request):
        query = AttributeDefinition.objects.filter(workspace=request.user.workspace)
        return Response([{"key": a.key, "name": a.name, "type": a.type} for a in query])

    @extend_schema(
        request=AttributeDefinitionSerializer,
        responses={201: AttributeDefinitionSerializer, 400: OpenApiResponse(ErrorSerializer)},
    )
    def post(self, request):
        serializer = AttributeDefinitionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if AttributeDefinition.objects.filter(
            workspace=request.user.workspace, key=data["key"]
        ).exists():
            raise ApiError(
                "an attribute with this key exists", code=ErrorCode.DUPLICATE, field="key"
            )
        item = attribute_definition_create(workspace=request.user.workspace, **data)
        return Response({"key": item.key, "name": item.name, "type": item.type}, status=201)
