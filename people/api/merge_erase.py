"""Native API for merging two people and for GDPR erasure (§3, §6); secret keys only.

``POST /api/v1/people/{id}/merge`` ``{"personId": …}``: the path person survives and the body
person is merged into it (``people.merge.people_merge``).
``POST /api/v1/people/{id}/erase`` ``{"reason": …}``: erase the person
(``people.erasure.person_erase``); the audit record names the key that asked.
"""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from cdp.api.auth import SecretKeyRequired
from cdp.api.errors import ApiError, service_error_response
from cdp.api.schema import ErrorSerializer
from cdp.errors import ErrorCode, ServiceError
from cdp.ids import MAX_ID
from people.api.representation import person_json
from people.api.views import PersonOutSerializer
from people.erasure import MAX_REASON, person_erase
from people.merge import people_merge
from people.models import Person
from people.selectors import person_list


class MergeSerializer(serializers.Serializer):
    personId = serializers.IntegerField(
        min_value=1,
        max_value=MAX_ID,
        help_text="The person merged into the path person and deleted.",
    )


class EraseSerializer(serializers.Serializer):
    reason = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=MAX_REASON,
        help_text="Ticket or request reference for the audit log.",
    )


class ErasedSerializer(serializers.Serializer):
    erased = serializers.IntegerField(help_text="The id the erased person had.")
    events = serializers.IntegerField(help_text="Events deleted.")
    identifiers = serializers.IntegerField(help_text="Identifiers deleted.")


def _person(request, person_id: int) -> Person:
    return get_object_or_404(person_list(workspace=request.user.workspace), pk=person_id)


def _not_found_is_404(exc: ServiceError) -> Response:
    """A person merged or erased by a concurrent call is gone: answer 404 like a missing id."""
    status = 404 if exc.first.code == ErrorCode.PERSON_NOT_FOUND else 400
    return service_error_response(exc, status)


class PersonMergeView(APIView):
    permission_classes = [SecretKeyRequired]

    @extend_schema(
        request=MergeSerializer,
        responses={
            200: PersonOutSerializer,
            400: OpenApiResponse(ErrorSerializer),
            404: OpenApiResponse(ErrorSerializer),
        },
    )
    def post(self, request, person_id: int):
        """Merge person ``personId`` into this person, who survives with everything of both:
        identifiers, events, aggregates, tags, blank attributes, score."""
        survivor = _person(request, person_id)
        serializer = MergeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        merged_id = serializer.validated_data["personId"]
        workspace = request.user.workspace
        merged = person_list(workspace=workspace).filter(pk=merged_id).first()
        if merged is None:
            raise ApiError(
                f"no person with id {merged_id}",
                code=ErrorCode.PERSON_NOT_FOUND,
                field="personId",
                status_code=404,
            )
        try:
            person = people_merge(workspace=workspace, survivor=survivor, merged=merged)
        except ServiceError as exc:
            return _not_found_is_404(exc)
        return Response(person_json(_person(request, person.pk)))


class PersonEraseView(APIView):
    permission_classes = [SecretKeyRequired]

    @extend_schema(
        request=EraseSerializer,
        responses={
            200: ErasedSerializer,
            400: OpenApiResponse(ErrorSerializer),
            404: OpenApiResponse(ErrorSerializer),
        },
    )
    def post(self, request, person_id: int):
        """Erase the person (GDPR): identifiers, attributes, tags, events and aggregates are
        deleted, and the erasure is written to the audit log."""
        person = _person(request, person_id)
        serializer = EraseSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        key = request.user.api_key
        requested_by = f"API key {key.prefix}…" + (f" ({key.name})" if key.name else "")
        try:
            record = person_erase(
                person=person, requested_by=requested_by, reason=serializer.validated_data["reason"]
            )
        except ServiceError as exc:
            return _not_found_is_404(exc)
        return Response(
            {
                "erased": record.erased_person_id,
                "events": record.events_deleted,
                "identifiers": record.identifiers_deleted,
            }
        )
