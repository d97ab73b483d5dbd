"""The ingestion service (SPEC §5): validation, deduplication, aggregates, sequence numbers,
side effects and set-based writes, through the real database and eager Celery."""

import math
import random
import threading

import pytest
from django.db import connection, connections

from cdp.models import OutboxMessage
from events.ingestion import events_ingest
from events.inputs import EventInput, FlowCause, Status
from events.models import Event, EventAggregate, WorkspaceDefinition
from events.writes import SMALL_BATCH
from people.inputs import PersonRef
from people.models import Identifier, Person, PersonTag
from tests.factories import (
    DefinitionFactory,
    EventInputFactory,
    PersonFactory,
    WorkspaceFactory,
    at,
    event,
    props,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def purchase(workspace):
    """c_purchase: total (number, required), orderId, gift, paidAt, note; score 10."""
    return DefinitionFactory(
        workspace=workspace,
        definition_id="c_purchase",
        default_score=10,
        properties=props(
            total="number!", orderId="text", gift="boolean", paidAt="datetime", note="text"
        ),
    )


@pytest.fixture
def person(workspace):
    return PersonFactory(
        workspace=workspace, external_id="ann", identifiers={"email": "ann@example.com"}
    )


def ingest(workspace, *events: EventInput, create_people: bool = True):
    return events_ingest(
        workspace=workspace,
        events=list(events),
        origin=Event.Origin.API,
        create_people=create_people,
    )


def field_codes(item) -> list[tuple[str, str]]:
    return [(e.field, str(e.code)) for e in item.errors]


# Validation ---------------------------------------------------------------------------------

VALID = {"total": 12.5}
REJECTIONS = [
    (
        "unknown property",
        {"properties": {"total": 1, "colour": "red"}},
        ("properties.colour", "unknown_property"),
    ),
    ("string for number", {"properties": {"total": "12"}}, ("properties.total", "invalid_type")),
    (
        "number for text",
        {"properties": {"total": 1, "orderId": 42}},
        ("properties.orderId", "invalid_type"),
    ),
    (
        "string for boolean",
        {"properties": {"total": 1, "gift": "true"}},
        ("properties.gift", "invalid_type"),
    ),
    (
        "number for boolean",
        {"properties": {"total": 1, "gift": 1}},
        ("properties.gift", "invalid_type"),
    ),
    ("boolean for number", {"properties": {"total": True}}, ("properties.total", "invalid_type")),
    (
        "bad date-time property",
        {"properties": {"total": 1, "paidAt": "soon"}},
        ("properties.paidAt", "invalid"),
    ),
    ("missing required", {"properties": {"orderId": "A1"}}, ("properties.total", "required")),
    ("properties not an object", {"properties": ["total"]}, ("properties", "invalid_type")),
    ("targetId over 255", {"properties": VALID, "target_id": "t" * 256}, ("targetId", "too_long")),
    ("summary over 1024", {"properties": VALID, "summary": "s" * 1025}, ("summary", "too_long")),
    ("tags over 255", {"properties": VALID, "tags": "t" * 256}, ("tags", "too_long")),
    (
        "externalId over 255",
        {"properties": VALID, "external_id": "e" * 256},
        ("externalId", "too_long"),
    ),
    ("score not an integer", {"properties": VALID, "score": "5"}, ("score", "invalid_type")),
    (
        "bad occurredTime",
        {"properties": VALID, "occurred_at": "yesterday"},
        ("occurredTime", "invalid"),
    ),
    (
        "occurredTime of wrong type",
        {"properties": VALID, "occurred_at": [2024]},
        ("occurredTime", "invalid_type"),
    ),
    (
        "occurredTime far in the future",
        {"properties": VALID, "occurred_at": "2999-01-01T00:00Z"},
        ("occurredTime", "invalid"),
    ),
]


@pytest.mark.usefixtures("purchase")
@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [(k, e) for _, k, e in REJECTIONS],
    ids=[name for name, _, _ in REJECTIONS],
)
def test_invalid_event_is_rejected_naming_the_field(workspace, person, kwargs, expected):
    """Each invalid input is rejected with an error naming the field, and nothing is stored."""
    [item] = ingest(workspace, event("c_purchase", person, **kwargs)).items
    assert item.status == Status.REJECTED
    assert item.event_id is None
    assert field_codes(item) == [expected]
    assert item.errors[0].message
    assert not Event.objects.exists()
    assert Person.objects.get(pk=person.pk).score == 0


@pytest.mark.usefixtures("purchase")
def test_unknown_definition_is_rejected(workspace, person):
    """An unknown definition code is rejected on definitionId and named in the message."""
    [item] = ingest(workspace, event("c_nope", person)).items
    assert field_codes(item) == [("definitionId", "unknown_definition")]
    assert "c_nope" in item.errors[0].message
    assert not Event.objects.exists()


def test_disabled_custom_definition_is_rejected(workspace, person):
    """Events of a custom definition with tracking off are rejected as definition_disabled."""
    DefinitionFactory(workspace=workspace, definition_id="c_off", enabled=False)
    [item] = ingest(workspace, event("c_off", person)).items
    assert field_codes(item) == [("definitionId", "definition_disabled")]
    assert not Event.objects.exists()


@pytest.mark.usefixtures("purchase")
def test_missing_person_is_rejected(workspace):
    """An event that names nobody is rejected on person and creates nobody."""
    [item] = ingest(workspace, event("c_purchase", PersonRef(), properties=VALID)).items
    assert field_codes(item) == [("person", "required")]
    assert not Person.objects.filter(workspace=workspace).exists()


@pytest.mark.usefixtures("purchase")
def test_oversize_text_property_follows_the_setting(workspace, person, settings):
    """A text property longer than CDP_MAX_TEXT_PROPERTY_LENGTH is too_long; at the limit it
    is accepted."""
    settings.CDP_MAX_TEXT_PROPERTY_LENGTH = 10
    result = ingest(
        workspace,
        event("c_purchase", person, properties={"total": 1, "note": "x" * 11}),
        event("c_purchase", person, properties={"total": 1, "note": "x" * 10}),
    )
    assert field_codes(result.items[0]) == [("properties.note", "too_long")]
    assert "10" in result.items[0].errors[0].message
    assert result.items[1].status == Status.ACCEPTED
    assert Event.objects.get().properties == {"total": 1, "note": "x" * 10}


@pytest.mark.usefixtures("purchase")
def test_core_fields_at_their_limits_are_stored(workspace, person):
    """targetId of 255 and summary of 1024 characters are accepted and stored as sent."""
    [item] = ingest(
        workspace,
        event("c_purchase", person, properties=VALID, target_id="t" * 255, summary="s" * 1024),
    ).items
    assert item.status == Status.ACCEPTED
    stored = Event.objects.get(pk=item.event_id)
    assert (len(stored.target_id), len(stored.summary)) == (255, 1024)


@pytest.mark.usefixtures("purchase")
def test_several_errors_of_one_item_are_all_reported(workspace, person):
    """An item with several problems reports each field."""
    [item] = ingest(
        workspace, event("c_purchase", person, occurred_at="nope", properties={"gift": "yes"})
    ).items
    assert set(field_codes(item)) == {
        ("occurredTime", "invalid"),
        ("properties.gift", "invalid_type"),
        ("properties.total", "required"),
    }


@pytest.mark.usefixtures("purchase")
def test_rejected_items_do_not_stop_accepted_ones(workspace, person):
    """In a mixed batch each item is answered at its own index; accepted ones are stored."""
    result = ingest(
        workspace,
        event("c_purchase", person, properties={"total": 1}),
        event("c_purchase", person, properties={"total": "1"}),
        event("c_purchase", person, properties={"total": 2}),
        event("c_nope", person),
        event("c_purchase", PersonRef(id=10**9), properties={"total": 3}),
        event("c_purchase", person, properties={"total": 4}),
        create_people=False,
    )
    assert [r.index for r in result.items] == [0, 1, 2, 3, 4, 5]
    assert [r.status for r in result.items] == [
        "accepted",
        "rejected",
        "accepted",
        "rejected",
        "rejected",
        "accepted",
    ]
    assert field_codes(result.items[1]) == [("properties.total", "invalid_type")]
    assert field_codes(result.items[3]) == [("definitionId", "unknown_definition")]
    assert field_codes(result.items[4]) == [("person.id", "person_not_found")]
    stored = dict(Event.objects.values_list("id", "properties__total"))
    assert stored == {
        result.items[0].event_id: 1,
        result.items[2].event_id: 2,
        result.items[5].event_id: 4,
    }
    assert (result.accepted, result.rejected, result.duplicates) == (3, 3, 0)
    assert all(r.person_id == person.pk for r in result.items if r.status == "accepted")


@pytest.mark.usefixtures("purchase")
def test_indexes_stay_right_across_chunks(workspace, person, settings):
    """A batch larger than CDP_MAX_BATCH_SIZE is processed in chunks; answers keep the index
    of the whole batch and a repeat in a later chunk is a duplicate of the earlier one."""
    settings.CDP_MAX_BATCH_SIZE = 3
    items = [
        event("c_purchase", person, properties={"total": i}, external_id=f"e{i}") for i in range(6)
    ]
    items[4] = event("c_purchase", person, properties={"total": "4"}, external_id="e4")
    items.append(event("c_purchase", person, properties={"total": 1}, external_id="e1"))
    result = ingest(workspace, *items)
    assert [r.index for r in result.items] == list(range(7))
    assert [r.status for r in result.items] == ["accepted"] * 4 + [
        "rejected",
        "accepted",
        "duplicate",
    ]
    assert field_codes(result.items[4]) == [("properties.total", "invalid_type")]
    assert result.items[6].event_id == result.items[1].event_id
    stored = dict(Event.objects.values_list("external_id", "id"))
    assert stored == {f"e{i}": result.items[i].event_id for i in (0, 1, 2, 3, 5)}


@pytest.mark.usefixtures("purchase")
def test_stored_event_keeps_what_was_sent(workspace, person):
    """The stored row carries the core fields, properties, times and origin of the input."""
    [item] = ingest(
        workspace,
        event(
            "c_purchase",
            person,
            occurred_at="2024-05-01T14:00:00+02:00",
            properties={
                "total": 9,
                "orderId": "A-1",
                "gift": False,
                "paidAt": "2024-05-01T12:00:00Z",
            },
            external_id="evt-1",
            session_id="s-1",
            target_id="sku-1",
            target_name="Shoe",
            source="web",
            content_name="Shop",
            score=3,
            tags="vip",
            campaign_code="C1",
            campaign_name="Spring",
            summary="bought a shoe",
        ),
    ).items
    stored = Event.objects.get(pk=item.event_id)
    assert stored.occurred_at == at(0)
    assert stored.received_at is not None
    assert stored.origin == "api"
    assert stored.properties == {
        "total": 9,
        "orderId": "A-1",
        "gift": False,
        "paidAt": "2024-05-01T12:00:00Z",
    }
    assert (
        stored.external_id,
        stored.session_id,
        stored.target_id,
        stored.target_name,
        stored.source,
        stored.content_name,
        stored.score,
        stored.tags,
        stored.campaign_code,
        stored.campaign_name,
        stored.summary,
    ) == ("evt-1", "s-1", "sku-1", "Shoe", "web", "Shop", 3, "vip", "C1", "Spring", "bought a shoe")


@pytest.mark.usefixtures("purchase")
def test_occurred_time_accepts_epoch_milliseconds(workspace, person):
    """Epoch milliseconds are read as UTC; a missing time is the received time."""
    result = ingest(
        workspace,
        event("c_purchase", person, properties=VALID, occurred_at=int(at(0).timestamp() * 1000)),
        event("c_purchase", person, properties=VALID, occurred_at=None),
    )
    first, second = (Event.objects.get(pk=r.event_id) for r in result.items)
    assert first.occurred_at == at(0)
    assert second.occurred_at == second.received_at


def test_template_requires_its_required_property(workspace, person):
    """itemViewed requires a numeric itemId."""
    result = ingest(
        workspace,
        event("itemViewed", person, properties={"duration": 3}),
        event("itemViewed", person, properties={"itemId": "7"}),
        event("itemViewed", person, properties={"itemId": 7, "duration": 3}),
    )
    assert field_codes(result.items[0]) == [("properties.itemId", "required")]
    assert field_codes(result.items[1]) == [("properties.itemId", "invalid_type")]
    assert result.items[2].status == Status.ACCEPTED


# Deduplication ------------------------------------------------------------------------------


@pytest.mark.usefixtures("purchase")
def test_duplicate_external_id_across_calls(workspace, person):
    """A repeat of an external id is answered duplicate with the existing id and stored once;
    it changes nothing."""
    first = ingest(
        workspace, event("c_purchase", person, properties={"total": 1}, external_id="order-1")
    )
    second = ingest(
        workspace,
        event(
            "c_purchase",
            person,
            properties={"total": 99},
            external_id="order-1",
            occurred_at=at(60),
        ),
    )
    assert first.items[0].status == Status.ACCEPTED
    assert second.items[0].status == Status.DUPLICATE
    assert second.items[0].event_id == first.items[0].event_id
    assert Event.objects.get().properties == {"total": 1}
    aggregate = EventAggregate.objects.get()
    assert aggregate.count == 1
    assert Person.objects.get(pk=person.pk).score == 10


@pytest.mark.usefixtures("purchase")
def test_duplicate_without_external_id_across_calls(workspace, person):
    """Without an external id, person + definition + occurred time identify the event."""
    first = ingest(workspace, event("c_purchase", person, properties=VALID, occurred_at=at(5)))
    second = ingest(
        workspace,
        event("c_purchase", person, properties=VALID, occurred_at=at(5)),
        event("c_purchase", person, properties=VALID, occurred_at=at(6)),
    )
    assert second.items[0].status == Status.DUPLICATE
    assert second.items[0].event_id == first.items[0].event_id
    assert second.items[1].status == Status.ACCEPTED
    assert Event.objects.count() == 2
    assert EventAggregate.objects.get().count == 2


@pytest.mark.usefixtures("purchase")
def test_same_time_for_another_person_or_definition_is_not_a_duplicate(workspace, person):
    """Dedup without external id needs the same person and the same definition."""
    other = PersonFactory(workspace=workspace)
    DefinitionFactory(workspace=workspace, definition_id="c_other")
    result = ingest(
        workspace,
        event("c_purchase", person, properties=VALID, occurred_at=at(1)),
        event("c_purchase", other, properties=VALID, occurred_at=at(1)),
        event("c_other", person, occurred_at=at(1)),
    )
    assert [r.status for r in result.items] == ["accepted"] * 3
    assert Event.objects.count() == 3


@pytest.mark.usefixtures("purchase")
def test_duplicates_inside_one_batch(workspace, person):
    """Repeats inside a batch (by external id and by person/definition/time) are answered
    duplicate with the id of the first and stored once."""
    result = ingest(
        workspace,
        event("c_purchase", person, properties={"total": 1}, external_id="e-1"),
        event("c_purchase", person, properties={"total": 2}, occurred_at=at(30)),
        event("c_purchase", person, properties={"total": 3}, external_id="e-1"),
        event("c_purchase", person, properties={"total": 4}, occurred_at=at(30)),
    )
    assert [r.status for r in result.items] == ["accepted", "accepted", "duplicate", "duplicate"]
    assert result.items[2].event_id == result.items[0].event_id
    assert result.items[3].event_id == result.items[1].event_id
    assert sorted(Event.objects.values_list("properties__total", flat=True)) == [1, 2]
    assert EventAggregate.objects.get().count == 2
    assert Person.objects.get(pk=person.pk).score == 20


@pytest.mark.usefixtures("purchase")
def test_batch_repeating_a_stored_event_twice(workspace, person):
    """A batch that repeats an already stored event twice answers both as duplicates of it."""
    first = ingest(workspace, event("c_purchase", person, properties=VALID, external_id="x"))
    again = ingest(
        workspace,
        *[event("c_purchase", person, properties=VALID, external_id="x") for _ in range(2)],
    )
    assert [r.status for r in again.items] == ["duplicate", "duplicate"]
    assert {r.event_id for r in again.items} == {first.items[0].event_id}
    assert Event.objects.count() == 1


@pytest.mark.usefixtures("purchase")
def test_external_ids_are_unique_per_workspace(workspace, person, other_workspace):
    """The same external id in two workspaces is two events."""
    DefinitionFactory(
        workspace=other_workspace, definition_id="c_purchase", properties=props(total="number")
    )
    theirs = PersonFactory(workspace=other_workspace)
    mine = ingest(workspace, event("c_purchase", person, properties=VALID, external_id="x"))
    other = ingest(other_workspace, event("c_purchase", theirs, properties=VALID, external_id="x"))
    assert mine.items[0].status == other.items[0].status == Status.ACCEPTED
    assert mine.items[0].event_id != other.items[0].event_id


# Aggregates ---------------------------------------------------------------------------------


@pytest.mark.usefixtures("purchase")
def test_aggregates_follow_occurred_time_not_arrival(workspace, person):
    """Count, first and last time come from occurred times; last data is the latest occurred
    event's properties even when it arrives earlier in the batch."""
    minutes = [30, 10, 50, 20, 40]
    ingest(
        workspace,
        *[event("c_purchase", person, properties={"total": m}, occurred_at=at(m)) for m in minutes],
    )
    aggregate = EventAggregate.objects.get(person=person)
    assert aggregate.workspace_id == workspace.pk
    assert aggregate.definition.definition_id == "c_purchase"
    assert aggregate.count == 5
    assert aggregate.first_at == at(10)
    assert aggregate.last_at == at(50)
    assert aggregate.last_data == {"total": 50}

    ingest(workspace, event("c_purchase", person, properties={"total": 5}, occurred_at=at(5)))
    aggregate.refresh_from_db()
    assert (aggregate.count, aggregate.first_at, aggregate.last_at) == (6, at(5), at(50))
    assert aggregate.last_data == {"total": 50}

    ingest(workspace, event("c_purchase", person, properties={"total": 70}, occurred_at=at(70)))
    aggregate.refresh_from_db()
    assert (aggregate.count, aggregate.last_at, aggregate.last_data) == (7, at(70), {"total": 70})


@pytest.mark.usefixtures("purchase")
def test_aggregates_are_per_person_and_definition(workspace, person):
    """Each person × definition pair has its own aggregate."""
    DefinitionFactory(workspace=workspace, definition_id="c_visit")
    other = PersonFactory(workspace=workspace)
    ingest(
        workspace,
        event("c_purchase", person, properties=VALID, occurred_at=at(1)),
        event("c_purchase", other, properties=VALID, occurred_at=at(2)),
        event("c_purchase", other, properties=VALID, occurred_at=at(3)),
        event("c_visit", person, occurred_at=at(4)),
    )
    counts = {
        (a.person_id, a.definition.definition_id): a.count
        for a in EventAggregate.objects.select_related("definition")
    }
    assert counts == {
        (person.pk, "c_purchase"): 1,
        (other.pk, "c_purchase"): 2,
        (person.pk, "c_visit"): 1,
    }


# Sequence numbers ---------------------------------------------------------------------------


def seqs(workspace) -> dict[str, int]:
    return dict(
        WorkspaceDefinition.objects.filter(workspace=workspace).values_list(
            "definition__definition_id", "seq"
        )
    )


def test_sequence_numbers_follow_first_use(workspace, person):
    """Definitions are numbered 1, 2, 3 in the order of their first use, not creation."""
    for code in ("c_a", "c_b", "c_c"):
        DefinitionFactory(workspace=workspace, definition_id=code)
    ingest(workspace, event("c_c", person))
    ingest(workspace, event("c_a", person), event("c_c", person))
    ingest(workspace, event("c_b", person), event("c_a", person))
    assert seqs(workspace) == {"c_c": 1, "c_a": 2, "c_b": 3}


def test_sequence_numbers_within_one_batch_follow_item_order(workspace, person):
    """First uses inside one batch are numbered in item order."""
    for code in ("c_a", "c_b", "c_c"):
        DefinitionFactory(workspace=workspace, definition_id=code)
    ingest(workspace, event("c_b", person), event("c_c", person), event("c_a", person))
    assert seqs(workspace) == {"c_b": 1, "c_c": 2, "c_a": 3}


def test_rejected_event_does_not_number_its_definition(workspace, person):
    """A definition whose only event was rejected has not been used and gets no number."""
    DefinitionFactory(workspace=workspace, definition_id="c_strict", properties=props(must="text!"))
    DefinitionFactory(workspace=workspace, definition_id="c_easy")
    result = ingest(workspace, event("c_strict", person), event("c_easy", person))
    assert [r.status for r in result.items] == ["rejected", "accepted"]
    assert seqs(workspace) == {"c_easy": 1}


def test_sequence_numbers_are_per_workspace(workspace, other_workspace, person):
    """Each workspace numbers the shared built-in definitions in its own order."""
    theirs = PersonFactory(workspace=other_workspace)
    item = {"itemId": 1}
    ingest(workspace, event("itemViewed", person, properties=item))
    ingest(workspace, event("addedToCart", person, properties=item))
    ingest(workspace, event("addedToFavourites", person, properties=item))
    ingest(other_workspace, event("addedToFavourites", theirs, properties=item))
    ingest(other_workspace, event("itemViewed", theirs, properties=item))
    assert seqs(workspace) == {"itemViewed": 1, "addedToCart": 2, "addedToFavourites": 3}
    assert seqs(other_workspace) == {"addedToFavourites": 1, "itemViewed": 2}


# Side effects on people ---------------------------------------------------------------------


@pytest.mark.usefixtures("purchase")
def test_score_uses_event_score_else_definition_default(workspace, person):
    """An event's own score is added, else the definition's default score."""
    ingest(
        workspace,
        event("c_purchase", person, properties=VALID, score=3),
        event("c_purchase", person, properties=VALID),
        event("c_purchase", person, properties=VALID, score=-1),
    )
    assert Person.objects.get(pk=person.pk).score == 3 + 10 - 1
    ingest(workspace, event("c_purchase", person, properties=VALID))
    assert Person.objects.get(pk=person.pk).score == 22


@pytest.mark.usefixtures("purchase")
def test_event_tags_become_person_tags(workspace, person):
    """Comma separated event tags become the person's tags, once each."""
    other = PersonFactory(workspace=workspace)
    ingest(
        workspace,
        event("c_purchase", person, properties=VALID, tags="vip, newsletter,vip"),
        event("c_purchase", person, properties=VALID, tags="newsletter,,"),
        event("c_purchase", other, properties=VALID, tags="promo"),
    )
    ingest(workspace, event("c_purchase", person, properties=VALID, tags="vip,loyal"))
    assert sorted(PersonTag.objects.filter(person=person).values_list("name", flat=True)) == [
        "loyal",
        "newsletter",
        "vip",
    ]
    assert list(PersonTag.objects.filter(person=other).values_list("name", flat=True)) == ["promo"]
    assert set(PersonTag.objects.values_list("workspace_id", flat=True)) == {workspace.pk}


def test_lifecycle_stage_moves_forward_only(workspace, person):
    """A definition's lifecycle stage moves the person forward, never back."""
    DefinitionFactory(workspace=workspace, definition_id="c_signup", lifecycle_stage="prospect")
    DefinitionFactory(workspace=workspace, definition_id="c_buy", lifecycle_stage="customer")
    DefinitionFactory(workspace=workspace, definition_id="c_touch", lifecycle_stage="lead")

    def stage() -> str:
        return Person.objects.get(pk=person.pk).lifecycle_stage

    ingest(workspace, event("c_signup", person))
    assert stage() == "prospect"
    ingest(workspace, event("c_buy", person))
    assert stage() == "customer"
    ingest(workspace, event("c_signup", person), event("c_touch", person))
    assert stage() == "customer"
    newcomer = PersonFactory(workspace=workspace)
    ingest(workspace, event("c_buy", newcomer), event("c_signup", newcomer))
    assert Person.objects.get(pk=newcomer.pk).lifecycle_stage == "customer"


@pytest.mark.usefixtures("purchase")
def test_first_and_last_seen_widen(workspace, person):
    """First and last seen are the earliest and latest occurred times seen so far."""
    ingest(
        workspace,
        event("c_purchase", person, properties=VALID, occurred_at=at(30)),
        event("c_purchase", person, properties=VALID, occurred_at=at(10)),
    )
    stored = Person.objects.get(pk=person.pk)
    assert (stored.first_seen_at, stored.last_seen_at) == (at(10), at(30))
    ingest(workspace, event("c_purchase", person, properties=VALID, occurred_at=at(20)))
    stored = Person.objects.get(pk=person.pk)
    assert (stored.first_seen_at, stored.last_seen_at) == (at(10), at(30))
    ingest(workspace, event("c_purchase", person, properties=VALID, occurred_at=at(5)))
    stored = Person.objects.get(pk=person.pk)
    assert (stored.first_seen_at, stored.last_seen_at) == (at(5), at(30))
    ingest(workspace, event("c_purchase", person, properties=VALID, occurred_at=at(90)))
    assert Person.objects.get(pk=person.pk).last_seen_at == at(90)


# Set-based writes ---------------------------------------------------------------------------


def _batch(people, n: int, tag: str) -> list[EventInput]:
    refs = [
        PersonRef(external_id=p.external_id)
        if i % 2
        else PersonRef(identifiers={"email": f"{p.external_id}@example.com"})
        for i, p in enumerate(people)
    ]
    return [
        EventInputFactory.build(
            definition_id="c_purchase",
            person=refs[i % len(refs)],
            properties={"total": i},
            external_id=f"{tag}-{i}",
            tags="bulk",
        )
        for i in range(n)
    ]


@pytest.mark.usefixtures("purchase")
def test_query_count_does_not_grow_with_the_batch(workspace, django_assert_max_num_queries):
    """Ingesting 200 events for 50 people runs as many queries as 10 events for 10 people
    (on SQLite, plus the extra INSERT statements Django needs for its 999-parameter limit; on
    PostgreSQL, plus the savepoint drawing the ids that small batches, sent as VALUES, skip)."""
    people = [
        PersonFactory(
            workspace=workspace, external_id=f"p{i}", identifiers={"email": f"p{i}@example.com"}
        )
        for i in range(60)
    ]
    ingest(workspace, *_batch(people[:1], 1, "warm"))  # numbers the definition

    with django_assert_max_num_queries(25) as small:
        result = ingest(workspace, *_batch(people[:10], 10, "small"))
    assert result.accepted == 10
    extra = 0
    if connection.vendor == "sqlite":
        fields = [f for f in Event._meta.concrete_fields if not f.primary_key]
        size = connection.ops.bulk_batch_size(fields, [None] * 200)
        extra = math.ceil(200 / size) - 1
    else:
        assert 10 <= SMALL_BATCH < 200
        extra = 1
    with django_assert_max_num_queries(len(small.captured_queries) + extra) as big:
        result = ingest(workspace, *_batch(people[10:], 200, "big"))
    assert result.accepted == 200
    assert len(big.captured_queries) == len(small.captured_queries) + extra
    assert Event.objects.filter(external_id__startswith="big-").count() == 200
    assert (
        EventAggregate.objects.filter(
            person__external_id__in=[p.external_id for p in people[10:]]
        ).count()
        == 50
    )
    assert Person.objects.get(external_id="p10").score == 40  # 4 events × default score 10


CORE = (
    "session_id",
    "target_id",
    "target_name",
    "source",
    "content_name",
    "score",
    "tags",
    "campaign_code",
    "campaign_name",
    "summary",
)


@pytest.mark.usefixtures("purchase")
@pytest.mark.parametrize("shared", [True, False], ids=["one-value-per-field", "varied"])
def test_large_batches_store_every_core_field(workspace, shared):
    """A batch over the small-batch size stores each event's core fields as sent, whether a
    field holds one value for the whole batch (sent once on PostgreSQL) or varies."""
    people = [PersonFactory(workspace=workspace, external_id=f"c{i}") for i in range(3)]
    n = SMALL_BATCH + 15
    cause = FlowCause(
        flow_id=7, flow_name="Welcome", flow_started_at=at(0), element_id=3, element_name="Tag"
    )

    def value(field: str, i: int):
        i = 0 if shared else i
        return i + 1 if field == "score" else f"{field[:3]}-{i}"

    items = [
        EventInputFactory.build(
            definition_id="c_purchase",
            person=PersonRef(external_id=people[i % 3].external_id),
            occurred_at=at(i),
            properties={"total": i},
            external_id=f"core-{shared}-{i}",
            flow_cause=cause if shared or i % 2 else None,
            **{field: value(field, i) for field in CORE},
        )
        for i in range(n)
    ]
    result = ingest(workspace, *items)
    assert result.accepted == n
    stored = {e.external_id: e for e in Event.objects.filter(external_id__startswith="core-")}
    for i, item in enumerate(items):
        row = stored[item.external_id]
        assert {f: getattr(row, f) for f in CORE} == {f: value(f, i) for f in CORE}
        assert row.properties == {"total": i}
        assert row.occurred_at == at(i)
        assert row.person.external_id == people[i % 3].external_id
        assert row.workspace_id == workspace.pk
        assert row.origin == "api"
        assert row.flow_cause == (cause.as_json() if item.flow_cause else None)
    assert Person.objects.get(pk=people[0].pk).score == sum(
        value("score", i) for i in range(0, n, 3)
    )


@pytest.mark.usefixtures("purchase")
def test_large_batch_repeating_stored_events_counts_only_the_new_ones(workspace, person):
    """A batch over the small-batch size that repeats stored events (by external id and by
    person + definition + time) among new ones answers the repeats as duplicates of the stored
    events, stores only the new ones, and counts only those in aggregates, score and first/last
    seen. (PostgreSQL stores such a batch with one ``COPY`` into the events table; a repeat
    makes it fall back to the staging insert that skips duplicates, and the counters must not
    keep anything of the abandoned ``COPY``.)"""
    n = SMALL_BATCH + 10

    def item(i: int, total: int):
        return event(
            "c_purchase",
            person,
            properties={"total": total},
            occurred_at=at(i + 10),
            external_id=f"big-{i}" if i % 2 else None,
        )

    first = ingest(workspace, *[item(i, i) for i in range(n)])
    assert [r.status for r in first.items] == ["accepted"] * n
    stored = dict(Event.objects.values_list("id", "properties__total"))
    assert sorted(stored) == sorted(r.event_id for r in first.items)
    assert {r.event_id: i for i, r in enumerate(first.items)} == stored
    aggregate = EventAggregate.objects.get(person=person)
    assert (aggregate.count, aggregate.first_at, aggregate.last_at, aggregate.last_data) == (
        n,
        at(10),
        at(n + 9),
        {"total": n - 1},
    )
    assert Person.objects.get(pk=person.pk).score == 10 * n

    # Every third item repeats a stored event (other properties, same identity); the others
    # are new, one of them earlier and one later than all stored.
    again = [
        item(i, 1000 + i)
        if i % 3 == 0
        else event(
            "c_purchase",
            person,
            properties={"total": 2000 + i},
            occurred_at=at(i + 10 + (-10 if i == 1 else n if i == 2 else 0)),
            external_id=f"new-{i}",
        )
        for i in range(n)
    ]
    result = ingest(workspace, *again)
    repeats = [i for i in range(n) if i % 3 == 0]
    assert [result.items[i].status for i in repeats] == ["duplicate"] * len(repeats)
    assert [result.items[i].event_id for i in repeats] == [first.items[i].event_id for i in repeats]
    fresh = [i for i in range(n) if i % 3]
    assert [result.items[i].status for i in fresh] == ["accepted"] * len(fresh)
    assert Event.objects.count() == n + len(fresh)
    assert dict(
        Event.objects.filter(pk__in=[result.items[i].event_id for i in fresh]).values_list(
            "id", "properties__total"
        )
    ) == {result.items[i].event_id: 2000 + i for i in fresh}
    aggregate.refresh_from_db()
    assert (aggregate.count, aggregate.first_at, aggregate.last_at, aggregate.last_data) == (
        n + len(fresh),
        at(1),
        at(n + 12),
        {"total": 2002},
    )
    stored_person = Person.objects.get(pk=person.pk)
    assert stored_person.score == 10 * (n + len(fresh))
    assert (stored_person.first_seen_at, stored_person.last_seen_at) == (at(1), at(n + 12))


# Concurrency (PostgreSQL) -------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_concurrent_overlapping_batches_store_each_event_once():
    """Four threads sending overlapping batches (same external ids, same new customers) end
    with every event stored once, one person per customer, and no error."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL row locking")
    workspace = WorkspaceFactory(slug="concurrent")
    DefinitionFactory(workspace=workspace, definition_id="c_click", properties=props(n="number"))
    known = [PersonFactory(workspace=workspace, external_id=f"k{i}") for i in range(5)]
    total = 120

    def item(i: int) -> EventInput:
        who = (
            PersonRef(id=known[i % 5].pk)
            if i % 3 == 0
            else PersonRef(identifiers={"email": f"new{i % 7}@example.com"})
        )
        return EventInputFactory.build(
            definition_id="c_click",
            person=who,
            properties={"n": i},
            external_id=f"click-{i}",
            occurred_at=at(i),
        )

    batches = []
    for t in range(4):
        ids = list(range(t * 20, min(total, t * 20 + 60)))
        random.Random(t).shuffle(ids)
        batches.append([item(i) for i in ids])
    barrier = threading.Barrier(4)
    results, failures = {}, []

    def run(t: int) -> None:
        try:
            barrier.wait()
            results[t] = events_ingest(workspace=workspace, events=batches[t], origin="api")
        except Exception as exc:  # collected and asserted below
            failures.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(t,)) for t in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert failures == []
    assert all(r.rejected == 0 for r in results.values())
    sent = {i.external_id for batch in batches for i in batch}
    stored = list(Event.objects.filter(workspace=workspace).values_list("external_id", flat=True))
    assert sorted(stored) == sorted(sent)
    by_external = dict(Event.objects.filter(workspace=workspace).values_list("external_id", "id"))
    for t, result in results.items():
        for batch_item, answer in zip(batches[t], result.items, strict=True):
            assert answer.event_id == by_external[batch_item.external_id]
    assert sum(r.accepted for r in results.values()) == len(sent)
    assert Person.objects.filter(workspace=workspace).count() == 5 + 7
    assert sum(
        EventAggregate.objects.filter(workspace=workspace).values_list("count", flat=True)
    ) == len(sent)
    emails = Identifier.objects.filter(workspace=workspace, type="email")
    assert emails.count() == 7
    for identifier in emails:
        numbers = {i for i in range(total) if i % 3 and f"new{i % 7}@" in identifier.value}
        assert (
            set(
                Event.objects.filter(person_id=identifier.person_id).values_list(
                    "properties__n", flat=True
                )
            )
            == numbers
        )
    pending = OutboxMessage.objects.filter(workspace=workspace, processed_at__isnull=True)
    assert not pending.exists()


@pytest.mark.django_db(transaction=True)
def test_large_batch_waiting_on_a_concurrent_writer_retries_and_answers_its_event():
    """A large batch whose ``COPY`` waits on another transaction's uncommitted insert of the
    same event, and gives up on the lock (here ``lock_timeout``; a deadlock alike), is retried
    by the service; once the other commits, the batch answers that event as a duplicate of it
    and stores the rest."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL row locking")
    workspace = WorkspaceFactory(slug="held")
    definition_pk = DefinitionFactory(
        workspace=workspace, definition_id="c_click", properties=props(n="number")
    ).pk
    person = PersonFactory(workspace=workspace, external_id="holder")
    other = connections.create_connection("default")
    other.set_autocommit(False)
    with other.cursor() as cursor:  # uncommitted, holding the external id "click-3"
        cursor.execute(
            "INSERT INTO events_event (workspace_id, definition_id, person_id, occurred_at,"
            " received_at, external_id, session_id, target_id, target_name, source,"
            " content_name, tags, campaign_code, campaign_name, summary, properties, origin)"
            " VALUES (%s, %s, %s, now(), now(), 'click-3', NULL, '', '', '', '', '', '', '',"
            " '', '{}', 'api') RETURNING id",
            [workspace.pk, definition_pk, person.pk],
        )
        held_id = cursor.fetchone()[0]
    other.inc_thread_sharing()  # committed by the timer's thread
    timer = threading.Timer(0.3, other.commit)
    timer.start()
    with connection.cursor() as cursor:
        cursor.execute("SET lock_timeout = '100ms'")
    try:
        items = [
            EventInputFactory.build(
                definition_id="c_click",
                person=PersonRef(external_id="holder"),
                properties={"n": i},
                external_id=f"click-{i}",
                occurred_at=at(i),
            )
            for i in range(SMALL_BATCH + 10)
        ]
        result = events_ingest(workspace=workspace, events=items, origin="api")
    finally:
        timer.join()
        other.close()
        with connection.cursor() as cursor:
            cursor.execute("RESET lock_timeout")
    assert result.items[3].status == Status.DUPLICATE
    assert result.items[3].event_id == held_id
    assert [r.status for r in result.items if r.index != 3] == ["accepted"] * (len(items) - 1)
    assert Event.objects.filter(workspace=workspace).count() == len(items)
    assert EventAggregate.objects.get(person=person).count == len(items) - 1


# Built-in defaults and ranges ---------------------------------------------------------------


def test_session_started_defaults_utm_source_to_direct(workspace, person):
    """A sessionStarted without utm_source is stored with utm_source "direct" (§4)."""
    from events.models import EventDefinition
    from events.services import definition_set_enabled

    definition = EventDefinition.objects.get(workspace=None, definition_id="sessionStarted")
    definition_set_enabled(workspace=workspace, definition=definition, enabled=True)
    result = ingest(
        workspace,
        event("sessionStarted", person, properties={"sessionId": "s1"}),
        event("sessionStarted", person, properties={"utm_source": "google"}, occurred_at=at(5)),
    )
    assert [i.status for i in result.items] == [Status.ACCEPTED, Status.ACCEPTED]
    stored = {e.pk: e.properties for e in Event.objects.filter(person=person)}
    assert stored[result.items[0].event_id]["utm_source"] == "direct"
    assert stored[result.items[1].event_id]["utm_source"] == "google"


def test_view_portion_must_lie_between_zero_and_one(workspace, person):
    """viewPortionSet's portion outside 0.0–1.0 is rejected naming the property."""
    result = ingest(
        workspace,
        event("viewPortionSet", person, properties={"itemId": 1, "portion": 1.5}),
        event(
            "viewPortionSet", person, properties={"itemId": 1, "portion": 0.5}, occurred_at=at(3)
        ),
    )
    assert result.items[0].status == Status.REJECTED
    assert field_codes(result.items[0]) == [("properties.portion", "invalid")]
    assert result.items[1].status == Status.ACCEPTED
