"""Native segments API under ``/api/v1/segments`` (SPEC §7); secret keys only.

CRUD, a preview count for an unsaved rule tree, members (paginated), one person's membership
with the explanation, an on-demand refresh, static members, and the ready-made templates.
Views check the request's shape and call ``people.segments.services``; errors use the native
shape ``{"error": {"code", "message", "field"}}``.
"""

from django.http import Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from cdp.api.auth import SecretKeyRequired
from cdp.api.errors import service_error_response
from cdp.api.schema import ErrorDetailSerializer, ErrorSerializer
from cdp.errors import ServiceError
from cdp.ids import MAX_ID
from people.api.views import PeoplePagination
from people.models import Person
from people.segments.explain import Outcome, segment_explain
from people.segments.models import Segment
from people.segments.presets import TEMPLATES
from people.segments.selectors import segment_get, segment_list, segment_members
from people.segments.services import (
    segment_create,
    segment_delete,
    segment_members_add,
    segment_members_import,
    segment_members_remove,
    segment_preview,
    segment_refresh_queue,
    segment_update,
)
from people.selectors import person_list


def _iso(value):
    return value.isoformat() if value else None


def segment_json(segment: Segment) -> dict:
    """Return the body ``SegmentOutSerializer`` describes (by hand: lists answer many)."""
    return {
        "id": segment.pk,
        "name": segment.name,
        "description": segment.description,
        "kind": segment.kind,
        "rules": segment.rules or None,
        "memberCount": segment.member_count,
        "refreshStatus": segment.refresh_status,
        "refreshProgress": segment.refresh_progress,
        "refreshError": segment.refresh_error or None,
        "lastRefreshedTime": _iso(segment.last_refreshed_at),
        "createdTime": _iso(segment.created_at),
        "modifiedTime": _iso(segment.modified_at),
    }


def outcome_json(outcome: Outcome) -> dict:
    return {
        "path": outcome.path,
        "met": outcome.met,
        # False where a met condition keeps the person out (inside a "none of" group).
        "countsForMembership": outcome.favours,
        "figure": outcome.figure,
        "conditions": [outcome_json(child) for child in outcome.children],
    }


class SegmentInSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=5000
    )
    kind = serializers.ChoiceField(choices=Segment.Kind.values, default=Segment.Kind.DYNAMIC)
    rules = serializers.JSONField(
        required=False, default=None, help_text='{"all"|"any"|"none": [conditions or groups]}'
    )


class SegmentPatchSerializer(serializers.Serializer):
    name = serializers.CharField(required=False, max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, max_length=5000)
    rules = serializers.JSONField(required=False)


class SegmentOutSerializer(serializers.Serializer):
    """A segment as ``segment_json`` answers it (tests/people/segments/test_api.py holds the
    two together)."""

    id = serializers.IntegerField()
    name = serializers.CharField()
    description = serializers.CharField(allow_blank=True)
    kind = serializers.CharField()
    rules = serializers.JSONField(allow_null=True)
    memberCount = serializers.IntegerField()
    refreshStatus = serializers.CharField()
    refreshProgress = serializers.IntegerField()
    refreshError = serializers.CharField(allow_null=True)
    lastRefreshedTime = serializers.DateTimeField(allow_null=True)
    createdTime = serializers.DateTimeField()
    modifiedTime = serializers.DateTimeField()


class PreviewSerializer(serializers.Serializer):
    rules = serializers.JSONField()


class CountSerializer(serializers.Serializer):
    count = serializers.IntegerField()


class MembersAddedSerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text="People added.")
    unmatched = serializers.IntegerField(help_text="CSV rows that named nobody.")
    invalid = ErrorDetailSerializer(
        many=True,
        help_text=(
            "CSV values that are not identifiers of their column's type (the first 20), each "
            "naming its line and column."
        ),
    )


class MemberSerializer(serializers.Serializer):
    personId = serializers.IntegerField()
    externalId = serializers.CharField(allow_null=True)
    enteredTime = serializers.DateTimeField()


class MembershipSerializer(serializers.Serializer):
    personId = serializers.IntegerField()
    member = serializers.BooleanField(help_text="Stored membership (as of the last update).")
    qualifies = serializers.BooleanField(help_text="Whether the rules select the person now.")
    enteredTime = serializers.DateTimeField(allow_null=True)
    explanation = serializers.JSONField(
        help_text="Each condition, met or not, whether that counts for membership "
        '(countsForMembership: not so for a met condition inside "none of"), and why.'
    )


class SegmentTemplateSerializer(serializers.Serializer):
    key = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField()
    rules = serializers.JSONField()
    requires = serializers.ListField(child=serializers.CharField())


class MembersChangeSerializer(serializers.Serializer):
    personIds = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID),
        required=False,
        max_length=10_000,
    )
    csv = serializers.CharField(
        required=False,
        max_length=5_000_000,
        help_text="Header of identifier types (email, phone, "
        "external_id…), then one person per line.",
    )


def _segment(request, segment_id: int) -> Segment:
    segment = segment_get(workspace=request.user.workspace, segment_id=segment_id)
    if segment is None:
        raise Http404
    return segment


class SegmentListCreateView(APIView):
    permission_classes = [SecretKeyRequired]

    @extend_schema(responses={200: SegmentOutSerializer(many=True)})
    def get(self, request):
        return Response([segment_json(s) for s in segment_list(workspace=request.user.workspace)])

    @extend_schema(
        request=SegmentInSerializer,
        responses={201: SegmentOutSerializer, 400: OpenApiResponse(ErrorSerializer)},
    )
    def post(self, request):
        """Create a segment; a dynamic one is refreshed right after."""
        serializer = SegmentInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        segment = segment_create(
            workspace=request.user.workspace,
            name=data["name"],
            kind=data["kind"],
            rules=data["rules"],
            description=data["description"],
        )
        segment.refresh_from_db()
        return Response(segment_json(segment), status=status.HTTP_201_CREATED)


class SegmentDetailView(APIView):
    permission_classes = [SecretKeyRequired]

    @extend_schema(responses={200: SegmentOutSerializer, 404: OpenApiResponse(ErrorSerializer)})
    def get(self, request, segment_id: int):
        return Response(segment_json(_segment(request, segment_id)))

    @extend_schema(
        request=SegmentPatchSerializer,
        responses={200: SegmentOutSerializer, 400: OpenApiResponse(ErrorSerializer)},
    )
    def patch(self, request, segment_id: int):
        """Rename, describe or change the rules (a refresh follows a rules change)."""
        segment = _segment(request, segment_id)
        serializer = SegmentPatchSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        segment = segment_update(segment=segment, **serializer.validated_data)
        segment.refresh_from_db()
        return Response(segment_json(segment))

    @extend_schema(
        responses={
            204: None,
            404: OpenApiResponse(ErrorSerializer),
            409: OpenApiResponse(ErrorSerializer),
        }
    )
    def delete(self, request, segment_id: int):
        """Delete an unused segment; 409 names what still uses it (segments, flows)."""
        try:
            segment_delete(segment=_segment(request, segment_id))
        except ServiceError as exc:
            return service_error_response(exc, status_code=status.HTTP_409_CONFLICT)
        return Response(status=status.HTTP_204_NO_CONTENT)


class SegmentPreviewView(APIView):
    permission_classes = [SecretKeyRequired]

    @extend_schema(
        request=PreviewSerializer,
        responses={200: CountSerializer, 400: OpenApiResponse(ErrorSerializer)},
    )
    def post(self, request):
        """Count the people an unsaved rule tree selects now."""
        serializer = PreviewSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response(
            {
                "count": segment_preview(
                    workspace=request.user.workspace, rules=serializer.validated_data["rules"]
                )
            }
        )


class SegmentRefreshView(APIView):
    permission_classes = [SecretKeyRequired]

    @extend_schema(request=None, responses={202: SegmentOutSerializer})
    def post(self, request, segment_id: int):
        """Queue a full refresh; follow ``refreshStatus`` on the segment."""
        segment = _segment(request, segment_id)
        segment_refresh_queue(segment=segment)
        segment.refresh_from_db()
        return Response(segment_json(segment), status=status.HTTP_202_ACCEPTED)


class SegmentMembersView(generics.GenericAPIView):
    permission_classes = [SecretKeyRequired]
    pagination_class = PeoplePagination
    serializer_class = MemberSerializer

    @extend_schema(responses={200: MemberSerializer(many=True)})
    def get(self, request, segment_id: int):
        page = self.paginate_queryset(segment_members(segment=_segment(request, segment_id)))
        return self.get_paginated_response(
            [
                {
                    "personId": m.person_id,
                    "externalId": m.person.external_id,
                    "enteredTime": _iso(m.entered_at),
                }
                for m in page
            ]
        )

    @extend_schema(
        request=MembersChangeSerializer,
        responses={200: MembersAddedSerializer, 400: OpenApiResponse(ErrorSerializer)},
    )
    def post(self, request, segment_id: int):
        """Add people to a static segment by id or from a CSV of identifiers."""
        segment = _segment(request, segment_id)
        serializer = MembersChangeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        added, unmatched, invalid = 0, 0, ()
        if data.get("personIds"):
            added += len(segment_members_add(segment=segment, person_ids=data["personIds"]))
        if data.get("csv"):
            result = segment_members_import(segment=segment, csv_text=data["csv"])
            added, unmatched, invalid = added + result.added, result.unmatched, result.invalid
        return Response(
            {
                "count": added,
                "unmatched": unmatched,
                "invalid": [error.as_dict() for error in invalid],
            }
        )

    @extend_schema(request=MembersChangeSerializer, responses={200: CountSerializer})
    def delete(self, request, segment_id: int):
        """Remove people from a static segment."""
        segment = _segment(request, segment_id)
        serializer = MembersChangeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        removed = segment_members_remove(
            segment=segment, person_ids=serializer.validated_data.get("personIds", [])
        )
        return Response({"count": len(removed)})


class SegmentMemberView(APIView):
    permission_classes = [SecretKeyRequired]

    @extend_schema(responses={200: MembershipSerializer, 404: OpenApiResponse(ErrorSerializer)})
    def get(self, request, segment_id: int, person_id: int):
        """Is this person a member, and why (or why not): every condition with its figure."""
        segment = _segment(request, segment_id)
        person: Person = get_object_or_404(
            person_list(workspace=request.user.workspace), pk=person_id
        )
        explanation = segment_explain(segment=segment, person=person)
        return Response(
            {
                "personId": person.pk,
                "member": explanation.member,
                "qualifies": explanation.qualifies,
                "enteredTime": _iso(explanation.entered_at),
                "explanation": outcome_json(explanation.outcome),
            }
        )


class SegmentTemplatesView(APIView):
    permission_classes = [SecretKeyRequired]

    @extend_schema(responses={200: SegmentTemplateSerializer(many=True)})
    def get(self, request):
        """Ready-made rule trees to start from (adjust the example values)."""
        return Response(
            [
                {
                    "key": t.key,
                    "name": t.name,
                    "description": t.description,
                    "rules": t.rules,
                    "requires": list(t.requires),
                }
                for t in TEMPLATES
            ]
        )
