"""JSON shape of a person in the native API (§6), built by hand for speed; its OpenAPI
description is ``PersonOutSerializer`` (``people.api.views``), which tests/test_api_shapes.py
checks every answer against."""

from cdp.api.representation import iso
from people.models import Person
from people.services import STANDARD_ATTRIBUTES


def person_json(person: Person) -> dict:
    """Return the body ``PersonOutSerializer`` describes."""
    attributes = {}
    for api_name, field in STANDARD_ATTRIBUTES.items():
        value = getattr(person, field)
        attributes[api_name] = value.isoformat() if hasattr(value, "isoformat") else (value or None)
    return {
        "id": person.pk,
        "externalId": person.external_id,
        "identifiers": [{"type": i.type, "value": i.value} for i in person.identifiers.all()],
        "attributes": attributes,
        "customAttributes": person.attributes,
        "tags": sorted(t.name for t in person.tags.all()),
        "lifecycleStage": person.lifecycle_stage or None,
        "score": person.score,
        "firstSeenTime": iso(person.first_seen_at),
        "lastSeenTime": iso(person.last_seen_at),
        "createdTime": iso(person.created_at),
        "modifiedTime": iso(person.modified_at),
    }
