"""Input types of the people services: how a caller names a person."""

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class PersonRef:
    """Who did it: an internal id, an external id and/or identifiers such as email."""

    id: int | None = None
    external_id: str | None = None
    identifiers: Mapping[str, str] = field(default_factory=dict)

    def is_empty(self) -> bool:
        return self.id is None and not self.external_id and not self.identifiers
