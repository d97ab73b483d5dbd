"""Convertlab DM Hub customer events (§6), with ``?access_token=<key>``:

- ``POST /v1/customerevents``: core fields plus custom properties at the top level (the seed's
  ``touter``); deduplicated by ``externalId``, else by (date, customer, event); answers the
  stored event in the seed's shape (a repeat answers the event already stored).
- ``GET /v1/customerevents/{id}?partition=YYYY``: one event.
- ``GET /v1/customerevents?customerId&event=a,b&lastUpdatedFrom&lastUpdatedTo&max&rows&page&
  sidx&sord&partition``: a JSON array.

``customerId`` is the customer's id in the caller's system: the person's external id (or,
for a person without one, the internal id); the customer must exist (DM Hub creates customers
separately). Every route needs a secret key: creating an event answers whether the customer
exists, which no endpoint tells a public key (SPEC §2). Partitions follow the seed: without
``partition`` the default table holds events from 2018 on; ``partition=2017`` that year;
``partition=2016`` everything before 2017; any later year that year only.
"""

from datetime import UTC, datetime

from django.db.models import Q
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import serializers

from cdp.api.errors import ApiError, error_body
from cdp.errors import ErrorCode, FieldError, json_type_error
from cdp.ids import ascii_digits, text_id
from events.compat.common import Answers, CompatView, compat_endpoint, described, json_response
from events.ingestion import events_ingest
from events.inputs import EventInput, Status
from events.models import Event
from events.selectors import event_list
from people.inputs import PersonRef
from people.models import Person

ENDPOINT = Event.Origin.DMHUB
CORE = {
    "targetId": "target_id",
    "targetName": "target_name",
    "source": "source",
    "contentName": "content_name",
    "score": "score",
    "tag": "tags",
    "campaign": "campaign_code",
    "campaignName": "campaign_name",
    "summary": "summary",
    "externalId": "external_id",
}
RESERVED = {"id", "customerId", "event", "date", "lastUpdated", *CORE}
SORT_FIELDS = {
    "id": "id",
    "date": "occurred_at",
    "lastUpdated": "received_at",
    "event": "definition__definition_id",
    "customerId": "person_id",
}
DEFAULT_PARTITION_FROM = 2018
# Beyond this the offset (page × rows) would leave PostgreSQL's bigint; no store has that many.
MAX_PAGE = 1_000_000_000


def _time(value) -> str | None:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


def event_score_added(event: Event) -> int:
    """The activity score the event added to its person: its own score, else its
    definition's (as the ingestion adds it)."""
    return event.score if event.score is not None else event.definition.default_score


def dmhub_event_json(event: Event, *, score: int | None = None) -> dict:
    """The seed's response shape: core fields, then custom properties at the top level.
    ``score`` is what the event added to the customer's activity score (``score`` overrides
    it: a repeat that was not stored again added nothing)."""
    body = {
        "id": event.pk,
        "customerId": _customer_id(event.person),
        "event": event.definition.definition_id,
        "targetId": event.target_id or None,
        "targetName": event.target_name or None,
        "date": _time(event.occurred_at),
        "source": event.source or None,
        "score": event_score_added(event) if score is None else score,
        "tag": event.tags or None,
        "campaign": event.campaign_code or None,
        "campaignName": event.campaign_name or None,
        "contentName": event.content_name or None,
        "externalId": event.external_id,
        "lastUpdated": _time(event.received_at),
    }
    if event.summary:
        body["summary"] = event.summary
    for key, value in (event.properties or {}).items():
        body.setdefault(key, value)
    return body


def _error(code: str, message: str, field: str | None, status: int = 400):
    return json_response(error_body(code, message, field), status=status)


def _secret_key_required():
    return _error(
        ErrorCode.SECRET_KEY_REQUIRED, "the DM Hub endpoints need a secret key", "access_token", 403
    )


def _customer(workspace, customer_id) -> PersonRef:
    value = str(customer_id).strip()
    query = Person.objects.filter(workspace=workspace)
    number = text_id(value)
    if (
        not query.filter(external_id=value).exists()
        and number is not None
        and query.filter(pk=number).exists()
    ):
        return PersonRef(id=number)
    # The external id; when nobody has it, the service answers person_not_found.
    return PersonRef(external_id=value)


def _customer_id(person: Person):
    """The customer id as DM Hub callers know it: the external id (a number when numeric),
    else the internal id."""
    ext = person.external_id
    if ext:
        return int(ext) if ascii_digits(ext) else ext
    return person.pk


def _customer_filter(value: str) -> Q:
    condition = Q(person__external_id=value)
    if text_id(value) is not None:
        condition |= Q(person_id=text_id(value), person__external_id__isnull=True)
    return condition


ANSWERS = Answers(
    unauthorized=lambda _why: _error(
        "unauthorized", "a valid access_token is required", "access_token", 401
    ),
    too_many_requests=lambda: _error(
        "too_many_requests", "rate limit of this key exceeded; retry later", None, 429
    ),
    refused=lambda exc: _error(exc.error_code, str(exc.detail), exc.field, exc.status_code),
)
dmhub_endpoint = compat_endpoint(endpoint=ENDPOINT, answers=ANSWERS, allow_query_token=True)


@dmhub_endpoint
def customer_events(request, call):
    if not call.caller.is_secret:
        return _secret_key_required()
    if request.method == "POST":
        return _create(call)
    if request.method == "GET":
        return _query(request, call.caller)
    return _error("method_not_allowed", "use GET or POST", None, 405)


def _create(call):
    caller = call.caller
    body = call.body()
    errors = []
    if not isinstance(body, dict):
        errors.append(FieldError("body", ErrorCode.INVALID_TYPE, "must be a JSON object"))
    else:
        for key in ("customerId", "event"):
            if body.get(key) in (None, ""):
                errors.append(FieldError(key, ErrorCode.REQUIRED, "is required"))
        if isinstance(body.get("event"), str) and len(body["event"]) > 32:
            errors.append(FieldError("event", ErrorCode.TOO_LONG, "at most 32 characters"))
        customer = body.get("customerId")
        if customer not in (None, "") and (
            wrong := json_type_error(customer, (int, float, str), "customerId")
        ):
            errors.append(wrong)
    if errors:
        call.reject([(body, errors)])
        return _error(errors[0].code, errors[0].message, errors[0].field)
    core = {name: body[key] for key, name in CORE.items() if body.get(key) is not None}
    properties = {k: v for k, v in body.items() if k not in RESERVED}
    item = EventInput(
        definition_id=body["event"],
        person=_customer(caller.workspace, body["customerId"]),
        occurred_at=body.get("date"),
        properties=properties,
        **core,
    )
    result = events_ingest(
        workspace=caller.workspace,
        events=[item],
        origin=ENDPOINT,
        create_people=False,
        payloads=[body],
    ).items[0]
    if result.status == Status.REJECTED:
        first = result.errors[0]
        field = {
            "definitionId": "event",
            "occurredTime": "date",
            "person": "customerId",
            "person.id": "customerId",
            "tags": "tag",
        }.get(first.field, first.field)
        status = 404 if first.code == ErrorCode.PERSON_NOT_FOUND else 400
        return _error(first.code, first.message, field, status)
    event = event_list(workspace=caller.workspace).get(pk=result.event_id)
    added = 0 if result.status == Status.DUPLICATE else None
    return json_response(dmhub_event_json(event, score=added), status=200)


def _partition_filter(raw: str | None) -> Q:
    if not raw:
        return Q(occurred_at__gte=datetime(DEFAULT_PARTITION_FROM, 1, 1, tzinfo=UTC))
    year = text_id(raw)
    if year is None or not 1 <= year <= 9999:
        raise ApiError("partition is a year such as 2017", code="invalid", field="partition")
    if year <= 2016:
        return Q(occurred_at__lt=datetime(2017, 1, 1, tzinfo=UTC))
    return Q(occurred_at__year=year)


def _int(request, name: str, default: int | None, low: int = 1, high: int | None = None):
    raw = request.GET.get(name)
    if raw in (None, ""):
        return default
    number = text_id(raw)
    if number is None or number < low or (high is not None and number > high):
        bound = f" and at most {high}" if high else ""
        raise ApiError(f"must be an integer of at least {low}{bound}", code="invalid", field=name)
    return number


def _utc(request, name: str):
    raw = request.GET.get(name)
    if not raw:
        return None
    try:
        return datetime.strptime(raw, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError as exc:
        raise ApiError("use UTC like 2017-06-07T12:13:14Z", code="invalid", field=name) from exc


def _query(request, caller):
    query = event_list(workspace=caller.workspace).filter(
        _partition_filter(request.GET.get("partition"))
    )
    if customer := request.GET.get("customerId"):
        query = query.filter(_customer_filter(customer.strip()))
    if events := request.GET.get("event"):
        query = query.filter(
            definition__definition_id__in=[e.strip() for e in events.split(",") if e.strip()]
        )
    if since := _utc(request, "lastUpdatedFrom"):
        query = query.filter(received_at__gte=since)
    if until := _utc(request, "lastUpdatedTo"):
        query = query.filter(received_at__lte=until)
    limit = _int(request, "max", 20, high=1000)
    rows = _int(request, "rows", None, high=1000)
    page = _int(request, "page", 1, high=MAX_PAGE)
    sidx = request.GET.get("sidx") or "id"
    if sidx not in SORT_FIELDS:
        raise ApiError("sort by one of " + ", ".join(SORT_FIELDS), code="invalid", field="sidx")
    sord = (request.GET.get("sord") or "asc").lower()
    if sord not in {"asc", "desc"}:
        raise ApiError("asc or desc", code="invalid", field="sord")
    order = SORT_FIELDS[sidx]
    query = query.order_by(order if sord == "asc" else f"-{order}", "id")
    size = min(rows or limit, limit)
    start = (page - 1) * (rows or limit)
    return json_response([dmhub_event_json(e) for e in query[start : start + size]])


@dmhub_endpoint
def customer_event(request, call, event_id: int):
    caller = call.caller
    if request.method != "GET":
        return _error("method_not_allowed", "use GET", None, 405)
    if not caller.is_secret:
        return _secret_key_required()
    partition = request.GET.get("partition")
    query = event_list(workspace=caller.workspace).filter(pk=event_id)
    if partition:
        query = query.filter(_partition_filter(partition))
    event = query.first()
    if event is None:
        return _error("not_found", f"no customer event {event_id} in this partition", "id", 404)
    return json_response(dmhub_event_json(event))


class DmHubEventSerializer(serializers.Serializer):
    """A customer event: core fields, then custom properties at the top level."""

    id = serializers.IntegerField(read_only=True)
    customerId = serializers.JSONField(
        help_text="The customer's id in your system (a number when numeric)."
    )
    event = serializers.CharField(max_length=32, help_text="The event code.")
    date = serializers.CharField(
        required=False, allow_null=True, allow_blank=True, help_text="ISO-8601 time."
    )
    targetId = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    targetName = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    source = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    score = serializers.IntegerField(
        required=False,
        help_text="The activity score the event adds to the customer; without it, the event "
        "definition's default score. Answered: what this event added (0 for a repeat).",
    )
    tag = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    campaign = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    campaignName = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    contentName = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    summary = serializers.CharField(required=False, allow_blank=True)
    externalId = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    lastUpdated = serializers.CharField(read_only=True, help_text="When it was stored.")


def _param(name: str, description: str, type_=str, required: bool = False) -> OpenApiParameter:
    return OpenApiParameter(name, type_, required=required, description=description)


ACCESS_TOKEN = _param("access_token", "A workspace API key.", required=True)
TAG = ["DM Hub-compatible"]


class CustomerEventsView(CompatView):
    """DM Hub customer events, with the (secret) key as ``access_token``: create one (the
    customer must exist), or query them."""

    handler = staticmethod(customer_events)
    authentication_classes = ()
    post = described(
        "post",
        tags=TAG,
        operation_id="dmhub_event_create",
        summary="Create a customer event (custom properties at the top level)",
        parameters=[ACCESS_TOKEN],
        request=DmHubEventSerializer,
        responses={
            200: OpenApiResponse(DmHubEventSerializer, description="The stored event"),
            400: OpenApiResponse(OpenApiTypes.OBJECT, description="Invalid event"),
            401: OpenApiResponse(OpenApiTypes.OBJECT, description="Missing or unknown key"),
        },
    )
    get = described(
        "get",
        tags=TAG,
        operation_id="dmhub_event_query",
        summary="Query customer events",
        parameters=[
            ACCESS_TOKEN,
            _param("customerId", "The customer's id in your system."),
            _param("event", "Event codes, comma separated."),
            _param("lastUpdatedFrom", "ISO-8601 time, inclusive."),
            _param("lastUpdatedTo", "ISO-8601 time, inclusive."),
            _param("max", "Most rows (default 20, at most 1000).", int),
            _param("rows", "Rows per page.", int),
            _param("page", "Page number from 1.", int),
            _param("sidx", "Sort field: id, date, lastUpdated, event, customerId."),
            _param("sord", "asc or desc."),
            _param(
                "partition", "A year; 2016 holds everything before 2017; without it, 2018 on.", int
            ),
        ],
        responses={
            200: DmHubEventSerializer(many=True),
            400: OpenApiResponse(OpenApiTypes.OBJECT, description="Invalid parameter"),
        },
    )


class CustomerEventView(CompatView):
    """One DM Hub customer event by id, with the (secret) key as ``access_token``."""

    handler = staticmethod(customer_event)
    path_names = {"id": "event_id"}
    authentication_classes = ()
    get = described(
        "get",
        tags=TAG,
        operation_id="dmhub_event_get",
        summary="One customer event",
        parameters=[ACCESS_TOKEN, _param("partition", "The year the event is in.", int)],
        responses={
            200: DmHubEventSerializer,
            404: OpenApiResponse(OpenApiTypes.OBJECT, description="Not found"),
        },
    )
