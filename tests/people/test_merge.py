"""Merging people (SPEC §3): ``people_merge`` and the merges identity resolution performs
when one reference names identifiers of two people, including under concurrent ingestion."""

import random
import threading

import pytest
from django.db import connection, connections

from cdp.errors import ErrorCode, ServiceError
from events.ingestion import events_ingest
from events.inputs import Status
from events.models import Event, EventAggregate, EventDefinition, IngestionLogEntry
from events.services import definition_set_enabled
from people import merge
from people.inputs import PersonRef
from people.merge import people_merge
from people.models import Identifier, Person, PersonTag
from people.services import person_identify, person_update
from tests.factories import (
    DefinitionFactory,
    PersonFactory,
    WorkspaceFactory,
    at,
    event,
    props,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def visit(workspace):
    return DefinitionFactory(
        workspace=workspace, definition_id="c_visit", default_score=2, properties=props(page="text")
    )


@pytest.fixture
def buy(workspace):
    return DefinitionFactory(
        workspace=workspace,
        definition_id="c_buy",
        default_score=10,
        properties=props(amount="number"),
    )


def ingest(workspace, *items):
    result = events_ingest(workspace=workspace, origin="api", events=list(items))
    assert result.rejected == 0, result
    return result


def enable_person_merged(workspace, enabled: bool = True) -> EventDefinition:
    definition = EventDefinition.objects.get(workspace=None, definition_id="personMerged")
    definition_set_enabled(workspace=workspace, definition=definition, enabled=enabled)
    return definition


def identifiers_of(person: Person) -> set[tuple[str, str]]:
    return set(Identifier.objects.filter(person_id=person.pk).values_list("type", "value"))


def aggregate(person: Person, definition: EventDefinition) -> EventAggregate:
    return EventAggregate.objects.get(person_id=person.pk, definition=definition)


# people_merge --------------------------------------------------------------------------------


@pytest.mark.usefixtures("visit", "buy")
def test_merge_moves_everything_to_the_survivor(workspace, visit, buy):
    """Identifiers, events, tags, blank standard and missing custom attributes, score, seen
    times and the external id move to the survivor; aggregates are combined (counts summed,
    first = min, last = max, last data from the later one); the merged person is gone."""
    from people.services import attribute_definition_create

    attribute_definition_create(workspace=workspace, key="plan", name="Plan", type="text")
    attribute_definition_create(workspace=workspace, key="vip", name="VIP", type="boolean")
    survivor = PersonFactory(
        workspace=workspace,
        external_id=None,
        identifiers={"email": "ann@example.com"},
        standard={"firstName": "Ann", "city": ""},
        attributes={"plan": "gold"},
        tags=["newsletter", "vip"],
    )
    merged = PersonFactory(
        workspace=workspace,
        external_id="crm-7",
        identifiers={"phone": "+44 20 7946 0958", "push": "reg-1"},
        standard={"firstName": "Annie", "lastName": "Smith", "city": "Leeds"},
        attributes={"plan": "silver", "vip": True},
        tags=["vip", "app"],
    )
    ingest(
        workspace,
        event("c_visit", survivor, occurred_at=at(10), properties={"page": "/s1"}),
        event("c_visit", survivor, occurred_at=at(30), properties={"page": "/s2"}),
        event("c_visit", merged, occurred_at=at(5), properties={"page": "/m1"}),
        event("c_visit", merged, occurred_at=at(40), properties={"page": "/m2"}),
        event("c_buy", merged, occurred_at=at(20), properties={"amount": 3}),
    )

    result = people_merge(workspace=workspace, survivor=survivor, merged=merged)

    assert result.pk == survivor.pk
    assert not Person.objects.filter(pk=merged.pk).exists()
    stored = Person.objects.get(pk=survivor.pk)
    assert identifiers_of(stored) == {
        ("email", "ann@example.com"),
        ("phone", "+442079460958"),
        ("push", "reg-1"),
    }
    assert set(PersonTag.objects.filter(person=stored).values_list("name", flat=True)) == {
        "newsletter",
        "vip",
        "app",
    }
    assert (stored.first_name, stored.last_name, stored.city) == ("Ann", "Smith", "Leeds")
    assert stored.attributes == {"plan": "gold", "vip": True}
    assert stored.external_id == "crm-7"
    assert stored.score == 2 * 2 + 2 * 2 + 10
    assert (stored.first_seen_at, stored.last_seen_at) == (at(5), at(40))
    assert Event.objects.filter(person=stored).count() == 5
    assert not Event.objects.filter(person_id=merged.pk).exists()
    visits = aggregate(stored, visit)
    assert (visits.count, visits.first_at, visits.last_at) == (4, at(5), at(40))
    assert visits.last_data == {"page": "/m2"}
    buys = aggregate(stored, buy)
    assert (buys.count, buys.first_at, buys.last_at) == (1, at(20), at(20))
    assert not EventAggregate.objects.filter(person_id=merged.pk).exists()
    assert (result.score, result.external_id) == (stored.score, "crm-7")


@pytest.mark.usefixtures("visit")
def test_survivor_keeps_its_own_values_and_the_later_last_data(workspace, visit):
    """Values the survivor has are kept (external id, names); last data stays the survivor's
    when its last event is the later one; the earlier creation time and the further lifecycle
    stage win."""
    survivor = PersonFactory(workspace=workspace, external_id="s-1", standard={"firstName": "Ann"})
    merged = PersonFactory(
        workspace=workspace, external_id="m-1", standard={"firstName": "Bea", "country": "UK"}
    )
    Person.objects.filter(pk=merged.pk).update(lifecycle_stage="customer", created_at=at(-100))
    ingest(
        workspace,
        event("c_visit", merged, occurred_at=at(1), properties={"page": "/old"}),
        event("c_visit", survivor, occurred_at=at(9), properties={"page": "/new"}),
    )
    people_merge(workspace=workspace, survivor=survivor, merged=merged)
    stored = Person.objects.get(pk=survivor.pk)
    assert (stored.external_id, stored.first_name, stored.country) == ("s-1", "Ann", "UK")
    assert stored.lifecycle_stage == "customer"
    assert stored.created_at == at(-100)
    visits = aggregate(stored, visit)
    assert (visits.count, visits.first_at, visits.last_data) == (2, at(1), {"page": "/new"})


@pytest.mark.usefixtures("visit")
def test_repeated_events_are_kept_once_and_counted_once(workspace, visit):
    """An event of the merged person repeating one of the survivor's (same definition and
    time, no external id) is the same happening: it is stored once after the merge, and the
    aggregate count and the score count it once. Events with external ids all move."""
    survivor = PersonFactory(workspace=workspace)
    merged = PersonFactory(workspace=workspace)
    ingest(
        workspace,
        event("c_visit", survivor, occurred_at=at(1), properties={"page": "/a"}),
        event("c_visit", merged, occurred_at=at(1), properties={"page": "/a"}),
        event("c_visit", merged, occurred_at=at(2)),
        event("c_visit", survivor, occurred_at=at(3), external_id="x-1"),
        event("c_visit", merged, occurred_at=at(3), external_id="x-2"),
    )
    people_merge(workspace=workspace, survivor=survivor, merged=merged)
    stored = Person.objects.get(pk=survivor.pk)
    times = sorted(Event.objects.filter(person=stored).values_list("occurred_at", "external_id"))
    assert times == [(at(1), None), (at(2), None), (at(3), "x-1"), (at(3), "x-2")]
    assert aggregate(stored, visit).count == 4
    assert stored.score == 4 * 2
    assert Event.objects.filter(workspace=workspace).count() == 4


@pytest.mark.usefixtures("visit")
def test_person_merged_is_recorded_when_enabled(workspace):
    """With personMerged enabled, the survivor gets one personMerged event (origin system)
    naming the merged person's id and external id."""
    enable_person_merged(workspace)
    survivor = PersonFactory(workspace=workspace)
    merged = PersonFactory(workspace=workspace, external_id="crm-9")
    people_merge(workspace=workspace, survivor=survivor, merged=merged)
    [recorded] = Event.objects.filter(
        person_id=survivor.pk, definition__definition_id="personMerged"
    )
    assert recorded.origin == Event.Origin.SYSTEM
    assert recorded.properties["mergedPersonId"] == merged.pk
    assert recorded.properties["mergedExternalId"] == "crm-9"


@pytest.mark.usefixtures("visit")
@pytest.mark.parametrize("switch", [None, False], ids=["default off", "switched off"])
def test_person_merged_is_not_recorded_when_disabled(workspace, switch):
    """personMerged is off by default (a standard person event): the merge records no event
    and leaves nothing in the ingestion log."""
    if switch is not None:
        enable_person_merged(workspace, enabled=switch)
    survivor = PersonFactory(workspace=workspace)
    merged = PersonFactory(workspace=workspace)
    people_merge(workspace=workspace, survivor=survivor, merged=merged)
    assert not Event.objects.filter(workspace=workspace).exists()
    assert not IngestionLogEntry.objects.filter(workspace=workspace).exists()
    assert not Person.objects.filter(pk=merged.pk).exists()


def test_merge_handlers_are_called_before_the_merged_person_goes(workspace):
    """Apps keeping rows per person get both people while the merged one still exists."""
    seen = []

    def handler(*, survivor, merged):
        seen.append((survivor.pk, merged.pk, Person.objects.filter(pk=merged.pk).exists()))

    survivor, merged = PersonFactory(workspace=workspace), PersonFactory(workspace=workspace)
    merge.MERGE_HANDLERS.append(handler)
    try:
        people_merge(workspace=workspace, survivor=survivor, merged=merged)
    finally:
        merge.MERGE_HANDLERS.remove(handler)
    assert seen == [(survivor.pk, merged.pk, True)]


def test_merging_a_person_into_themselves_is_an_error(workspace):
    person = PersonFactory(workspace=workspace)
    with pytest.raises(ServiceError) as caught:
        people_merge(workspace=workspace, survivor=person, merged=person)
    assert (caught.value.first.field, caught.value.first.code) == ("personId", ErrorCode.INVALID)
    assert Person.objects.filter(pk=person.pk).exists()


def test_people_of_another_workspace_cannot_be_merged(workspace, other_workspace):
    """Neither person may belong to another workspace; nothing changes."""
    mine = PersonFactory(workspace=workspace, identifiers={"email": "a@example.com"})
    theirs = PersonFactory(workspace=other_workspace, identifiers={"email": "b@example.com"})
    for survivor, merged, field in ((mine, theirs, "personId"), (theirs, mine, "id")):
        with pytest.raises(ServiceError) as caught:
            people_merge(workspace=workspace, survivor=survivor, merged=merged)
        assert (caught.value.first.field, caught.value.first.code) == (
            field,
            ErrorCode.PERSON_NOT_FOUND,
        )
    assert identifiers_of(theirs) == {("email", "b@example.com")}
    assert identifiers_of(mine) == {("email", "a@example.com")}


def test_merging_a_person_already_gone_is_an_error(workspace):
    """A stale copy of a person merged away meanwhile is answered as not found."""
    survivor, merged = PersonFactory(workspace=workspace), PersonFactory(workspace=workspace)
    people_merge(workspace=workspace, survivor=survivor, merged=merged)
    with pytest.raises(ServiceError) as caught:
        people_merge(workspace=workspace, survivor=survivor, merged=merged)
    assert caught.value.first.code == ErrorCode.PERSON_NOT_FOUND


# Merges during identity resolution ------------------------------------------------------------


@pytest.mark.usefixtures("visit")
def test_event_naming_identifiers_of_two_people_merges_them(workspace):
    """An event whose person names the email of one person and the phone of another merges
    them into the oldest; the event is stored on the survivor; personMerged is recorded."""
    enable_person_merged(workspace)
    older = PersonFactory(
        workspace=workspace, external_id=None, identifiers={"email": "ann@example.com"}
    )
    newer = PersonFactory(workspace=workspace, external_id=None, identifiers={"phone": "+15550100"})
    ingest(workspace, event("c_visit", newer, occurred_at=at(0)))
    [item] = ingest(
        workspace,
        event(
            "c_visit",
            PersonRef(identifiers={"phone": "+1 555 0100", "email": "ANN@example.com"}),
            occurred_at=at(1),
        ),
    ).items
    assert item.status == Status.ACCEPTED
    assert item.person_id == older.pk
    assert not Person.objects.filter(pk=newer.pk).exists()
    assert identifiers_of(older) == {("email", "ann@example.com"), ("phone", "+15550100")}
    codes = sorted(
        Event.objects.filter(person_id=older.pk).values_list("definition__definition_id", flat=True)
    )
    assert codes == ["c_visit", "c_visit", "personMerged"]


@pytest.mark.usefixtures("visit")
def test_the_person_named_by_external_id_survives(workspace):
    """When the reference names one of the people by external id (or id), that one survives
    even when it is the newer."""
    older = PersonFactory(
        workspace=workspace, external_id=None, identifiers={"email": "ann@example.com"}
    )
    newer = PersonFactory(workspace=workspace, external_id="crm-1")
    [item] = ingest(
        workspace,
        event("c_visit", PersonRef(external_id="crm-1", identifiers={"email": "ann@example.com"})),
    ).items
    assert item.person_id == newer.pk
    assert not Person.objects.filter(pk=older.pk).exists()
    third = PersonFactory(workspace=workspace, identifiers={"phone": "+15550111"})
    [again] = ingest(
        workspace,
        event("c_visit", PersonRef(id=third.pk, identifiers={"email": "ann@example.com"})),
    ).items
    assert again.person_id == third.pk
    assert Person.objects.filter(workspace=workspace).count() == 1
    assert identifiers_of(third) == {("email", "ann@example.com"), ("phone", "+15550111")}
    assert Person.objects.get(pk=third.pk).external_id == third.external_id


@pytest.mark.usefixtures("visit")
def test_references_sharing_a_new_identifier_in_one_batch_merge_their_people(workspace):
    """Two items of one batch sending the same new push id with two different known people
    show those people are one customer."""
    ann = PersonFactory(workspace=workspace, identifiers={"email": "ann@example.com"})
    bea = PersonFactory(workspace=workspace, identifiers={"email": "bea@example.com"})
    result = ingest(
        workspace,
        event(
            "c_visit",
            PersonRef(identifiers={"email": "bea@example.com", "push": "reg-9"}),
            occurred_at=at(1),
        ),
        event("c_visit", PersonRef(identifiers={"push": "reg-9"}), occurred_at=at(2)),
        event(
            "c_visit",
            PersonRef(identifiers={"email": "ann@example.com", "push": "reg-9"}),
            occurred_at=at(3),
        ),
    )
    assert {i.person_id for i in result.items} == {ann.pk}
    assert Person.objects.filter(workspace=workspace).count() == 1
    assert identifiers_of(ann) == {
        ("email", "ann@example.com"),
        ("email", "bea@example.com"),
        ("push", "reg-9"),
    }
    assert not Person.objects.filter(pk=bea.pk).exists()


@pytest.mark.usefixtures("visit")
def test_an_external_id_alone_follows_its_person_merged_by_another_item(workspace):
    """Items naming a person only by external id, before and after the item that merges that
    person into an older one, land on the survivor; a person named by external id alone and
    untouched by the merge keeps their own."""
    older = PersonFactory(
        workspace=workspace, external_id=None, identifiers={"email": "ann@example.com"}
    )
    newer = PersonFactory(
        workspace=workspace, external_id="crm-2", identifiers={"phone": "+15550100"}
    )
    bystander = PersonFactory(workspace=workspace, external_id="crm-3")
    result = ingest(
        workspace,
        event("c_visit", PersonRef(external_id="crm-2"), occurred_at=at(1)),
        event(
            "c_visit", PersonRef(id=older.pk, identifiers={"phone": "+15550100"}), occurred_at=at(2)
        ),
        event("c_visit", PersonRef(external_id="crm-2"), occurred_at=at(3)),
        event("c_visit", PersonRef(external_id="crm-3"), occurred_at=at(4)),
    )
    assert [i.person_id for i in result.items] == [older.pk] * 3 + [bystander.pk]
    assert not Person.objects.filter(pk=newer.pk).exists()
    assert Event.objects.filter(person_id=older.pk).count() == 3


@pytest.mark.usefixtures("visit")
def test_a_known_person_learns_a_new_external_id(workspace):
    """An anonymous visitor who logs in (cookie known, user id new) keeps their profile and
    gets the external id; a later event by external id finds them."""
    [first] = ingest(
        workspace,
        event("c_visit", PersonRef(identifiers={"anonymousId": "cookie-1"}), occurred_at=at(0)),
    ).items
    [login] = ingest(
        workspace,
        event(
            "c_visit",
            PersonRef(external_id="user-1", identifiers={"anonymousId": "cookie-1"}),
            occurred_at=at(1),
        ),
    ).items
    assert login.person_id == first.person_id
    assert Person.objects.get(pk=first.person_id).external_id == "user-1"
    [later] = ingest(
        workspace, event("c_visit", PersonRef(external_id="user-1"), occurred_at=at(2))
    ).items
    assert later.person_id == first.person_id
    assert Person.objects.filter(workspace=workspace).count() == 1


def test_person_identify_merges_too(workspace):
    """person_identify naming identifiers of two people returns the merged survivor."""
    ann = PersonFactory(workspace=workspace, external_id="a", identifiers={"email": "a@x.io"})
    bob = PersonFactory(workspace=workspace, external_id="b", identifiers={"phone": "+15550122"})
    person_update(person=bob, standard={"city": "Oslo"})
    person = person_identify(
        workspace=workspace, identifiers={"email": "a@x.io", "phone": "+15550122"}
    )
    assert person.pk == ann.pk
    assert person.city == "Oslo"
    assert not Person.objects.filter(pk=bob.pk).exists()


def test_person_identify_reports_an_empty_reference(workspace):
    """A reference whose identifiers are all empty names nobody: an error, not a crash."""
    with pytest.raises(ServiceError) as caught:
        person_identify(workspace=workspace, identifiers={"email": ""})
    assert caught.value.first.code == ErrorCode.REQUIRED


# Concurrency (PostgreSQL) -------------------------------------------------------------------

CUSTOMERS = 20
THREADS = 6


def _customer_ref(rng: random.Random, c: int) -> PersonRef:
    """Name customer ``c`` by one or two of their email, phone, external id, cookie."""
    parts = {
        "email": f"cust{c}@example.com",
        "phone": f"+1555{c:06d}",
        "externalId": f"crm-{c}",
        "anonymousId": f"cookie-{c}",
    }
    chosen = rng.sample(sorted(parts), rng.choice([1, 2, 2, 2]))
    ext = parts["externalId"] if "externalId" in chosen else None
    return PersonRef(
        external_id=ext, identifiers={k: parts[k] for k in chosen if k != "externalId"}
    )


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_ingestion_merges_each_customer_into_one_person():
    """Threads ingesting batches that name 20 customers by overlapping identifiers (singles
    create separate people, pairs merge them) end with exactly one person per customer, all
    of their identifiers on it, and every distinct event stored once, without errors."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL row locking")
    workspace = WorkspaceFactory(slug="merge-race")
    enable_person_merged(workspace)
    DefinitionFactory(workspace=workspace, definition_id="c_visit", properties=props(n="number"))
    batches = []
    for t in range(THREADS):
        rng = random.Random(t)
        items = []
        for n in range(60):
            c = rng.randrange(CUSTOMERS)
            # Some happenings are reported by two threads (a retried delivery): same time.
            minute = t * 1000 + n if rng.random() < 0.8 else 100_000 + c * 10 + n % 3
            items.append(
                event("c_visit", _customer_ref(rng, c), occurred_at=at(minute), properties={"n": c})
            )
        batches.append([items[i : i + 15] for i in range(0, len(items), 15)])
    # Connect every customer's four names at least once, in the last batch of some thread.
    for c in range(CUSTOMERS):
        ref = PersonRef(
            external_id=f"crm-{c}",
            identifiers={
                "email": f"cust{c}@example.com",
                "phone": f"+1555{c:06d}",
                "anonymousId": f"cookie-{c}",
            },
        )
        batches[c % THREADS][-1].append(
            event("c_visit", ref, occurred_at=at(500_000 + c), properties={"n": c})
        )
    barrier = threading.Barrier(THREADS)
    failures: list[BaseException] = []
    rejected: list = []

    def run(t: int) -> None:
        try:
            barrier.wait()
            for batch in batches[t]:
                result = events_ingest(workspace=workspace, events=batch, origin="api")
                rejected.extend(i for i in result.items if i.status == Status.REJECTED)
        except BaseException as exc:  # collected and asserted below
            failures.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(t,)) for t in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert failures == []
    assert rejected == []

    people = Person.objects.filter(workspace=workspace)
    assert people.count() == CUSTOMERS
    for c in range(CUSTOMERS):
        person = people.get(identifiers__type="email", identifiers__value=f"cust{c}@example.com")
        assert person.external_id == f"crm-{c}"
        assert identifiers_of(person) == {
            ("email", f"cust{c}@example.com"),
            ("phone", f"+1555{c:06d}"),
            ("anonymous_id", f"cookie-{c}"),
        }
        numbers = set(
            Event.objects.filter(person=person, definition__definition_id="c_visit").values_list(
                "properties__n", flat=True
            )
        )
        assert numbers == {c}
    sent = {(i.properties["n"], i.occurred_at) for b in batches for batch in b for i in batch}
    visits = Event.objects.filter(workspace=workspace, definition__definition_id="c_visit")
    assert visits.count() == len(sent)
    assert set(visits.values_list("properties__n", "occurred_at")) == sent
    counted = sum(
        EventAggregate.objects.filter(
            workspace=workspace, definition__definition_id="c_visit"
        ).values_list("count", flat=True)
    )
    assert counted == len(sent)
    merged_events = Event.objects.filter(
        workspace=workspace, definition__definition_id="personMerged"
    ).count()
    assert merged_events > 0
