"""Generated data for segment tests: people, tags and events stored through the real services
(``person_create``, ``events_ingest``), plus the same facts kept in plain Python so tests can
compute audiences without the compiler."""

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from events.ingestion import events_ingest
from events.models import EventDefinition
from events.services import definition_set_enabled
from tests.factories import DefinitionFactory, PersonFactory, event, props

TICKET_EVENTS = ("c_ticket_searched", "c_ticket_chosen", "c_checkout")
PATHS = ("/mortgage", "/shoes/red", "/Shoes", "/home", "/shoe", "/mortgage/rates")


@dataclass
class World:
    """What was generated, as plain data: ``events`` are ``(person_id, code, when, path)``."""

    workspace: object
    now: datetime
    people: list = field(default_factory=list)
    country: dict = field(default_factory=dict)
    tags: dict = field(default_factory=dict)
    events: list = field(default_factory=list)

    def count(self, pid: int, code: str, since: datetime | None = None, path=None) -> int:
        return sum(
            1
            for p, c, when, where in self.events
            if p == pid
            and c == code
            and (since is None or when >= since)
            and (path is None or path(where))
        )

    def last(self, pid: int, code: str) -> datetime | None:
        times = [when for p, c, when, _ in self.events if p == pid and c == code]
        return max(times) if times else None

    def days(self, n: int) -> datetime:
        return self.now - timedelta(days=n)


def enable_page_view(workspace) -> None:
    """pageView is a standard person event, off by default: switch it on."""
    definition_set_enabled(
        workspace=workspace,
        enabled=True,
        definition=EventDefinition.objects.get(definition_id="pageView", workspace=None),
    )


def ingest(world: World, rows) -> None:
    """Store ``(person, code, when, path)`` rows through the ingestion service."""
    inputs = [
        event(code, person, occurred_at=when, properties={"path": path} if path is not None else {})
        for person, code, when, path in rows
    ]
    for start in range(0, len(inputs), 500):
        result = events_ingest(
            workspace=world.workspace, origin="api", events=inputs[start : start + 500]
        )
        assert result.rejected == 0, [i.errors for i in result.items if i.errors][:3]
    world.events += [(person.pk, code, when, path) for person, code, when, path in rows]


@pytest.fixture
def world(workspace) -> World:
    """About 40 people with countries, tags, page views and a ticket journey, chosen at random
    (fixed seed) with a few people placed on each side of every seed example's boundary."""
    rng = random.Random(5)
    enable_page_view(workspace)
    for code in TICKET_EVENTS:
        DefinitionFactory(workspace=workspace, definition_id=code, properties=props(step="text"))
    now = timezone.now().replace(microsecond=0)
    world = World(workspace=workspace, now=now)
    rows = []
    for i in range(40):
        country = rng.choice(["DE", "DE", "FR", ""])
        tags = ["newsletter"] if rng.random() < 0.5 else []
        person = PersonFactory(workspace=workspace, standard={"country": country}, tags=tags)
        world.people.append(person)
        world.country[person.pk], world.tags[person.pk] = country, set(tags)
        minutes = rng.sample(range(1, 60 * 24 * 70), k=rng.choice([0, 2, 6, 9, 12]))
        # Boundary people: exactly 5 (4) mortgage views in 30 days, 3 (2) shoe views in 7.
        if i in (0, 1):
            minutes = [60 * 24 * d + 7 * i for d in range(1, 6 - i)]
            rows += [(person, "pageView", now - timedelta(minutes=m), "/mortgage") for m in minutes]
            minutes = []
        if i in (2, 3):
            rows += [
                (person, "pageView", now - timedelta(hours=20 * k + 1), "/shoes/x")
                for k in range(1, 5 - i + 2)
            ]
        if i in (4, 5):  # heavy readers: 101 and 100 views in 30 days
            rows += [
                (person, "pageView", now - timedelta(minutes=300 * k + 11), "/home")
                for k in range(101 - (i - 4))
            ]
        for m in minutes:
            rows.append((person, "pageView", now - timedelta(minutes=m), rng.choice(PATHS)))
        journey = rng.choice([(), TICKET_EVENTS[:1], TICKET_EVENTS[:2], TICKET_EVENTS])
        if i in (6, 7):
            journey = TICKET_EVENTS[:2] if i == 6 else TICKET_EVENTS
        for step, code in enumerate(journey):
            days = rng.choice([1, 3, 9]) if i not in (6, 7) else 1
            rows.append((person, code, now - timedelta(days=days, minutes=step * 5 + i), None))
    ingest(world, rows)
    return world
