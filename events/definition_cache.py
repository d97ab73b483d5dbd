"""Per-process cache of what ingestion needs to know about a workspace's event definitions.

Loading definitions, their properties, the channel's global properties and the workspace's
switches costs several queries; events arrive far more often than definitions change. Each
process keeps a ``Catalogue`` per workspace, valid while a version stamp in the shared cache
(Redis in production) is unchanged: one cache read per batch instead of 4–5 queries.

Any change to definitions, properties, switches or channels calls ``definitions_changed`` (the
services do, and model signals catch the rest): it drops this process's catalogues at once and
writes a new stamp now and again after commit, so another process can never keep what it read
before the change was committed. When the shared cache is unreachable the catalogue is loaded
from the database for every batch.
"""

import logging
import threading
import uuid
from collections import defaultdict
from dataclasses import dataclass, field

from django.core.cache import cache
from django.db import transaction

from events.models import EventDefinition, PropertyDefinition
from events.selectors import definition_enabled_map, definition_list, workspace_numbered
from events.validation import DefinitionValidator

logger = logging.getLogger(__name__)
VERSION_KEY = "cdp:definitions:version"
_local: dict[tuple[int, ...], tuple[str, "Catalogue"]] = {}
_lock = threading.Lock()


@dataclass
class Catalogue:
    """A workspace's usable definitions by code, their validators and on/off state."""

    definitions: dict[str, EventDefinition]
    validators: dict[str, object]
    enabled: dict[int, bool]
    numbered: set[int] = field(default_factory=set)  # definition pks with a sequence number
    # Per channel pk, the keys of its global properties (carried to its later events).
    global_keys: dict[int, tuple[str, ...]] = field(default_factory=dict)


def _load(workspace) -> Catalogue:
    definitions: dict[str, EventDefinition] = {}
    rank = {pk: i for i, pk in enumerate(workspace.lineage_ids())}
    for definition in definition_list(workspace=workspace):
        current = definitions.get(definition.definition_id)
        # The workspace's own definition wins over a parent's, which wins over a built-in.
        mine = rank.get(definition.workspace_id, len(rank))
        if current is None or mine < rank.get(current.workspace_id, len(rank)):
            definitions[definition.definition_id] = definition
    props: dict[int, list[PropertyDefinition]] = defaultdict(list)
    by_pk = {d.pk: d for d in definitions.values()}
    for prop in PropertyDefinition.objects.filter(definition_id__in=list(by_pk)):
        props[prop.definition_id].append(prop)
    channel_ids = {d.channel_id for d in definitions.values() if d.channel_id}
    global_keys: dict[int, dict[str, None]] = defaultdict(dict)
    if channel_ids:
        # Global properties are carried by every event of the same channel.
        for prop in PropertyDefinition.objects.filter(
            scope=PropertyDefinition.Scope.GLOBAL, definition__channel_id__in=channel_ids
        ).select_related("definition"):
            global_keys[prop.definition.channel_id][prop.key] = None
            for definition in definitions.values():
                if definition.channel_id == prop.definition.channel_id and all(
                    p.key != prop.key for p in props[definition.pk]
                ):
                    props[definition.pk].append(prop)
    enabled = definition_enabled_map(workspace=workspace, definitions=list(definitions.values()))
    validators = {code: DefinitionValidator(d, props[d.pk]) for code, d in definitions.items()}
    return Catalogue(
        definitions=definitions,
        validators=validators,
        enabled=enabled,
        numbered=workspace_numbered(workspace=workspace),
        global_keys={pk: tuple(keys) for pk, keys in global_keys.items()},
    )


def _version() -> str | None:
    try:
        version = cache.get(VERSION_KEY)
        if version is None:
            cache.add(VERSION_KEY, uuid.uuid4().hex, timeout=None)
            version = cache.get(VERSION_KEY)
        return version
    except Exception as exc:  # the cache backend's own connection errors
        logger.warning("definition cache stamp unavailable, loading from the database: %s", exc)
        return None


def catalogue_get(workspace) -> Catalogue:
    """Return the workspace's catalogue, from this process's cache when still current."""
    key = tuple(workspace.lineage_ids())
    version = _version()
    if version is not None:
        entry = _local.get(key)
        if entry is not None and entry[0] == version:
            return entry[1]
    catalogue = _load(workspace)
    if version is not None:
        with _lock:
            _local[key] = (version, catalogue)
    return catalogue


def _bump() -> None:
    _local.clear()
    try:
        cache.set(VERSION_KEY, uuid.uuid4().hex, timeout=None)
    except Exception as exc:
        logger.warning("definition cache stamp not bumped: %s", exc)


def definitions_changed() -> None:
    """Invalidate every process's catalogues now and again once the change is committed."""
    _bump()
    transaction.on_commit(_bump)


def catalogues_clear() -> None:
    """Drop this process's catalogues (tests start each case from the database)."""
    _local.clear()
