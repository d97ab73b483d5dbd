"""What segments read from the event floor, supplied by ``events`` at start-up.

Rules name events, their definitions and properties, and the per person × definition
aggregates; all of them live on the floor above (``events``). This module says what the rule
checker, the compiler, the explainer and the admin's rule builder need from there, and
``events`` registers the one implementation (``events/segment_source.py``) with
``event_source_register`` in ``EventsConfig.ready()``. So ``people`` imports nothing from
``events``, and the compiled SQL is the same as when it named the models itself.
"""

from typing import Any, Protocol

from django.core.exceptions import ImproperlyConfigured
from django.db.models import QuerySet


class EventSource(Protocol):
    """The event floor as segments see it."""

    def events(self) -> QuerySet:
        """Every event row (``person_id``, ``workspace_id``, ``definition_id``,
        ``occurred_at``, ``properties``)."""

    def aggregates(self) -> QuerySet:
        """Every person × definition aggregate row (``count``, ``first_at``, ``last_at``)."""

    def definition_code_by_seq(self, *, workspace, seq: int) -> str | None:
        """The definition id numbered ``seq`` in ``workspace`` (PPMessage's N), or None."""

    def definition_find(self, *, workspace, code: str) -> Any | None:
        """The definition ``code`` names in ``workspace`` (own, ancestors', built-in; with
        ``pk``, ``definition_id`` and ``channel_id``), or None."""

    def definition_properties(self, *, definition) -> dict[str, str]:
        """``{key: value type of conditions}`` of the properties a ``where`` may filter on:
        the definition's own and those its channel gives every event."""

    def definitions_catalogue(self, *, workspace) -> list[dict]:
        """The definitions the rule builder offers, one per code, with their properties."""


_source: list[EventSource] = []


def event_source_register(source: EventSource) -> None:
    """Make ``source`` the event floor segments read (``EventsConfig.ready()``)."""
    _source[:] = [source]


def event_source() -> EventSource:
    """Return the registered event floor."""
    if not _source:
        raise ImproperlyConfigured("segments need the events app (no event source registered)")
    return _source[0]
