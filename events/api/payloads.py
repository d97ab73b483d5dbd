"""The native event payload (§6 fixed contract) mapped onto ``EventInput``.

A light hand-written parser instead of a serializer per event: it checks the shape, names the
field of every problem and refuses unknown fields (nothing is silently dropped). Rules across
models (definitions, properties, dedupe) stay in the ingestion service.
"""

from cdp.errors import ErrorCode, FieldError
from cdp.ids import text_id
from events.inputs import EventInput
from people.inputs import PersonRef

# JSON name -> EventInput field
CORE = {
    "externalId": "external_id",
    "sessionId": "session_id",
    "targetId": "target_id",
    "targetName": "target_name",
    "source": "source",
    "contentName": "content_name",
    "campaign": "campaign_code",
    "campaignName": "campaign_name",
    "summary": "summary",
}
ALLOWED = {"definitionId", "person", "occurredTime", "properties", "score", "tags", *CORE}
PERSON_KEYS = {"id", "externalId", "identifiers"}


def person_ref_from_json(value, field: str = "person") -> tuple[PersonRef | None, list]:
    if not isinstance(value, dict):
        return None, [
            FieldError(
                field,
                ErrorCode.INVALID_TYPE,
                'must be an object: {"id"}, {"externalId"} or {"identifiers"}',
            )
        ]
    unknown = sorted(set(value) - PERSON_KEYS)
    if unknown:
        return None, [
            FieldError(
                f"{field}.{unknown[0]}",
                ErrorCode.INVALID,
                "unknown field; use id, externalId or identifiers",
            )
        ]
    identifiers = value.get("identifiers") or {}
    if not isinstance(identifiers, dict):
        return None, [
            FieldError(
                f"{field}.identifiers",
                ErrorCode.INVALID_TYPE,
                'must be an object like {"email": "ann@example.com"}',
            )
        ]
    person_id = value.get("id")
    if person_id is not None and (isinstance(person_id, bool) or not isinstance(person_id, int)):
        if text_id(person_id) is not None:
            person_id = text_id(person_id)
        else:
            return None, [FieldError(f"{field}.id", ErrorCode.INVALID_TYPE, "must be an integer")]
    ref = PersonRef(id=person_id, external_id=value.get("externalId"), identifiers=identifiers)
    if ref.is_empty():
        return None, [
            FieldError(
                field, ErrorCode.REQUIRED, "name the person by id, externalId or identifiers"
            )
        ]
    return ref, []


def event_input_from_json(value) -> tuple[EventInput | None, list[FieldError]]:
    """Map one JSON event to an ``EventInput``; return errors naming each bad field."""
    if not isinstance(value, dict):
        return None, [FieldError("event", ErrorCode.INVALID_TYPE, "must be a JSON object")]
    errors: list[FieldError] = []
    for key in sorted(set(value) - ALLOWED):
        errors.append(FieldError(key, ErrorCode.INVALID, "unknown field"))
    code = value.get("definitionId")
    if not isinstance(code, str) or not code:
        errors.append(FieldError("definitionId", ErrorCode.REQUIRED, "is required (a string)"))
    person, person_errors = person_ref_from_json(value.get("person"))
    errors.extend(person_errors)
    properties = value.get("properties", {})
    if properties is None:
        properties = {}
    if not isinstance(properties, dict):
        errors.append(FieldError("properties", ErrorCode.INVALID_TYPE, "must be an object"))
    tags = value.get("tags", "")
    if isinstance(tags, list) and all(isinstance(t, str) for t in tags):
        tags = ",".join(tags)
    elif tags is None:
        tags = ""
    elif not isinstance(tags, str):
        errors.append(
            FieldError(
                "tags",
                ErrorCode.INVALID_TYPE,
                "must be a comma separated string or a list of strings",
            )
        )
    if errors:
        return None, errors
    core = {name: value.get(key) for key, name in CORE.items() if value.get(key) is not None}
    return EventInput(
        definition_id=code,
        person=person,
        occurred_at=value.get("occurredTime"),
        properties=properties,
        score=value.get("score"),
        tags=tags,
        **core,
    ), []
