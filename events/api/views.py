"""Native events API (§6): one event, a batch of up to 1,000, list with filters, retrieve.

Ingest routes parse the body with orjson and map it with ``events.api.payloads`` (no
serializer per event), then call the one ingestion service.
"""

from typing import NoReturn

from django.conf import settings
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.filters import OrderingFilter
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from cdp.api.auth import IngestKeyRequired, SecretKeyRequired
from cdp.api.errors import ApiError, error_body
from cdp.api.schema import ErrorSerializer
from cdp.errors import ErrorCode
from events.api import schema
from events.api.filters import EventFilter
from events.api.payloads import event_input_from_json
from events.api.representation import event_json
from events.compat.common import Call, Rejected
from events.ingestion import events_ingest
from events.inputs import ItemResult, Status
from events.models import Event
from events.selectors import event_list


class EventCursorPagination(CursorPagination):
    page_size = 100
    page_size_query_param = "limit"
    max_page_size = 1000
    ordering = ("-occurred_at", "-id")


class EventOrderingFilter(OrderingFilter):
    """``?ordering=occurredTime``, ``-receivedTime`` or ``id``: the API's names mapped to model
    fields (``view.ordering_fields``), with the id as tie-breaker so that cursor pages are
    stable when many events share a time. Without a valid term the pagination's default
    ordering (newest first) applies."""

    def get_ordering(self, request, queryset, view):
        names = view.ordering_fields
        ordering = []
        for term in request.query_params.get(self.ordering_param, "").split(","):
            term = term.strip()
            field = names.get(term.removeprefix("-"))
            if field and all(o.lstrip("-") != field for o in ordering):
                ordering.append(f"-{field}" if term.startswith("-") else field)
        if not ordering:
            return None
        if all(o.lstrip("-") != "id" for o in ordering):
            ordering.append("-id" if ordering[0].startswith("-") else "id")
        return tuple(ordering)

    def get_valid_fields(self, queryset, view, context=None):
        return [(name, name) for name in view.ordering_fields]


ENDPOINT = Event.Origin.API


def _read_logged(call: Call):
    """The JSON body, or an ApiError after keeping the unreadable body in the ingestion log
    (the compatible endpoints do the same): callers see what went wrong in the admin."""
    try:
        return call.body()
    except Rejected as exc:
        call.refuse(exc.payload, exc)
        raise


def _refuse_logged(call: Call, body, exc: ApiError) -> NoReturn:
    """Keep a body refused before the ingestion service (wrong shape, too many events) in the
    ingestion log, then raise ``exc``."""
    call.refuse(body, exc)
    raise exc


def _rejected_response(errors) -> Response:
    first = errors[0]
    return Response(
        error_body(first.code, first.message, first.field, errors=[e.as_dict() for e in errors]),
        status=status.HTTP_400_BAD_REQUEST,
    )


class EventListCreateView(generics.ListAPIView):
    """``GET``: events of the key's workspace, newest first. ``POST``: ingest one event."""

    pagination_class = EventCursorPagination
    filter_backends = [DjangoFilterBackend, EventOrderingFilter]
    filterset_class = EventFilter
    # API name -> model field (EventOrderingFilter)
    ordering_fields = {"occurredTime": "occurred_at", "receivedTime": "received_at", "id": "id"}
    serializer_class = schema.EventOutSerializer

    def get_permissions(self):
        return [IngestKeyRequired()] if self.request.method == "POST" else [SecretKeyRequired()]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no key
            return Event.objects.none()
        return event_list(workspace=self.request.user.workspace)

    def list(self, request, *args, **kwargs):
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response([event_json(e) for e in page])

    @extend_schema(
        request=schema.EventInSerializer,
        responses={
            201: schema.IngestAnswerSerializer,
            200: schema.IngestAnswerSerializer,
            400: OpenApiResponse(ErrorSerializer, description="rejected, with the field"),
        },
    )
    def post(self, request, *args, **kwargs):
        call = Call(request, request.user, ENDPOINT)
        body = _read_logged(call)
        item, errors = event_input_from_json(body)
        if errors:
            call.reject([(body, errors)])
            return _rejected_response(errors)
        secret = request.user.is_secret
        result = events_ingest(
            workspace=request.user.workspace,
            events=[item],
            origin=ENDPOINT,
            payloads=[body],
            trusted=secret,
        ).items[0]
        if result.status == Status.REJECTED:
            return _rejected_response(result.errors)
        code = status.HTTP_201_CREATED if result.status == Status.ACCEPTED else status.HTTP_200_OK
        if not secret:  # no internal ids for public keys (SPEC §2)
            return Response({"status": result.status}, status=code)
        return Response(
            {"status": result.status, "eventId": result.event_id, "personId": result.person_id},
            status=code,
        )


class EventDetailView(generics.RetrieveAPIView):
    """One event of the key's workspace."""

    permission_classes = [SecretKeyRequired]
    serializer_class = schema.EventOutSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Event.objects.none()
        return event_list(workspace=self.request.user.workspace)

    def retrieve(self, request, *args, **kwargs):
        return Response(event_json(self.get_object()))


class EventBatchView(APIView):
    """Ingest up to ``CDP_MAX_BATCH_SIZE`` (1,000) events; answer per item."""

    permission_classes = [IngestKeyRequired]

    @extend_schema(
        request=schema.EventBatchInSerializer,
        responses={
            200: schema.EventBatchOutSerializer,
            400: OpenApiResponse(ErrorSerializer),
        },
    )
    def post(self, request):
        call = Call(request, request.user, ENDPOINT)
        body = _read_logged(call)
        events = body.get("events") if isinstance(body, dict) else None
        if not isinstance(events, list):
            _refuse_logged(
                call,
                body,
                ApiError('send {"events": [ … ]}', code=ErrorCode.REQUIRED, field="events"),
            )
        limit = settings.CDP_MAX_BATCH_SIZE
        if len(events) > limit:
            _refuse_logged(
                call,
                body,
                ApiError(
                    f"at most {limit} events per batch, got {len(events)}",
                    code=ErrorCode.BATCH_TOO_LARGE,
                    field="events",
                ),
            )
        results: list[ItemResult | None] = [None] * len(events)
        inputs, payloads, positions, refused = [], [], [], []
        for i, value in enumerate(events):
            item, errors = event_input_from_json(value)
            if errors:
                results[i] = ItemResult(index=i, status=Status.REJECTED, errors=tuple(errors))
                refused.append((value, errors))
            else:
                inputs.append(item)
                payloads.append(value)
                positions.append(i)
        call.reject(refused)
        if inputs:
            outcome = events_ingest(
                workspace=request.user.workspace,
                events=inputs,
                origin=ENDPOINT,
                payloads=payloads,
                trusted=request.user.is_secret,
            )
            for position, item in zip(positions, outcome.items, strict=True):
                results[position] = ItemResult(
                    index=position, status=item.status, event_id=item.event_id, errors=item.errors
                )
        answers = [r.as_dict(ids=request.user.is_secret) for r in results]
        counts = {
            s: sum(1 for r in results if r.status == s)
            for s in (Status.ACCEPTED, Status.DUPLICATE, Status.REJECTED)
        }
        return Response(
            {
                "results": answers,
                "accepted": counts[Status.ACCEPTED],
                "duplicates": counts[Status.DUPLICATE],
                "rejected": counts[Status.REJECTED],
            }
        )
