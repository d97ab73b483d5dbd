"""The event floor as segments read it (``people.segments.sources.EventSource``), registered
in ``EventsConfig.ready()``; and how property types read as condition value types."""

from django.db.models import QuerySet

from events.models import Event, EventAggregate, EventDefinition, PropertyDefinition
from events.selectors import definition_code_by_seq, definition_enabled_map, definition_list
from people.models import Workspace
from people.segments import conditions as c

# Property types as the value types of conditions (segments, flow branches, analytics filters).
PROPERTY_TYPES = {
    PropertyDefinition.Type.TEXT: c.TEXT,
    PropertyDefinition.Type.NUMBER: c.NUMBER,
    PropertyDefinition.Type.BOOLEAN: c.BOOLEAN,
    PropertyDefinition.Type.DATETIME: c.OPAQUE,
}


class EventTables:
    """Events, aggregates and definitions from this app's models."""

    def events(self) -> QuerySet[Event]:
        return Event.objects.all()

    def aggregates(self) -> QuerySet[EventAggregate]:
        return EventAggregate.objects.all()

    def definition_code_by_seq(self, *, workspace: Workspace, seq: int) -> str | None:
        return definition_code_by_seq(workspace=workspace, seq=seq)

    def definition_find(self, *, workspace: Workspace, code: str) -> EventDefinition | None:
        return definition_list(workspace=workspace).filter(definition_id=code).first()

    def definition_properties(self, *, definition: EventDefinition) -> dict[str, str]:
        properties = {p.key: p for p in PropertyDefinition.objects.filter(definition=definition)}
        if definition.channel_id:
            properties.update(
                {
                    p.key: p
                    for p in PropertyDefinition.objects.filter(
                        scope=PropertyDefinition.Scope.GLOBAL,
                        definition__channel_id=definition.channel_id,
                    )
                }
            )
        return {key: PROPERTY_TYPES[p.type] for key, p in properties.items()}

    def definitions_catalogue(self, *, workspace: Workspace) -> list[dict]:
        """Definitions the rules can name, one per code (the one ``rules_validate``
        resolves), each with the properties a ``where`` filter may use and their value
        types."""
        chosen: dict[str, EventDefinition] = {}
        for definition in definition_list(workspace=workspace).prefetch_related("properties"):
            chosen.setdefault(definition.definition_id, definition)
        definitions = list(chosen.values())
        channel_ids = {d.channel_id for d in definitions if d.channel_id}
        shared: dict[int, list] = {}
        for prop in PropertyDefinition.objects.filter(
            scope=PropertyDefinition.Scope.GLOBAL, definition__channel_id__in=channel_ids
        ).select_related("definition"):
            shared.setdefault(prop.definition.channel_id, []).append(prop)
        enabled = definition_enabled_map(workspace=workspace, definitions=definitions)
        result = []
        for definition in sorted(definitions, key=lambda d: (d.name.lower(), d.definition_id)):
            properties = {p.key: p for p in definition.properties.all()}
            properties.update({p.key: p for p in shared.get(definition.channel_id, [])})
            result.append(
                {
                    "id": definition.definition_id,
                    "name": definition.name,
                    "enabled": enabled[definition.pk],
                    "properties": [
                        {"key": p.key, "name": p.name or p.key, "type": PROPERTY_TYPES[p.type]}
                        for p in sorted(properties.values(), key=lambda p: p.key.lower())
                    ],
                }
            )
        return result
