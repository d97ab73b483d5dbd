"""Generated events for analytics tests, stored through the ingestion service and kept as plain
Python facts, and the expected answers computed from those facts in plain Python (no SQL).

People do the ticket steps at random (out of order, repeated, before and after the range, some
times with microseconds), and a few journeys sit on every boundary of the funnel rules: exactly
at the end of the window and one microsecond after it, at the same instant as the step before,
a step 1 before the range, a first attempt that fails while a later one would succeed.
"""

import random
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from events.ingestion import events_ingest
from events.models import EventDefinition
from events.services import definition_set_enabled
from people.inputs import PersonRef
from people.segments.services import segment_create, segment_members_add, segment_members_remove
from tests.factories import DefinitionFactory, PersonFactory, event, props

TICKETS = ("c_ticket_searched", "c_ticket_chosen", "c_checkout")
START = datetime(2024, 5, 1, tzinfo=UTC)
END = datetime(2024, 5, 21, tzinfo=UTC)
WINDOW = timedelta(days=2)
ROUTES = ("PEK-ZAG", "ZAG-LHR", "LHR-JFK", "JFK-PEK", "PEK-LHR", "Zürich-北京")
PATHS = ("/", "/tickets/search", "/tickets/choose", "/checkout", "/blog")


@dataclass(frozen=True)
class Fact:
    person: int
    code: str
    when: datetime
    properties: dict


@dataclass
class Journal:
    """What was stored: the facts, the people, and the members of a static segment (one of
    them has left it again)."""

    workspace: object
    facts: list[Fact] = field(default_factory=list)
    people: list = field(default_factory=list)
    members: set = field(default_factory=set)
    segment: object = None


def _properties(rng: random.Random, code: str) -> dict:
    if code == "pageView":
        return {"path": rng.choice(PATHS)}
    if code == "c_checkout":
        return {
            "amount": rng.choice([20, 35.5, 99]),
            "currency": rng.choice(["EUR", "USD"]),
            "paid": rng.random() < 0.7,
        }
    result = {"seats": rng.randrange(1, 5)}
    if rng.random() < 0.85:  # some events leave the route out ("not set")
        result["route"] = rng.choice(ROUTES)
    return result


def _random_time(rng: random.Random) -> datetime:
    when = START + timedelta(seconds=rng.randrange(-3 * 86400, 24 * 86400))
    return when + timedelta(microseconds=rng.randrange(1, 10**6)) if rng.random() < 0.3 else when


def _boundary_journeys(at) -> list[list[tuple[str, datetime]]]:
    """Journeys (code, time) on the edges of the funnel rules, for a window of 2 days."""
    d, s = timedelta(days=1), timedelta(seconds=1)
    us = timedelta(microseconds=1)
    return [
        [(TICKETS[0], at(1)), (TICKETS[1], at(1) + s), (TICKETS[2], at(1) + 2 * s)],  # fast
        [(TICKETS[2], at(2)), (TICKETS[1], at(2) + s), (TICKETS[0], at(2) + 2 * s)],  # reverse
        # Step 2 exactly at the end of the window (counts); step 3 one microsecond later.
        [(TICKETS[0], at(3)), (TICKETS[1], at(3) + WINDOW), (TICKETS[2], at(3) + WINDOW + us)],
        # The first search starts the attempt; the later complete journey is not it.
        [
            (TICKETS[0], at(4)),
            (TICKETS[0], at(10)),
            (TICKETS[1], at(10) + s),
            (TICKETS[2], at(10) + 2 * s),
        ],
        [(TICKETS[0], at(5)), (TICKETS[1], at(5))],  # the same instant: not after
        # A search before the range does not start the attempt; the one inside does.
        [
            (TICKETS[0], START - d),
            (TICKETS[1], START - d + s),
            (TICKETS[0], at(6)),
            (TICKETS[2], at(6) + s),
            (TICKETS[1], at(6) + 2 * s),
            (TICKETS[2], at(6) + 3 * s),
        ],
        # Searched just before the end of the range; the next steps come after it.
        [(TICKETS[0], END - s), (TICKETS[1], END + d), (TICKETS[2], END + d + s)],
        # Chose the same ticket twice: the earliest after the search counts.
        [
            (TICKETS[0], at(7)),
            (TICKETS[1], at(7) + 5 * s),
            (TICKETS[1], at(7) + 9 * s),
            (TICKETS[2], at(7) + 7 * s),
        ],
    ]


def journal_make(workspace, seed: int, people: int = 36) -> Journal:
    """Store random events (and the boundary journeys) for ``people`` people."""
    rng = random.Random(seed)
    definition_set_enabled(
        workspace=workspace,
        enabled=True,
        definition=EventDefinition.objects.get(workspace=None, definition_id="pageView"),
    )
    DefinitionFactory(
        workspace=workspace,
        definition_id=TICKETS[0],
        properties=props(route="text", seats="number"),
    )
    DefinitionFactory(
        workspace=workspace,
        definition_id=TICKETS[1],
        properties=props(route="text", seats="number"),
    )
    DefinitionFactory(
        workspace=workspace,
        definition_id=TICKETS[2],
        properties=props(amount="number", currency="text", paid="boolean"),
    )
    journal = Journal(workspace=workspace)
    codes = ["pageView", "pageView", *TICKETS, TICKETS[0], TICKETS[1]]
    seen = set()
    rows = []
    for i in range(people):
        person = PersonFactory(workspace=workspace)
        journal.people.append(person)
        picks = [(rng.choice(codes), _random_time(rng)) for _ in range(rng.randrange(0, 30))]
        journeys = _boundary_journeys(lambda day, i=i: START + timedelta(days=day, minutes=i))
        if i < len(journeys):  # only page views besides the journey, so it alone decides
            picks = [(c, w) for c, w in picks if c == "pageView"] + journeys[i]
        for code, when in picks:
            if (person.pk, code, when) not in seen:  # stored once (the events' unique key)
                seen.add((person.pk, code, when))
                rows.append(Fact(person.pk, code, when, _properties(rng, code)))
    for lo in range(0, len(rows), 500):
        result = events_ingest(
            workspace=workspace,
            origin="api",
            events=[
                event(f.code, PersonRef(id=f.person), occurred_at=f.when, properties=f.properties)
                for f in rows[lo : lo + 500]
            ],
        )
        assert (result.accepted, result.rejected) == (len(rows[lo : lo + 500]), 0)
    journal.facts = rows
    segment = segment_create(workspace=workspace, name="Half", kind="static")
    chosen = [p.pk for p in journal.people if rng.random() < 0.5]
    segment_members_add(segment=segment, person_ids=chosen)
    segment_members_remove(segment=segment, person_ids=chosen[:1])  # left again
    journal.segment, journal.members = segment, set(chosen[1:])
    return journal


@pytest.fixture(params=[1, 2], ids=["seed1", "seed2"])
def journal(request, workspace) -> Journal:
    return journal_make(workspace, request.param)


# Expected answers ------------------------------------------------------------------------------


def _holds(value, operator: str, wanted) -> bool:
    """The few property operators the tests use, evaluated in Python."""
    if operator == "is_set":
        return value is not None
    if operator == "equals":
        return value == wanted
    if operator == "in":
        return value in wanted
    if operator == "gt":
        return value is not None and value > wanted
    if operator == "starts_with":
        return isinstance(value, str) and value.lower().startswith(wanted.lower())
    raise ValueError(operator)


def _matches(fact: Fact, code: str, where: list[dict]) -> bool:
    return fact.code == code and all(
        _holds(fact.properties.get(item["property"]), item["operator"], item.get("value"))
        for item in where
    )


def _selection(raw) -> tuple[str, list[dict]]:
    return (raw, []) if isinstance(raw, str) else (raw["event"], raw.get("where", []))


def reference_funnel(
    journal: Journal,
    steps: list,
    start: datetime,
    end: datetime,
    window: timedelta,
    members: set | None = None,
) -> list[dict]:
    """People per step, conversions and median seconds, following the README's rules."""
    steps = [_selection(s) for s in steps]
    by_person = defaultdict(list)
    for fact in journal.facts:
        by_person[fact.person].append(fact)
    reached = [[] for _ in steps]  # per step: the gap from the previous step, per person
    for person, facts in by_person.items():
        if members is not None and person not in members:
            continue
        firsts = [f.when for f in facts if _matches(f, *steps[0]) and start <= f.when < end]
        if not firsts:
            continue
        times = [min(firsts)]
        reached[0].append(None)
        for k, step in enumerate(steps[1:], start=1):
            later = [
                f.when
                for f in facts
                if _matches(f, *step) and f.when > times[-1] and f.when - times[0] <= window
            ]
            if not later:
                break
            times.append(min(later))
            reached[k].append((times[-1] - times[-2]) // timedelta(microseconds=1))
    first = len(reached[0])
    result = []
    for k, gaps in enumerate(reached):
        previous = len(reached[k - 1]) if k else None
        result.append(
            {
                "step": k + 1,
                "people": len(gaps),
                "conversionFromPrevious": None
                if k == 0
                else (len(gaps) / previous if previous else 0.0),
                "conversionFromFirst": len(gaps) / first if first else 0.0,
                "medianSecondsFromPrevious": (
                    statistics.median(gaps) / 1e6 if k and gaps else None
                ),
            }
        )
    return result


def _bucket(when: datetime, interval: str) -> datetime:
    hour = when.replace(minute=0, second=0, microsecond=0)
    day = hour.replace(hour=0)
    return {"hour": hour, "day": day, "week": day - timedelta(days=day.weekday())}[interval]


def _value_text(value) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    return None if value is None else str(value)


def reference_segmentation(
    journal: Journal,
    events: list,
    start: datetime,
    end: datetime,
    interval: str,
    breakdown: dict | None = None,
    members: set | None = None,
) -> list[dict]:
    """Per series (and top value, then "other"): events and unique people per bucket."""
    step = {"hour": timedelta(hours=1), "day": timedelta(days=1), "week": timedelta(weeks=1)}
    starts = [_bucket(start, interval)]
    while starts[-1] + step[interval] < end:
        starts.append(starts[-1] + step[interval])
    index = {b: i for i, b in enumerate(starts)}
    result = []
    for raw in events:
        code, where = _selection(raw)
        facts = [
            f
            for f in journal.facts
            if _matches(f, code, where)
            and start <= f.when < end
            and (members is None or f.person in members)
        ]
        if breakdown is None:
            groups = {None: facts}
            keys = [(None, False)]
        else:
            value_of = {id(f): _value_text(f.properties.get(breakdown["property"])) for f in facts}
            counts = Counter(value_of.values())
            ranked = sorted(counts, key=lambda v: (-counts[v], v is None, v or ""))
            top = ranked[: breakdown.get("limit", 10)]
            groups = {v: [f for f in facts if value_of[id(f)] == v] for v in top}
            rest = [f for f in facts if value_of[id(f)] not in top]
            keys = [(v, False) for v in top]
            if rest:
                groups["<other>"] = rest
                keys.append((None, True))
        for value, other in keys:
            rows = groups["<other>" if other else value]
            n_events, n_people = [0] * len(starts), [set() for _ in starts]
            for fact in rows:
                i = index[_bucket(fact.when, interval)]
                n_events[i] += 1
                n_people[i].add(fact.person)
            result.append(
                {
                    "event": code,
                    "value": value,
                    "other": other,
                    "events": n_events,
                    "people": [len(p) for p in n_people],
                }
            )
    return result


def reference_funnel_people(
    journal: Journal,
    steps: list,
    start: datetime,
    end: datetime,
    window: timedelta,
    members: set | None = None,
) -> list[set]:
    """The ids of the people reaching each step, following the README's rules."""
    steps = [_selection(s) for s in steps]
    by_person = defaultdict(list)
    for fact in journal.facts:
        by_person[fact.person].append(fact)
    reached = [set() for _ in steps]
    for person, facts in by_person.items():
        if members is not None and person not in members:
            continue
        firsts = [f.when for f in facts if _matches(f, *steps[0]) and start <= f.when < end]
        if not firsts:
            continue
        times = [min(firsts)]
        reached[0].add(person)
        for k, step in enumerate(steps[1:], start=1):
            later = [
                f.when
                for f in facts
                if _matches(f, *step) and f.when > times[-1] and f.when - times[0] <= window
            ]
            if not later:
                break
            times.append(min(later))
            reached[k].add(person)
    return reached


def reference_retention(
    journal: Journal,
    cohort_event,
    return_event,
    start: datetime,
    end: datetime,
    interval: str,
    periods: int,
    members: set | None = None,
) -> list[dict]:
    """Per cohort: its start, its people and the people who returned per period (as id sets),
    following the README's rules."""
    step = {"day": timedelta(days=1), "week": timedelta(weeks=1)}[interval]
    starts = [_bucket(start, interval)]
    while starts[-1] + step < end:
        starts.append(starts[-1] + step)
    cohorts = [
        {"start": s, "people": set(), "returned": [set() for _ in range(periods + 1)]}
        for s in starts
    ]
    index = {s: i for i, s in enumerate(starts)}
    cohort_code, cohort_where = _selection(cohort_event)
    return_code, return_where = _selection(return_event)
    by_person = defaultdict(list)
    for fact in journal.facts:
        by_person[fact.person].append(fact)
    for person, facts in by_person.items():
        if members is not None and person not in members:
            continue
        firsts = [
            f.when
            for f in facts
            if _matches(f, cohort_code, cohort_where) and start <= f.when < end
        ]
        if not firsts:
            continue
        first = min(firsts)
        cohort = _bucket(first, interval)
        cohorts[index[cohort]]["people"].add(person)
        for f in facts:
            if _matches(f, return_code, return_where) and f.when >= first:
                period = (_bucket(f.when, interval) - cohort) // step
                if period <= periods:
                    cohorts[index[cohort]]["returned"][period].add(person)
    return cohorts
