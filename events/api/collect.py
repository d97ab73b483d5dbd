"""Web SDK collect endpoint (§6): ``POST /api/v1/collect``.

``static/cdp/cdp.js`` sends batches here with ``fetch`` and, when the page goes away, with
``navigator.sendBeacon``. A beacon cannot set headers, so bodies arrive as ``text/plain`` and the
key may travel in the body (``"key"``) or the query string (``?key=``) as well as in
``Authorization``. The key is public (ingest only), so CORS is open to any origin.

This view is an adapter: it checks the request's shape, then ``identify`` items go to
``person_identify`` (which links the browser's anonymous id to the person named) and
``person_update`` (traits), and ``track`` items become ``EventInput``s handed to the one
ingestion service in one call. ``pageView`` gets device type, browser and OS from the
``User-Agent`` header (``events.useragent``) when the page did not send them.

A ``track`` item may carry ``data`` instead of ``properties`` (PPMessage's ``event_data``, sent
by the SDK for ``window._ppmatc`` pushes): any object, kept whole as the event's properties,
with only the definition's declared properties validated from it (errors named ``data.<key>``);
its ``event`` is then another system's name, mapped as Segment's track names are
(``definition_code_for``: ``webclick`` → ``c_webclick``).

With a public key (SPEC §2) identify uses ``person_identify_public``: an identifier or external
id held by a known person is ignored (kept in the ingestion log, never in the answer), and
traits are checked as always but applied only to a person who was not known before the call;
events are ingested with ``trusted=False``. Answers carry no internal ids for any key.
"""

from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from cdp.api.auth import principal_for_key, raw_key_from_request
from cdp.api.errors import ApiError
from cdp.api.parsing import read_json
from cdp.api.ratelimit import key_rate_limited
from cdp.api.schema import ErrorDetailSerializer, ErrorSerializer
from cdp.errors import ErrorCode, FieldError, ServiceError
from events.compat.common import Call, Rejected
from events.ingestion import events_ingest
from events.inputs import EventInput, Status
from events.models import Event
from events.selectors import definition_code_for
from events.useragent import user_agent_properties
from events.validation import parse_time
from people.identity import EXTERNAL_ID_ALIASES
from people.inputs import PersonRef
from people.services import (
    STANDARD_ATTRIBUTES,
    person_identify,
    person_identify_public,
    person_update,
    profile_values_validate,
)

ORIGIN = Event.Origin.SDK
MAX_BODY_BYTES = 512 * 1024
MAX_EVENTS = 100
MAX_ID_LENGTH = 255
BODY_KEYS = {"key", "anonymousId", "externalId", "events", "sentAt"}
TRACK_KEYS = {
    "type",
    "event",
    "definitionId",
    "properties",
    "data",
    "timestamp",
    "messageId",
    "sessionId",
}
IDENTIFY_KEYS = {"type", "identifiers", "traits", "timestamp", "messageId", "sessionId"}
PAGE_VIEW = "pageView"
CLOCK_TOLERANCE = timedelta(minutes=1)
CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "POST, OPTIONS",
    "Access-Control-Allow-Headers": "Authorization, Content-Type, Content-Encoding",
    "Access-Control-Max-Age": "86400",
}
# The ingestion service names fields as the native API does; the SDK's names differ.
FIELD_NAMES = {
    "occurredTime": "timestamp",
    "externalId": "messageId",
    "definitionId": "event",
    "person.externalId": "externalId",
    "person": "anonymousId",
    "person.identifiers.anonymous_id": "anonymousId",
}


class CollectItemSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=["track", "identify"])
    event = serializers.CharField(
        required=False, help_text="track: the definition id (definitionId is accepted too)"
    )
    properties = serializers.DictField(required=False)
    data = serializers.DictField(
        required=False,
        help_text="track, instead of properties: any object, kept whole as the event's data; "
        "the definition's declared properties are validated from it, and `event` may be a "
        "name from another system (PPMessage's `event_name`: `c_` + snake case)",
    )
    identifiers = serializers.DictField(
        required=False, help_text='identify: {"externalId", "email", "phone", …}'
    )
    traits = serializers.DictField(
        required=False,
        help_text="identify: standard attributes ("
        + ", ".join(STANDARD_ATTRIBUTES)
        + "); other keys are custom attributes",
    )
    timestamp = serializers.CharField(
        required=False, help_text="ISO-8601 or epoch ms (a number below 10^11 is seconds)"
    )
    messageId = serializers.CharField(required=False, help_text="dedupes retries")
    sessionId = serializers.CharField(required=False)


class CollectInSerializer(serializers.Serializer):
    key = serializers.CharField(required=False, help_text="public key, when not in a header")
    anonymousId = serializers.CharField(max_length=MAX_ID_LENGTH)
    externalId = serializers.CharField(required=False, help_text="set by identify")
    events = CollectItemSerializer(many=True)


class CollectErrorSerializer(ErrorDetailSerializer):
    index = serializers.IntegerField()


class CollectOutSerializer(serializers.Serializer):
    accepted = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    rejected = serializers.IntegerField()
    errors = CollectErrorSerializer(many=True)


def _read(request):
    return read_json(request, max_bytes=MAX_BODY_BYTES)


def _id_value(body: dict, name: str, *, required: bool) -> str | None:
    value = body.get(name)
    if value is None or value == "":
        if required:
            raise ApiError(
                "is required: the browser's anonymous id", code=ErrorCode.REQUIRED, field=name
            )
        return None
    if not isinstance(value, str):
        raise ApiError("must be a string", code=ErrorCode.INVALID_TYPE, field=name)
    if len(value) > MAX_ID_LENGTH:
        raise ApiError(f"at most {MAX_ID_LENGTH} characters", code=ErrorCode.TOO_LONG, field=name)
    return value


def _named(error: FieldError, index: int) -> dict:
    """Answer an item's error under the SDK's names: ``events[3].properties.url``."""
    field = FIELD_NAMES.get(error.field, error.field)
    if field not in {"anonymousId", "externalId"}:
        field = f"events[{index}].{field}" if field else f"events[{index}]"
    return {"index": index, "field": field, "code": str(error.code), "message": error.message}


def _data_named(error: FieldError) -> FieldError:
    """An item sent with ``data`` hears of its properties under that name."""
    if error.field.startswith("properties."):
        return FieldError("data." + error.field[len("properties.") :], error.code, error.message)
    return error


def _code(item: dict):
    return item.get("event") or item.get("definitionId")


def _shape_errors(item) -> list[FieldError]:
    """Check one item's shape; fields are named within the item."""
    if not isinstance(item, dict):
        return [FieldError("", ErrorCode.INVALID_TYPE, "must be an object")]
    kind = item.get("type")
    if not isinstance(kind, str) or kind not in {"track", "identify"}:
        return [FieldError("type", ErrorCode.INVALID, 'must be "track" or "identify"')]
    allowed = TRACK_KEYS if kind == "track" else IDENTIFY_KEYS
    errors = [
        FieldError(key, ErrorCode.INVALID, "unknown field") for key in sorted(set(item) - allowed)
    ]
    code = _code(item)
    if kind == "track" and (not isinstance(code, str) or not code):
        errors.append(
            FieldError(
                "event", ErrorCode.REQUIRED, "is required: the definition id, such as c_signup"
            )
        )
    for key in ("properties", "data", "identifiers", "traits"):
        if item.get(key) is not None and not isinstance(item[key], dict):
            errors.append(FieldError(key, ErrorCode.INVALID_TYPE, "must be an object"))
    return errors


# Field names of the people services -> the identify item's.
IDENTIFY_FIELDS = (
    ("person.identifiers.anonymous_id", "anonymousId"),
    ("person.identifiers.", "identifiers."),
    ("person.externalId", "identifiers.externalId"),
    ("customAttributes.", "traits."),
    ("attributes.", "traits."),
)


def _identify_fields(errors) -> list[FieldError]:
    """The people services' errors under the identify item's field names."""
    named = []
    for error in errors:
        field = error.field
        for old, new in IDENTIFY_FIELDS:
            if field.startswith(old):
                field = new + field[len(old) :]
                break
        if field in STANDARD_ATTRIBUTES:
            field = f"traits.{field}"
        named.append(FieldError(field, error.code, error.message))
    return named


def _identify(workspace, item: dict, anonymous_id: str, *, secret: bool):
    """Link the anonymous id to the person the identifiers name and set traits, all or
    nothing; return the person's external id, the errors and (public keys) what was
    ignored."""
    identifiers = dict(item.get("identifiers") or {})
    external_id = next(
        (identifiers.pop(k) for k in list(identifiers) if k in EXTERNAL_ID_ALIASES), None
    )
    identifiers["anonymous_id"] = anonymous_id
    traits = item.get("traits") or {}
    standard = {k: v for k, v in traits.items() if k in STANDARD_ATTRIBUTES}
    custom = {k: v for k, v in traits.items() if k not in STANDARD_ATTRIBUTES}
    ignored: list[FieldError] = []
    try:
        with transaction.atomic():
            if secret:
                person = person_identify(
                    workspace=workspace, external_id=external_id, identifiers=identifiers
                )
            else:
                # Checked first, so the answer never depends on whether the person is known.
                profile_values_validate(workspace=workspace, standard=standard, attributes=custom)
                found = person_identify_public(
                    workspace=workspace, external_id=external_id, identifiers=identifiers
                )
                person, ignored = found.person, _identify_fields(found.ignored)
                if traits and found.known:
                    ignored.append(
                        FieldError(
                            "traits",
                            ErrorCode.KNOWN_PERSON,
                            "a public key cannot change a known person's "
                            "profile: the traits were ignored",
                        )
                    )
                    traits = {}
            if traits:
                person = person_update(person=person, standard=standard, attributes=custom)
    except ServiceError as exc:
        return None, _identify_fields(exc.errors), []
    return person.external_id, [], ignored


def _clock_offset(sent_at) -> timedelta:
    """How far the browser's clock is behind, from ``sentAt``: zero when unknown or within a
    minute (network time), so that only clocks set wrong move the events' times."""
    if not isinstance(sent_at, str):
        return timedelta(0)
    sent, error = parse_time(sent_at, "sentAt")
    if error:
        return timedelta(0)
    offset = timezone.now() - sent
    return offset if abs(offset) > CLOCK_TOLERANCE else timedelta(0)


def _track_input(
    workspace, item: dict, person: PersonRef, agent: dict[str, str], offset: timedelta
) -> EventInput:
    code = _code(item)
    data = item.get("data")
    if data is not None:
        # Another system's event name (PPMessage's event_name), as Segment's track names are.
        code = definition_code_for(workspace=workspace, name=code)
    properties = item.get("properties") or {}
    if code == PAGE_VIEW and isinstance(properties, dict):
        # The browser's own values win: a server relaying for a browser may send them.
        properties = {**agent, **properties}
    occurred = item.get("timestamp")
    if offset and isinstance(occurred, str | int) and not isinstance(occurred, bool):
        parsed, error = parse_time(occurred, "timestamp")
        occurred = occurred if error else parsed + offset  # a bad one: the service says so
    return EventInput(
        definition_id=code,
        person=person,
        occurred_at=occurred,
        properties=properties,
        external_id=item.get("messageId"),
        session_id=item.get("sessionId"),
        data=data,
    )


class CollectView(APIView):
    """Ingest a batch from the web SDK: ``track`` and ``identify`` items, any key."""

    authentication_classes = ()
    permission_classes = (AllowAny,)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        for name, value in CORS_HEADERS.items():
            response[name] = value
        return response

    @extend_schema(exclude=True)
    def options(self, request, *args, **kwargs):
        """Answer the CORS preflight."""
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="Web SDK batch (track, identify)",
        tags=["Web SDK"],
        description="Sent by `static/cdp/cdp.js`. The key may come in `Authorization`, as "
        "`?key=` or in the body (`sendBeacon` cannot set headers); public keys are "
        "fine. Bodies may be `text/plain`. Items the service rejects are counted, "
        "listed in `errors` and kept in the ingestion log.",
        auth=[],
        parameters=[
            OpenApiParameter("key", str, required=False, description="the workspace's public key")
        ],
        request={"application/json": CollectInSerializer, "text/plain": CollectInSerializer},
        responses={
            200: CollectOutSerializer,
            400: OpenApiResponse(ErrorSerializer, description="bad body, names the field"),
            401: OpenApiResponse(ErrorSerializer, description="missing or unknown key"),
            429: OpenApiResponse(ErrorSerializer, description="the key's rate limit"),
        },
    )
    def post(self, request):
        outside_key = raw_key_from_request(request) or request.GET.get("key")
        call = Call(request, None, ORIGIN, read=_read)
        try:
            body = call.body()
        except Rejected as exc:
            # A beacon's sender never reads the answer: keep what could not be read.
            call.caller = principal_for_key(outside_key)
            call.refuse(exc.payload, exc)
            raise
        if not isinstance(body, dict):
            raise ApiError("send a JSON object", code=ErrorCode.INVALID_TYPE, field="body")
        raw_key = outside_key or (body.get("key") if isinstance(body.get("key"), str) else None)
        if not raw_key:
            raise ApiError(
                "an API key is required",
                code="not_authenticated",
                field="key",
                status_code=status.HTTP_401_UNAUTHORIZED,
            )
        call.caller = caller = principal_for_key(raw_key)
        if caller is None:
            raise ApiError(
                "unknown or revoked API key",
                code="authentication_failed",
                field="key",
                status_code=status.HTTP_401_UNAUTHORIZED,
            )
        if key_rate_limited(request, caller):
            raise exceptions.Throttled(wait=1)  # the SDK retries 429 with backoff
        unknown = sorted(set(body) - BODY_KEYS)
        if unknown:
            raise ApiError("unknown field", code=ErrorCode.INVALID, field=unknown[0])
        anonymous_id = _id_value(body, "anonymousId", required=True)
        external_id = _id_value(body, "externalId", required=False)
        items = body.get("events")
        if not isinstance(items, list):
            raise ApiError('send {"events": [ … ]}', code=ErrorCode.REQUIRED, field="events")
        if len(items) > MAX_EVENTS:
            raise ApiError(
                f"at most {MAX_EVENTS} events per request, got {len(items)}",
                code=ErrorCode.BATCH_TOO_LARGE,
                field="events",
            )
        return Response(
            self._ingest(
                request, call, items, anonymous_id, external_id, _clock_offset(body.get("sentAt"))
            )
        )

    def _ingest(self, request, call, items, anonymous_id, external_id, offset) -> dict:
        caller = call.caller
        workspace = caller.workspace
        errors: dict[int, list[FieldError]] = {}
        ignored: dict[int, list[FieldError]] = {}
        identified = 0
        for i, item in enumerate(items):
            errors[i] = _shape_errors(item)
            if not errors[i] and item["type"] == "identify":
                named, errors[i], ignored[i] = _identify(
                    workspace, item, anonymous_id, secret=caller.is_secret
                )
                if not errors[i]:
                    identified += 1
                    external_id = named or external_id
        logged = [(items[i], errs) for i, errs in errors.items() if errs]
        logged += [(items[i], notes) for i, notes in ignored.items() if notes]
        # What a public key's identify ignored is logged, never answered.
        call.reject(logged)
        # After an identify, events resolve through the external id first: a returning
        # customer's events go to their profile even before the two are merged.
        person = PersonRef(external_id=external_id, identifiers={"anonymous_id": anonymous_id})
        positions = [i for i, item in enumerate(items) if not errors[i] and item["type"] == "track"]
        pages = any(_code(items[i]) == PAGE_VIEW for i in positions)
        agent = user_agent_properties(request.META.get("HTTP_USER_AGENT")) if pages else {}
        counts = {
            Status.ACCEPTED: identified,
            Status.DUPLICATE: 0,
            Status.REJECTED: sum(1 for errs in errors.values() if errs),
        }
        if positions:
            # The service logs what it rejects, with the item as the browser sent it.
            result = events_ingest(
                workspace=workspace,
                origin=ORIGIN,
                payloads=[items[i] for i in positions],
                events=[
                    _track_input(workspace, items[i], person, agent, offset) for i in positions
                ],
                trusted=caller.is_secret,
            )
            for i, outcome in zip(positions, result.items, strict=True):
                counts[outcome.status] += 1
                errors[i] = list(outcome.errors)
                if items[i].get("data") is not None:
                    errors[i] = [_data_named(e) for e in errors[i]]
        return {
            "accepted": counts[Status.ACCEPTED],
            "duplicates": counts[Status.DUPLICATE],
            "rejected": counts[Status.REJECTED],
            "errors": [_named(e, i) for i, errs in errors.items() for e in errs],
        }
