"""Read paths for definitions and events, shared by the API, the admin and the services."""

import re

from django.db.models import Q, QuerySet

from events.catalogue import is_enabled_by_default
from events.models import (
    Channel,
    Event,
    EventAggregate,
    EventDefinition,
    PropertyDefinition,
    WorkspaceDefinition,
)
from people.models import LifecycleStage, Workspace


def definition_list(*, workspace: Workspace) -> QuerySet[EventDefinition]:
    """Definitions a workspace can use: built-in ones, its own and its ancestors'."""
    return EventDefinition.objects.filter(
        Q(workspace__isnull=True) | Q(workspace_id__in=workspace.lineage_ids())
    )


def definition_get(*, workspace: Workspace, definition_id: str) -> EventDefinition | None:
    return definition_list(workspace=workspace).filter(definition_id=definition_id).first()


def definition_enabled_map(
    *, workspace: Workspace, definitions: list[EventDefinition]
) -> dict[int, bool]:
    """Return ``{definition pk: enabled}`` for this workspace (switches and defaults)."""
    switches = dict(
        WorkspaceDefinition.objects.filter(
            workspace=workspace,
            definition__in=definitions,
            enabled__isnull=False,
        ).values_list("definition_id", "enabled")
    )
    result = {}
    for definition in definitions:
        if not definition.enabled:
            result[definition.pk] = False
        elif definition.pk in switches:
            result[definition.pk] = switches[definition.pk]
        elif definition.is_builtin:
            result[definition.pk] = is_enabled_by_default(definition.kind, definition.category)
        else:
            result[definition.pk] = True
    return result


def workspace_numbered(*, workspace: Workspace) -> set[int]:
    """Return the pks of definitions that have a sequence number in this workspace."""
    return set(
        WorkspaceDefinition.objects.filter(workspace=workspace).values_list(
            "definition_id", flat=True
        )
    )


# PPMessage's names of a person's aggregates (SPEC §5, §8): ``event_count_N`` and so on, N being
# the definition's sequence number in the workspace.
AGGREGATE_NAME = re.compile(r"^event_(count|first_time|last_time|last_data)_(\d{1,9})$")


def definition_code_by_seq(*, workspace: Workspace, seq: int) -> str | None:
    """The definition id numbered ``seq`` in this workspace (PPMessage's N), or None."""
    return (
        WorkspaceDefinition.objects.filter(workspace=workspace, seq=seq)
        .values_list("definition__definition_id", flat=True)
        .first()
    )


def person_aggregate_values(*, workspace_id: int, person_id: int) -> dict:
    """The person's aggregates under PPMessage's names, for every numbered definition they
    have events of: ``{"event_count_1": 3, "event_first_time_1": datetime, …,
    "event_last_data_1": {…}}``."""
    seqs = dict(
        WorkspaceDefinition.objects.filter(workspace_id=workspace_id).values_list(
            "definition_id", "seq"
        )
    )
    values = {}
    for aggregate in EventAggregate.objects.filter(
        workspace_id=workspace_id, person_id=person_id, definition_id__in=list(seqs)
    ):
        n = seqs[aggregate.definition_id]
        values[f"event_count_{n}"] = aggregate.count
        values[f"event_first_time_{n}"] = aggregate.first_at
        values[f"event_last_time_{n}"] = aggregate.last_at
        values[f"event_last_data_{n}"] = aggregate.last_data
    return values


def event_list(*, workspace: Workspace) -> QuerySet[Event]:
    return Event.objects.filter(workspace=workspace).select_related("definition", "person")


def definition_usages(*, definition: EventDefinition) -> list[str]:
    """Describe what uses a definition (events, segments, active flows); empty when unused."""
    usages = []
    # Aggregates summarise events per person × definition and are indexed by definition, so
    # this answers without scanning the events table.
    if EventAggregate.objects.filter(definition=definition).exists():
        usages.append("it has recorded events")
    for provider in USAGE_PROVIDERS:
        usages.extend(provider(definition))
    return usages


# Segments and flows register functions here returning descriptions of their uses.
USAGE_PROVIDERS: list = []


def definitions_moving_to_stage(stage: LifecycleStage) -> list[str]:
    """Describe the definitions that move people to ``stage`` (registered with
    ``people.workspaces.LIFECYCLE_STAGE_USAGE_PROVIDERS``); empty when none does."""
    codes = list(
        EventDefinition.objects.filter(
            workspace_id=stage.workspace_id,
            lifecycle_stage=stage.code,
        ).values_list("definition_id", flat=True)[:5]
    )
    return ["definitions move people to it: " + ", ".join(codes)] if codes else []


_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_NON_WORD = re.compile(r"[^a-z0-9]+")


def definition_code_for(*, workspace: Workspace, name: str) -> str:
    """Map an event name from another system to a definition id: a name equal to an existing
    definition id is that definition; otherwise ``c_`` + the name in snake case (§6)."""
    if definition_get(workspace=workspace, definition_id=name) is not None:
        return name
    snake = _NON_WORD.sub("_", _CAMEL.sub("_", name.strip()).lower()).strip("_")
    code = snake if snake.startswith("c_") else f"c_{snake}"
    return code[:32]


def channel_list(*, workspace: Workspace) -> QuerySet[Channel]:
    """The workspace's own channels, by name."""
    return Channel.objects.filter(workspace=workspace).order_by("name", "id")


def channel_get(*, workspace: Workspace, channel_id: int) -> Channel | None:
    return channel_list(workspace=workspace).filter(pk=channel_id).first()


def channel_global_properties(*, channels: list[Channel]) -> dict[int, list[PropertyDefinition]]:
    """The global properties (SPEC §4: carried by every event of the channel) declared on the
    channels' definitions, per channel pk, one per key (the first declared)."""
    found: dict[int, dict[str, PropertyDefinition]] = {c.pk: {} for c in channels}
    for prop in (
        PropertyDefinition.objects.filter(
            scope=PropertyDefinition.Scope.GLOBAL, definition__channel__in=channels
        )
        .select_related("definition")
        .order_by("definition_id", "position", "id")
    ):
        found[prop.definition.channel_id].setdefault(prop.key, prop)
    return {pk: list(props.values()) for pk, props in found.items()}


def channel_usages(*, channel: Channel) -> list[str]:
    """Describe what keeps a channel from being deleted (its definitions' recorded events);
    empty when nothing does."""
    definitions = dict(
        EventDefinition.objects.filter(channel=channel).values_list("pk", "definition_id")
    )
    # Aggregates are indexed by definition: no scan of the events table.
    used = set(
        EventAggregate.objects.filter(definition_id__in=list(definitions))
        .values_list("definition_id", flat=True)
        .distinct()
    )
    if not used:
        return []
    codes = ", ".join(sorted(definitions[pk] for pk in used))
    return [f"events of {codes} were recorded through it"]


def person_globals_latest(
    workspace_id: int, person_id: int, definition_pks: list[int], keys: tuple[str, ...]
) -> dict:
    """The latest stored value of each global property of ``keys`` among the person's events
    of ``definition_pks`` (a channel's definitions): one query per key on the index of
    person, definition and time."""
    values = {}
    for key in keys:
        latest = (
            Event.objects.filter(
                workspace_id=workspace_id,
                person_id=person_id,
                definition_id__in=definition_pks,
                properties__has_key=key,
            )
            .order_by("-occurred_at", "-id")
            .values_list("properties", flat=True)
            .first()
        )
        if latest is not None:
            values[key] = latest[key]
    return values
