"""JSON shapes of events and definitions in the native API (camelCase, §6).

Built by hand for speed (an event list answers thousands); the OpenAPI description of each is
its ``*OutSerializer`` in ``events.api.schema``, and tests/test_api_shapes.py checks every
answer against it."""

from cdp.api.representation import iso
from events.models import Event, EventDefinition


def event_json(event: Event) -> dict:
    """Return the body ``EventOutSerializer`` describes."""
    return {
        "id": event.pk,
        "definitionId": event.definition.definition_id,
        "personId": event.person_id,
        "occurredTime": iso(event.occurred_at),
        "receivedTime": iso(event.received_at),
        "sessionId": event.session_id,
        "externalId": event.external_id,
        "targetId": event.target_id or None,
        "targetName": event.target_name or None,
        "source": event.source or None,
        "contentName": event.content_name or None,
        "score": event.score,
        "tags": event.tags or None,
        "campaign": event.campaign_code or None,
        "campaignName": event.campaign_name or None,
        "summary": event.summary or None,
        "properties": event.properties,
        "origin": event.origin,
    }


def definition_json(definition: EventDefinition, *, enabled: bool | None = None) -> dict:
    """Return the body ``DefinitionOutSerializer`` describes."""
    return {
        "definitionId": definition.definition_id,
        "name": definition.name,
        "description": definition.description,
        "kind": definition.kind,
        "category": definition.category or None,
        "channel": definition.channel.app_key if definition.channel_id else None,
        "defaultScore": definition.default_score,
        "lifecycleStage": definition.lifecycle_stage or None,
        "enabled": definition.enabled if enabled is None else enabled,
        "properties": [
            {"key": p.key, "name": p.name, "type": p.type, "required": p.required, "scope": p.scope}
            for p in definition.properties.all()
        ],
        "createdTime": iso(definition.created_at),
        "modifiedTime": iso(definition.modified_at),
    }
