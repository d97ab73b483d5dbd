"""Input types of the flow services: a whole flow (settings and graph) as one frozen value.

The API and the admin build a ``FlowSpec`` (the API merges a PATCH onto ``flow_spec_get`` of
the stored flow) and hand it to ``flows.services``, which checks and stores it as a whole.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta


@dataclass(frozen=True)
class ElementInput:
    key: str
    kind: str
    config: dict = field(default_factory=dict)
    label: str = ""
    position_x: int = 0
    position_y: int = 0


@dataclass(frozen=True)
class EdgeInput:
    source: str
    target: str
    outcome: str = "next"


@dataclass(frozen=True)
class FlowSpec:
    """Everything a flow is, but its status: settings, elements and edges (by element key)."""

    name: str
    description: str = ""
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    reentry: str = "once"
    reentry_interval: timedelta | None = None
    exit_segment_id: int | None = None
    elements: tuple[ElementInput, ...] = ()
    edges: tuple[EdgeInput, ...] = ()

    def settings(self) -> tuple:
        """The parts that may not change while a flow is active: all but the name, the
        description and the elements' labels and diagram positions."""
        elements = sorted(
            ((e.key, e.kind, e.config) for e in self.elements), key=lambda item: str(item[0])
        )
        return (
            self.starts_at,
            self.ends_at,
            self.reentry,
            self.reentry_interval,
            self.exit_segment_id,
            elements,
            frozenset(self.edges),
        )
