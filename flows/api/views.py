"""Native flows API (SPEC §8); secret keys only.

CRUD of flows with their whole graph, the status moves (activate, pause, resume, finish; an
activation may let a trigger segment's current members enter), runs of a flow and of a
person (paginated), and the ready-made templates, resolved to the workspace's definitions,
from which a draft is created. Views check the request's
shape and call ``flows.services``; errors use the native shape ``{"error": {"code",
"message", "field", "errors"}}`` — 400 for invalid flows (every problem under ``errors``),
409 for a move the flow's status does not allow.
"""

from django.http import Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from cdp.api.auth import SecretKeyRequired
from cdp.api.errors import ApiError, service_error_response
from cdp.api.schema import ErrorSerializer
from cdp.errors import ErrorCode, ServiceError
from flows.api.representation import (
    flow_json,
    flow_summary_json,
    run_json,
    spec_from_data,
    template_json,
    template_slots_json,
)
from flows.api.serializers import (
    FlowActivatedSerializer,
    FlowActivateInSerializer,
    FlowFromTemplateInSerializer,
    FlowFromTemplateSerializer,
    FlowInSerializer,
    FlowOutSerializer,
    FlowPatchSerializer,
    FlowRunSerializer,
    FlowSummarySerializer,
    FlowTemplateSerializer,
)
from flows.errors import FlowErrorCode
from flows.models import Flow, FlowRun
from flows.presets import TEMPLATES, template_get, template_resolve
from flows.selectors import flow_get, flow_list, flow_runs, flow_spec_get, person_flow_runs
from flows.services import (
    flow_activate,
    flow_create,
    flow_delete,
    flow_finish,
    flow_from_template_create,
    flow_pause,
    flow_resume,
    flow_update,
)
from people.api.views import PeoplePagination
from people.selectors import person_list

CONFLICTS = {FlowErrorCode.FLOW_STATE, FlowErrorCode.FLOW_NOT_EDITABLE, FlowErrorCode.RUNS_WAITING}


def _flow(request, flow_id: int) -> Flow:
    flow = flow_get(workspace=request.user.workspace, flow_id=flow_id)
    if flow is None:
        raise Http404
    return flow


def _answer(exc: ServiceError) -> Response:
    conflict = exc.first.code in CONFLICTS
    return service_error_response(exc, status.HTTP_409_CONFLICT if conflict else 400)


def _state_param(choices) -> OpenApiParameter:
    return OpenApiParameter(
        "state", str, enum=list(choices), description="Only runs in this state."
    )


def _state(request) -> str | None:
    state = request.GET.get("state") or None
    if state is not None and state not in FlowRun.State.values:
        raise ApiError(
            "state is one of " + ", ".join(FlowRun.State.values),
            code=ErrorCode.INVALID,
            field="state",
        )
    return state


class FlowListCreateView(APIView):
    permission_classes = [SecretKeyRequired]

    @extend_schema(
        parameters=[OpenApiParameter("status", str, enum=Flow.Status.values)],
        responses={200: FlowSummarySerializer(many=True), 400: OpenApiResponse(ErrorSerializer)},
    )
    def get(self, request):
        """The workspace's flows (without their graphs), by name."""
        wanted = request.GET.get("status") or None
        if wanted is not None and wanted not in Flow.Status.values:
            raise ApiError(
                "status is one of " + ", ".join(Flow.Status.values),
                code=ErrorCode.INVALID,
                field="status",
            )
        flows = flow_list(workspace=request.user.workspace, status=wanted)
        return Response([flow_summary_json(f) for f in flows])

    @extend_schema(
        request=FlowInSerializer,
        responses={201: FlowOutSerializer, 400: OpenApiResponse(ErrorSerializer)},
    )
    def post(self, request):
        """Create a draft flow with its elements and edges."""
        serializer = FlowInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            spec = spec_from_data(serializer.validated_data)
            flow = flow_create(workspace=request.user.workspace, spec=spec)
        except ServiceError as exc:
            return _answer(exc)
        return Response(flow_json(flow, flow_spec_get(flow=flow)), status=status.HTTP_201_CREATED)


class FlowDetailView(APIView):
    permission_classes = [SecretKeyRequired]

    @extend_schema(responses={200: FlowOutSerializer, 404: OpenApiResponse(ErrorSerializer)})
    def get(self, request, flow_id: int):
        flow = _flow(request, flow_id)
        return Response(flow_json(flow, flow_spec_get(flow=flow)))

    @extend_schema(
        request=FlowPatchSerializer,
        responses={
            200: FlowOutSerializer,
            400: OpenApiResponse(ErrorSerializer),
            409: OpenApiResponse(ErrorSerializer),
        },
    )
    def patch(self, request, flow_id: int):
        """Change settings and/or replace the graph (elements and edges together). An active
        flow takes only a new name, description, labels and positions: pause it first."""
        flow = _flow(request, flow_id)
        serializer = FlowPatchSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            spec = spec_from_data(serializer.validated_data, flow_spec_get(flow=flow))
            flow = flow_update(flow=flow, spec=spec)
        except ServiceError as exc:
            return _answer(exc)
        flow.refresh_from_db()
        return Response(flow_json(flow, flow_spec_get(flow=flow)))

    @extend_schema(
        responses={
            204: None,
            404: OpenApiResponse(ErrorSerializer),
            409: OpenApiResponse(ErrorSerializer),
        }
    )
    def delete(self, request, flow_id: int):
        """Delete a draft or finished flow and its runs."""
        try:
            flow_delete(flow=_flow(request, flow_id))
        except ServiceError as exc:
            return _answer(exc)
        return Response(status=status.HTTP_204_NO_CONTENT)


class _FlowMoveView(APIView):
    permission_classes = [SecretKeyRequired]
    service = None

    @extend_schema(
        request=None,
        responses={
            200: FlowOutSerializer,
            400: OpenApiResponse(ErrorSerializer),
            404: OpenApiResponse(ErrorSerializer),
            409: OpenApiResponse(ErrorSerializer),
        },
    )
    def post(self, request, flow_id: int):
        try:
            flow = type(self).service(flow=_flow(request, flow_id))
        except ServiceError as exc:
            return _answer(exc)
        return Response(flow_json(flow, flow_spec_get(flow=flow)))


class FlowActivateView(APIView):
    permission_classes = [SecretKeyRequired]

    @extend_schema(
        request=FlowActivateInSerializer,
        responses={
            200: FlowActivatedSerializer,
            400: OpenApiResponse(ErrorSerializer),
            404: OpenApiResponse(ErrorSerializer),
            409: OpenApiResponse(ErrorSerializer),
        },
    )
    def post(self, request, flow_id: int):
        """Activate a draft after checking it can run; 400 lists every problem. For a flow
        triggered by entering a segment, ``admitCurrentMembers: true`` lets the people in the
        segment now enter too (``admitted`` says how many); without it only who enters the
        segment from now on enters."""
        flow = _flow(request, flow_id)
        serializer = FlowActivateInSerializer(data=request.data or {})
        serializer.is_valid(raise_exception=True)
        admit = serializer.validated_data["admitCurrentMembers"]
        try:
            flow = flow_activate(flow=flow, admit_current_members=admit)
        except ServiceError as exc:
            return _answer(exc)
        return Response({**flow_json(flow, flow_spec_get(flow=flow)), "admitted": flow.admitted})


class FlowPauseView(_FlowMoveView):
    """Pause an active flow (nobody enters, runs wait); its graph becomes editable."""

    service = staticmethod(flow_pause)


class FlowResumeView(_FlowMoveView):
    """Make a paused flow active again, after the activation checks."""

    service = staticmethod(flow_resume)


class FlowFinishView(_FlowMoveView):
    """End an active or paused flow for good; runs still in it exit."""

    service = staticmethod(flow_finish)


class FlowRunsView(generics.GenericAPIView):
    permission_classes = [SecretKeyRequired]
    pagination_class = PeoplePagination
    serializer_class = FlowRunSerializer

    @extend_schema(
        parameters=[_state_param(FlowRun.State.values)],
        responses={200: FlowRunSerializer(many=True), 400: OpenApiResponse(ErrorSerializer)},
    )
    def get(self, request, flow_id: int):
        """Runs of a flow, newest first."""
        runs = flow_runs(flow=_flow(request, flow_id), state=_state(request))
        return self.get_paginated_response([run_json(r) for r in self.paginate_queryset(runs)])


class PersonFlowRunsView(generics.GenericAPIView):
    permission_classes = [SecretKeyRequired]
    pagination_class = PeoplePagination
    serializer_class = FlowRunSerializer

    @extend_schema(
        responses={200: FlowRunSerializer(many=True), 404: OpenApiResponse(ErrorSerializer)}
    )
    def get(self, request, person_id: int):
        """A person's runs in every flow of the workspace, newest first."""
        person = get_object_or_404(person_list(workspace=request.user.workspace), pk=person_id)
        runs = person_flow_runs(person=person)
        return self.get_paginated_response([run_json(r) for r in self.paginate_queryset(runs)])


class FlowTemplatesView(APIView):
    permission_classes = [SecretKeyRequired]

    @extend_schema(responses={200: FlowTemplateSerializer(many=True)})
    def get(self, request):
        """Ready-made flows to start from, resolved for this workspace: each of a template's
        events (``slots``) filled with the workspace's definition of the same id, else the
        one whose id or name carries the event's words; an open slot (none or several match)
        lists the ``candidates`` to choose from. ``missing`` says what the workspace still
        needs before activation (definitions to create, choose or switch on, segments to
        create from a segment template)."""
        workspace = request.user.workspace
        return Response(
            [template_json(template_resolve(template=t, workspace=workspace)) for t in TEMPLATES]
        )


class FlowFromTemplateView(APIView):
    permission_classes = [SecretKeyRequired]

    @extend_schema(
        request=FlowFromTemplateInSerializer,
        responses={
            201: FlowFromTemplateSerializer,
            400: OpenApiResponse(ErrorSerializer),
            404: OpenApiResponse(ErrorSerializer),
        },
    )
    def post(self, request, key: str):
        """Create a draft from a template. ``definitions`` chooses the workspace's
        definition for a template event (by the template's name of it); the others are
        resolved as the template list shows. The draft always saves, open events and missing
        segments included (its activation names them); ``missing`` and ``slots`` say what is
        left to do."""
        template = template_get(key)
        if template is None:
            raise Http404
        serializer = FlowFromTemplateInSerializer(data=request.data or {})
        serializer.is_valid(raise_exception=True)
        try:
            flow, resolved = flow_from_template_create(
                workspace=request.user.workspace,
                template=template,
                chosen=serializer.validated_data.get("definitions"),
                name=serializer.validated_data.get("name"),
            )
        except ServiceError as exc:
            return _answer(exc)
        body = {
            **flow_json(flow, flow_spec_get(flow=flow)),
            "missing": list(resolved.missing),
            "slots": template_slots_json(resolved),
        }
        return Response(body, status=status.HTTP_201_CREATED)
