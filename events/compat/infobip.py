"""Infobip People events (§6): ``POST /peopleevents/1/persons/{personId}/definitions/
{definitionId}/events`` with ``{"properties": {…}}`` and ``Authorization: App <key>``.

``personId`` is any identifier of an existing person (external id, email, phone, push
registration id); an unknown person is an error, never created. That answer would tell a
public key whether a customer exists (SPEC §2), so public keys are refused (403
``SECRET_KEY_REQUIRED``) before anything is looked up. Errors answer in Infobip's
``requestError.serviceException`` shape.
"""

from django.views.decorators.http import require_POST
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers

from cdp.errors import ErrorCode, FieldError, ServiceError
from events.compat.common import Answers, CompatView, compat_endpoint, described, json_response
from events.ingestion import events_ingest
from events.inputs import EventInput, Status
from events.models import Event
from people.inputs import PersonRef
from people.selectors import person_lookup

ENDPOINT = Event.Origin.INFOBIP
LOOKUP_ORDER = ("external_id", "email", "phone", "push")


def infobip_error(message_id: str, text: str, status: int):
    return json_response(
        {"requestError": {"serviceException": {"messageId": message_id, "text": text}}},
        status=status,
    )


def _person_ref(workspace, person_id: str) -> PersonRef:
    for type_ in LOOKUP_ORDER:
        if type_ == "email" and "@" not in person_id:
            continue
        try:
            person = person_lookup(workspace=workspace, type=type_, value=person_id)
        except ServiceError:  # not a valid value of this type
            continue
        if person is not None:
            return PersonRef(id=person.pk)
    # Unknown: the service answers person_not_found (and logs it) as it does for any caller.
    return PersonRef(external_id=person_id)


ANSWERS = Answers(
    unauthorized=lambda _why: infobip_error("UNAUTHORIZED", "Invalid login details", 401),
    secret_required=lambda: infobip_error(
        "SECRET_KEY_REQUIRED", "this endpoint needs a secret API key", 403
    ),
    too_many_requests=lambda: infobip_error("TOO_MANY_REQUESTS", "Too many requests", 429),
    refused=lambda exc: infobip_error("BAD_REQUEST", str(exc.detail), exc.status_code),
)


@require_POST
@compat_endpoint(endpoint=ENDPOINT, answers=ANSWERS, secret_only=True)
def infobip_event(request, call, person_id: str, definition_id: str):
    caller = call.caller
    body = call.body()
    payload = {"personId": person_id, "definitionId": definition_id, "body": body}
    errors = [
        FieldError(name, ErrorCode.INVALID, "must not contain NUL characters")
        for name, value in (("personId", person_id), ("definitionId", definition_id))
        if "\x00" in value
    ]
    if not isinstance(body, dict) or "properties" not in body:
        errors.append(
            FieldError(
                "properties",
                ErrorCode.REQUIRED,
                'send {"properties": {…}} (an empty object for none)',
            )
        )
    else:
        errors += [
            FieldError(k, ErrorCode.INVALID, "unknown field")
            for k in sorted(set(body) - {"properties"})
        ]
        if not isinstance(body["properties"], dict):
            errors.append(FieldError("properties", ErrorCode.INVALID_TYPE, "must be an object"))
    if errors:
        call.reject([(payload, errors)])
        return infobip_error("BAD_REQUEST", f"{errors[0].field}: {errors[0].message}", 400)
    item = EventInput(
        definition_id=definition_id,
        person=_person_ref(caller.workspace, person_id),
        properties=body["properties"],
    )
    result = events_ingest(
        workspace=caller.workspace,
        events=[item],
        origin=ENDPOINT,
        create_people=False,
        payloads=[payload],
    ).items[0]
    if result.status == Status.REJECTED:
        first = result.errors[0]
        if first.code == ErrorCode.PERSON_NOT_FOUND:
            return infobip_error("NOT_FOUND", f"person {person_id!r} does not exist", 404)
        text = "; ".join(f"{e.field}: {e.message}" for e in result.errors)
        return infobip_error("BAD_REQUEST", text, 400)
    return json_response({"eventId": result.event_id, "status": result.status})


class InfobipPropertiesSerializer(serializers.Serializer):
    properties = serializers.DictField(help_text="The event's properties ({} for none).")


class InfobipAnswerSerializer(serializers.Serializer):
    eventId = serializers.IntegerField(allow_null=True)
    status = serializers.CharField(help_text="accepted or duplicate")


class InfobipServiceExceptionSerializer(serializers.Serializer):
    messageId = serializers.CharField()
    text = serializers.CharField()


class InfobipRequestErrorSerializer(serializers.Serializer):
    serviceException = InfobipServiceExceptionSerializer()


class InfobipErrorSerializer(serializers.Serializer):
    requestError = InfobipRequestErrorSerializer()


def _error_doc(description: str) -> OpenApiResponse:
    return OpenApiResponse(InfobipErrorSerializer, description=description)


class InfobipEventView(CompatView):
    """Infobip People events: ``personId`` is any identifier of an existing person (external
    id, email, phone, push registration id), never created; secret keys only."""

    handler = staticmethod(infobip_event)
    path_names = {"personId": "person_id", "definitionId": "definition_id"}
    post = described(
        "post",
        tags=["Infobip-compatible"],
        operation_id="infobip_event_create",
        summary="Record an event for an existing person (any identifier)",
        request=InfobipPropertiesSerializer,
        responses={
            200: OpenApiResponse(InfobipAnswerSerializer, description="Stored (or a duplicate)"),
            400: _error_doc("Invalid event"),
            401: _error_doc("Missing or unknown key"),
            403: _error_doc("A public key (SECRET_KEY_REQUIRED)"),
            404: _error_doc("No such person or definition"),
            429: _error_doc("The key's rate limit"),
        },
    )
