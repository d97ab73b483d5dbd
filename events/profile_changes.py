"""Records the profile-change events the people services report (``people.changes``).

Registered in ``people.changes.PROFILE_CHANGE_RECORDERS`` at ``EventsConfig.ready()``. Which
definitions are switched on comes from the workspace's cached catalogue
(``events.definition_cache``); the changes are stored as one ingestion batch (origin
``system``), however many people changed. A person's changes of one definition in one call
(two tags added at once) are a microsecond apart, since one person's events of a definition
at one time are one event (§5).
"""

import logging
from collections import Counter
from datetime import timedelta

from django.utils import timezone

from events.catalogue import PERSON_EVENTS
from events.definition_cache import catalogue_get
from events.ingestion import events_ingest
from events.inputs import EventInput
from events.models import Event
from people.changes import ProfileChange
from people.inputs import PersonRef
from people.models import Workspace

logger = logging.getLogger(__name__)

PROFILE_CHANGE_CODES = frozenset(
    code
    for code, _name, _props in PERSON_EVENTS
    if code.endswith(("Changed", "Added", "Removed")) and code != "personMerged"
)


class EventRecorder:
    """``people.changes.ProfileChangeRecorder`` over the events app."""

    def enabled(self, workspace_id: int) -> frozenset[str]:
        workspace = Workspace.objects.get(pk=workspace_id)
        catalogue = catalogue_get(workspace)
        return frozenset(
            code
            for code in PROFILE_CHANGE_CODES
            if (definition := catalogue.definitions.get(code)) is not None
            and catalogue.enabled.get(definition.pk)
        )

    def record(self, workspace_id: int, changes: list[ProfileChange]) -> None:
        now = timezone.now()
        seen: Counter = Counter()
        items = []
        for change in changes:
            key = (change.person_id, change.code)
            items.append(
                EventInput(
                    definition_id=change.code,
                    person=PersonRef(id=change.person_id),
                    occurred_at=now + timedelta(microseconds=seen[key]),
                    properties=change.properties,
                )
            )
            seen[key] += 1
        result = events_ingest(
            workspace=Workspace.objects.get(pk=workspace_id),
            origin=Event.Origin.SYSTEM,
            events=items,
        )
        if result.rejected:
            logger.warning(
                "%s profile-change events not recorded: %s",
                result.rejected,
                next(r.errors for r in result.items if r.errors),
            )


RECORDER = EventRecorder()
