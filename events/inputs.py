"""Input and result types of the ingestion service; every endpoint builds these."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from cdp.errors import FieldError
from events.exports.formats import export_time
from people.inputs import PersonRef


@dataclass(frozen=True)
class FlowCause:
    """The flow element that caused an event (set by the flows runtime, never by a caller).

    Stored on the event as ``Event.flow_cause`` in the names exports use with
    ``enrichWithMomentsInfo`` (§9): the flow's name and start are a snapshot taken when the
    event is recorded.
    """

    flow_id: int
    flow_name: str
    flow_started_at: datetime
    element_id: int
    element_name: str

    def as_json(self) -> dict:
        return {
            "flowId": self.flow_id,
            "campaignName": self.flow_name,
            "campaignStart": export_time(self.flow_started_at),
            "flowElementId": self.element_id,
            "elementName": self.element_name,
        }


@dataclass(frozen=True)
class EventInput:
    """One event as any endpoint describes it (DM Hub core fields included)."""

    definition_id: str
    person: PersonRef
    occurred_at: datetime | str | int | None = None
    properties: Mapping = field(default_factory=dict)
    external_id: str | None = None
    session_id: str | None = None
    target_id: str = ""
    target_name: str = ""
    source: str = ""
    content_name: str = ""
    score: int | None = None
    tags: str = ""
    campaign_code: str = ""
    campaign_name: str = ""
    summary: str = ""
    flow_cause: FlowCause | None = None
    # Any object kept whole as the event's properties (PPMessage's ``event_data``, SPEC §6):
    # only the definition's declared properties are validated from it; ``properties`` is unused.
    data: Mapping | None = None


class Status:
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"


@dataclass(frozen=True)
class ItemResult:
    index: int
    status: str
    event_id: int | None = None
    person_id: int | None = None
    errors: tuple[FieldError, ...] = ()
    # Names a public key sent that hold a known person: ignored, the item was still stored.
    ignored: tuple[FieldError, ...] = ()

    def as_dict(self, *, ids: bool = True) -> dict:
        """The item's answer; ``ids=False`` (public keys, SPEC §2) leaves out the event id."""
        answer = {
            "index": self.index,
            "status": self.status,
            "eventId": self.event_id,
            "errors": [e.as_dict() for e in self.errors],
        }
        if not ids:
            del answer["eventId"]
        return answer


@dataclass(frozen=True)
class IngestResult:
    items: tuple[ItemResult, ...]

    def count(self, status: str) -> int:
        return sum(1 for item in self.items if item.status == status)

    @property
    def accepted(self) -> int:
        return self.count(Status.ACCEPTED)

    @property
    def duplicates(self) -> int:
        return self.count(Status.DUPLICATE)

    @property
    def rejected(self) -> int:
        return self.count(Status.REJECTED)
