"""Alibaba Quick Audience event and identity reporting (§6), key in ``Authorization: App``:

- ``POST /quickaudience/v1/event-messages``: at most 100 behavioural event messages;
- ``POST /quickaudience/v1/user-messages``: user identity messages.

The body is a JSON array, or ``{"eventMessageModelListStr" | "customerMessageModelListStr":
"<the array as a JSON string>"}`` as the Java SDK sends it. Every answer is
``{success, errorCode, errorDesc, traceId}``; accepted messages are stored even when others
in the same call are rejected (``errorDesc`` lists those by index). ``eventCode`` maps to a
definition as track names do: an existing definition id, else ``c_`` + the code in snake case
(``event001`` → ``c_event001``). ``customerId`` is the person's external id;
``customerIdList`` entries are identifiers (``idMapping`` is the type; the seed's
``mac_org`` and ``weibo_id_org`` are the ``mac`` and ``weibo_id`` types). ``eventSourceCode``
is optional: when given it must be a channel's APP_KEY, and an event whose definition belongs
to another channel is rejected; without it the event is not tied to a channel. The Java SDK
sends ``extendAttributes`` as ``Map<String,String>``: a string value of a declared number,
boolean or date-time property is converted to that type (``attributes_convert``), and a
message whose string does not convert is rejected naming the property. The native API does
not convert.

Public keys (SPEC §2) ingest under the public-key identity rule and get no internal ids back
(no ``eventId`` or ``personId``); an identity message of a public key never merges, moves or
relabels a known person (what it ignores goes to the ingestion log).
"""

import math
import re
import uuid

from django.views.decorators.http import require_POST
from drf_spectacular.utils import OpenApiResponse, PolymorphicProxySerializer
from rest_framework import serializers

from cdp.api.errors import ApiError
from cdp.api.parsing import JsonError, json_parse, nul_refuse, read_json
from cdp.errors import ErrorCode, FieldError, ServiceError
from events.compat.common import Answers, CompatView, compat_endpoint, described, json_response
from events.definition_cache import catalogue_get
from events.ingestion import events_ingest
from events.inputs import EventInput, Status
from events.models import Channel, Event, PropertyDefinition
from events.selectors import definition_code_for
from events.validation import parse_time
from people.inputs import PersonRef
from people.services import person_identify, person_identify_public

ENDPOINT = Event.Origin.QUICK_AUDIENCE
MAX_MESSAGES = 100


def qa_answer(
    *, success: bool, code: str | None = None, desc: str | None = None, status: int = 200, data=None
):
    body = {"success": success, "errorCode": code, "errorDesc": desc, "traceId": uuid.uuid4().hex}
    if data is not None:
        body["data"] = data
    return json_response(body, status=status)


def _too_many(call, messages):
    """Refuse a call over ``MAX_MESSAGES`` and keep it (bounded) in the ingestion log."""
    desc = f"at most {MAX_MESSAGES} messages per call, got {len(messages)}"
    call.reject([(messages, [FieldError("messages", ErrorCode.BATCH_TOO_LARGE, desc)])])
    return qa_answer(success=False, code="BATCH_TOO_LARGE", desc=desc, status=400)


ANSWERS = Answers(
    unauthorized=lambda _why: qa_answer(
        success=False, code="ES0110000002", desc="Authentication failed!", status=401
    ),
    too_many_requests=lambda: qa_answer(
        success=False,
        code="TOO_MANY_REQUESTS",
        desc="rate limit of this key exceeded; retry later",
        status=429,
    ),
    refused=lambda exc: qa_answer(
        success=False, code=str(exc.error_code).upper(), desc=str(exc.detail), status=400
    ),
)


def _reader(wrapper: str):
    """Read the body and return its list of messages (``_messages``)."""
    return lambda request: _messages(read_json(request), wrapper)


def _messages(body, wrapper: str):
    """Return the list of messages, unwrapping the SDK's string form."""
    if isinstance(body, dict) and wrapper in body:
        body = body[wrapper]
        if isinstance(body, str):
            try:
                body = json_parse(body)
            except JsonError as exc:
                raise ApiError(
                    f"{wrapper} is not a JSON array string: {exc}", code=exc.code, field=wrapper
                ) from exc
            nul_refuse(body, wrapper)
    if not isinstance(body, list):
        raise ApiError(
            f'send a JSON array or {{"{wrapper}": "[…]"}}', code="invalid", field=wrapper
        )
    return body


def _identifiers(message: dict, errors: list, prefix: str) -> dict:
    identifiers = {}
    entries = message.get("customerIdList") or []
    if not isinstance(entries, list):
        errors.append(
            FieldError(
                f"{prefix}.customerIdList",
                ErrorCode.INVALID_TYPE,
                "must be a list of {customerId, idMapping}",
            )
        )
        return identifiers
    for j, entry in enumerate(entries):
        if not isinstance(entry, dict) or not entry.get("customerId") or not entry.get("idMapping"):
            errors.append(
                FieldError(
                    f"{prefix}.customerIdList[{j}]",
                    ErrorCode.INVALID,
                    "needs customerId and idMapping",
                )
            )
            continue
        identifiers[str(entry["idMapping"])] = str(entry["customerId"])
    return identifiers


_INTEGER = re.compile(r"[+-]?[0-9]+")
_DECIMAL = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")
_TRUE_FALSE = {"true": True, "false": False}


def _number(text: str) -> int | float | None:
    """The number a string spells (``"12"`` → 12, ``"12.5"`` → 12.5), or None."""
    text = text.strip()
    if _INTEGER.fullmatch(text):
        return int(text)
    if not _DECIMAL.fullmatch(text):
        return None
    number = float(text)
    return number if math.isfinite(number) else None


def attributes_convert(
    properties: dict, types: dict[str, str], prefix: str
) -> tuple[dict, list[FieldError]]:
    """The Java SDK's ``Map<String,String>``: a string value of a declared number, boolean or
    date-time property becomes that type (``"12.5"`` → 12.5, ``"true"`` → true, epoch
    milliseconds ``"1651114368518"`` → the number; an ISO-8601 date-time stays a string, which
    validation parses). A string that does not convert is an error naming the property. Values
    of other types, undeclared keys and text properties are left as sent (validation judges
    them)."""
    converted, errors = {}, []
    for key, value in properties.items():
        kind = types.get(key)
        if not isinstance(value, str) or kind in (None, PropertyDefinition.Type.TEXT):
            converted[key] = value
            continue
        field = f"{prefix}.extendAttributes.{key}"
        if kind == PropertyDefinition.Type.NUMBER:
            number = _number(value)
            if number is None:
                errors.append(FieldError(field, ErrorCode.INVALID, f"{value!r} is not a number"))
            converted[key] = number
        elif kind == PropertyDefinition.Type.BOOLEAN:
            flag = _TRUE_FALSE.get(value.strip().lower())
            if flag is None:
                errors.append(
                    FieldError(field, ErrorCode.INVALID, f"{value!r} is not true or false")
                )
            converted[key] = flag
        elif kind == PropertyDefinition.Type.DATETIME:
            text = value.strip()
            converted[key] = int(text) if _INTEGER.fullmatch(text) else text
            if parse_time(converted[key], field, earliest=None)[1] is not None:
                errors.append(
                    FieldError(
                        field,
                        ErrorCode.INVALID,
                        f"{value!r} is not a date-time: use epoch milliseconds or ISO-8601",
                    )
                )
        else:
            converted[key] = value
    return converted, errors


def _event_input(message, index: int, channels: dict[str, int], workspace):
    prefix = f"[{index}]"
    errors: list[FieldError] = []
    if not isinstance(message, dict):
        return None, [FieldError(prefix, ErrorCode.INVALID_TYPE, "must be an object")]
    for key in ("eventCode", "eventTime"):
        if message.get(key) in (None, ""):
            errors.append(FieldError(f"{prefix}.{key}", ErrorCode.REQUIRED, "is required"))
    # Optional (the seed: without an app_key the event is not restricted to a channel); when
    # given it names a channel by APP_KEY and the definition must not belong to another one.
    source = message.get("eventSourceCode")
    if source in (None, ""):
        source = None
    elif not isinstance(source, str | int) or isinstance(source, bool):
        errors.append(
            FieldError(
                f"{prefix}.eventSourceCode",
                ErrorCode.INVALID_TYPE,
                "must be a string (the channel's APP_KEY)",
            )
        )
        source = None
    elif str(source) not in channels:
        errors.append(
            FieldError(
                f"{prefix}.eventSourceCode",
                ErrorCode.INVALID,
                f"no channel with APP_KEY {str(source)!r}",
            )
        )
        source = None
    attributes = message.get("extendAttributes") or {}
    if not isinstance(attributes, dict):
        errors.append(
            FieldError(f"{prefix}.extendAttributes", ErrorCode.INVALID_TYPE, "must be an object")
        )
        attributes = {}
    if not attributes.get("outBizId"):
        errors.append(
            FieldError(
                f"{prefix}.extendAttributes.outBizId",
                ErrorCode.REQUIRED,
                "is required (a unique business id)",
            )
        )
    identifiers = _identifiers(message, errors, prefix)
    customer = message.get("customerId")
    if not customer and not identifiers:
        errors.append(
            FieldError(
                f"{prefix}.customerId", ErrorCode.REQUIRED, "give customerId or customerIdList"
            )
        )
    if errors:
        return None, errors
    code = definition_code_for(workspace=workspace, name=str(message["eventCode"]))
    if source is not None:
        definition = catalogue_get(workspace).definitions.get(code)
        channel_id = channels[str(source)]
        if definition is not None and definition.channel_id not in (None, channel_id):
            return None, [
                FieldError(
                    f"{prefix}.eventSourceCode",
                    ErrorCode.INVALID,
                    f"event {message['eventCode']!r} belongs to another channel than APP_KEY "
                    f"{str(source)!r}",
                )
            ]
    properties = {k: v for k, v in attributes.items() if k != "outBizId"}
    validator = catalogue_get(workspace).validators.get(code)
    if validator is not None:
        properties, errors = attributes_convert(properties, validator.types, prefix)
        if errors:
            return None, errors
    return EventInput(
        definition_id=code,
        person=PersonRef(external_id=str(customer) if customer else None, identifiers=identifiers),
        occurred_at=message["eventTime"],
        properties=properties,
        external_id=str(attributes["outBizId"]),
        source=str(source or ""),
    ), []


@require_POST
@compat_endpoint(endpoint=ENDPOINT, answers=ANSWERS, read=_reader("eventMessageModelListStr"))
def event_messages(request, call):
    caller = call.caller
    messages = call.body()
    if len(messages) > MAX_MESSAGES:
        return _too_many(call, messages)
    channels = dict(Channel.objects.filter(workspace=caller.workspace).values_list("app_key", "pk"))
    inputs, payloads, positions, failures = [], [], [], []
    for i, message in enumerate(messages):
        item, errors = _event_input(message, i, channels, caller.workspace)
        if errors:
            failures.append((i, errors))
            call.reject([(message, errors)])
        else:
            inputs.append(item)
            payloads.append(message)
            positions.append(i)
    results = []
    if inputs:
        outcome = events_ingest(
            workspace=caller.workspace,
            events=inputs,
            origin=ENDPOINT,
            payloads=payloads,
            trusted=caller.is_secret,
        )
        for position, item in zip(positions, outcome.items, strict=True):
            if item.status == Status.REJECTED:
                failures.append(
                    (
                        position,
                        [
                            FieldError(f"[{position}].{e.field}", e.code, e.message)
                            for e in item.errors
                        ],
                    )
                )
            else:
                results.append(
                    {"index": position, "status": item.status, "eventId": item.event_id}
                    if caller.is_secret
                    else {"index": position, "status": item.status}
                )
    if failures:
        failures.sort(key=lambda f: f[0])
        desc = "; ".join(f"{e.field}: {e.message}" for _, errors in failures for e in errors)
        return qa_answer(
            success=False,
            code="INVALID_MESSAGE",
            desc=desc[:2000],
            data={"accepted": results, "rejected": [i for i, _ in failures]},
        )
    return qa_answer(success=True, data={"accepted": results})


@require_POST
@compat_endpoint(endpoint=ENDPOINT, answers=ANSWERS, read=_reader("customerMessageModelListStr"))
def user_messages(request, call):
    caller = call.caller
    messages = call.body()
    if len(messages) > MAX_MESSAGES:
        return _too_many(call, messages)
    people, failures = [], []
    for i, message in enumerate(messages):
        errors: list[FieldError] = []
        if not isinstance(message, dict):
            errors.append(FieldError(f"[{i}]", ErrorCode.INVALID_TYPE, "must be an object"))
            identifiers, customer = {}, None
        else:
            identifiers = _identifiers(message, errors, f"[{i}]")
            customer = message.get("customerId")
        if not errors:
            external_id = str(customer) if customer else None
            try:
                if caller.is_secret:
                    person = person_identify(
                        workspace=caller.workspace, external_id=external_id, identifiers=identifiers
                    )
                    people.append({"index": i, "personId": person.pk})
                    continue
                found = person_identify_public(
                    workspace=caller.workspace, external_id=external_id, identifiers=identifiers
                )
                people.append({"index": i})
                if found.ignored:  # logged, never answered: no customer-existence oracle
                    call.reject([(message, found.ignored)])
                continue
            except ServiceError as exc:
                errors = [FieldError(f"[{i}].{e.field}", e.code, e.message) for e in exc.errors]
        failures.append((i, errors))
        call.reject([(message, errors)])
    if failures:
        desc = "; ".join(f"{e.field}: {e.message}" for _, errors in failures for e in errors)
        return qa_answer(
            success=False,
            code="INVALID_MESSAGE",
            desc=desc[:2000],
            data={"people": people, "rejected": [i for i, _ in failures]},
        )
    return qa_answer(success=True, data={"people": people})


class QaCustomerIdSerializer(serializers.Serializer):
    customerId = serializers.CharField()
    idMapping = serializers.CharField(help_text="The identifier type (email, phone, mac_org…).")


class QaEventMessageSerializer(serializers.Serializer):
    eventCode = serializers.CharField(help_text="A definition id, else c_ + snake case.")
    eventTime = serializers.JSONField(help_text="ISO-8601 or epoch milliseconds.")
    eventSourceCode = serializers.CharField(
        required=False, allow_blank=True, help_text="A channel's APP_KEY (optional)."
    )
    customerId = serializers.CharField(required=False, help_text="The person's external id.")
    customerIdList = QaCustomerIdSerializer(many=True, required=False)
    extendAttributes = serializers.DictField(
        help_text="outBizId (required, the event's unique business id) and the properties."
    )


class QaEventMessagesWrapperSerializer(serializers.Serializer):
    eventMessageModelListStr = serializers.CharField(help_text="The array as a JSON string.")


class QaUserMessageSerializer(serializers.Serializer):
    customerId = serializers.CharField(required=False, help_text="The person's external id.")
    customerIdList = QaCustomerIdSerializer(many=True, required=False)


class QaUserMessagesWrapperSerializer(serializers.Serializer):
    customerMessageModelListStr = serializers.CharField(help_text="The array as a JSON string.")


class QaAnswerSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    errorCode = serializers.CharField(allow_null=True)
    errorDesc = serializers.CharField(allow_null=True)
    traceId = serializers.CharField()
    data = serializers.DictField(required=False)


def _qa_doc(name: str, operation_id: str, summary: str, description: str, message, wrapper):
    body = PolymorphicProxySerializer(
        component_name=name,
        serializers=[message(many=True), wrapper],
        resource_type_field_name=None,
        many=False,
    )
    return described(
        "post",
        tags=["Quick Audience-compatible"],
        operation_id=operation_id,
        summary=summary,
        description=description,
        request=body,
        responses={
            200: OpenApiResponse(
                QaAnswerSerializer,
                description="success true; or success false with errorCode INVALID_MESSAGE "
                "and errorDesc naming each rejected message by index (the others are stored)",
            ),
            400: OpenApiResponse(
                QaAnswerSerializer,
                description="success false: the body is not a JSON array nor the SDK wrapper "
                "(errorCode INVALID, INVALID_JSON, REQUIRED, BODY_TOO_LARGE) or has more than "
                "100 messages (BATCH_TOO_LARGE)",
            ),
            401: OpenApiResponse(
                QaAnswerSerializer,
                description="success false, errorCode ES0110000002: missing or unknown key",
            ),
            429: OpenApiResponse(
                QaAnswerSerializer,
                description="success false, errorCode TOO_MANY_REQUESTS: the key's rate limit",
            ),
        },
    )


class EventMessagesView(CompatView):
    """Quick Audience behavioural event report."""

    handler = staticmethod(event_messages)
    post = _qa_doc(
        "QaEventMessages",
        "qa_event_messages",
        "Batch event report (at most 100 messages)",
        'A JSON array of event messages, or {"eventMessageModelListStr": "<JSON array as a '
        'string>"}. eventCode, eventTime and extendAttributes.outBizId are required; '
        "eventSourceCode is optional and, when given, must be a channel's APP_KEY to which "
        "the event's definition is not foreign.",
        QaEventMessageSerializer,
        QaEventMessagesWrapperSerializer,
    )


class UserMessagesView(CompatView):
    """Quick Audience user identity report."""

    handler = staticmethod(user_messages)
    post = _qa_doc(
        "QaUserMessages",
        "qa_user_messages",
        "User identity report",
        "A JSON array of customer messages (at most 100), or "
        '{"customerMessageModelListStr": "<JSON array as a string>"}.',
        QaUserMessageSerializer,
        QaUserMessagesWrapperSerializer,
    )
