"""Identity resolution during ingestion (SPEC §3, §5): people found by id, external id or
identifiers, created when allowed, and kept apart per workspace."""

import pytest

from cdp.errors import ErrorCode
from events.ingestion import events_ingest
from events.inputs import Status
from events.models import Event
from people.inputs import PersonRef
from people.models import Identifier, Person
from people.resolution import people_resolve
from tests.factories import DefinitionFactory, PersonFactory, at, event

pytestmark = pytest.mark.django_db


@pytest.fixture
def visit(workspace):
    return DefinitionFactory(workspace=workspace, definition_id="c_visit")


@pytest.fixture
def ann(workspace):
    return PersonFactory(
        workspace=workspace,
        external_id="ann-1",
        identifiers={"email": "Ann@Example.com", "phone": "+44 20 7946 0958"},
    )


def ingest(workspace, *refs: PersonRef, create_people: bool = True):
    return events_ingest(
        workspace=workspace,
        origin="api",
        create_people=create_people,
        events=[event("c_visit", ref, occurred_at=at(i)) for i, ref in enumerate(refs)],
    )


def identifiers_of(person_id: int) -> set[tuple[str, str]]:
    return set(Identifier.objects.filter(person_id=person_id).values_list("type", "value"))


@pytest.mark.usefixtures("visit")
@pytest.mark.parametrize(
    "ref",
    [
        pytest.param({"id": True}, id="by id"),
        pytest.param({"external_id": "ann-1"}, id="by external id"),
        pytest.param({"identifiers": {"externalId": "ann-1"}}, id="by externalId identifier"),
        pytest.param({"identifiers": {"email": "ann@example.com"}}, id="by email"),
        pytest.param({"identifiers": {"email": "  ANN@EXAMPLE.COM "}}, id="email any case"),
        pytest.param({"identifiers": {"phone": "+442079460958"}}, id="by phone"),
        pytest.param(
            {"identifiers": {"phone": "0044 (20) 7946-0958"}}, id="phone spelled otherwise"
        ),
    ],
)
def test_event_resolves_to_the_existing_person(workspace, ann, ref):
    """Each kind of reference finds the stored person; no new person is created."""
    person_ref = PersonRef(id=ann.pk) if ref.get("id") else PersonRef(**ref)
    [item] = ingest(workspace, person_ref, create_people=False).items
    assert item.status == Status.ACCEPTED
    assert item.person_id == ann.pk
    assert Event.objects.get(pk=item.event_id).person_id == ann.pk
    assert Person.objects.filter(workspace=workspace).count() == 1


def test_identifiers_are_stored_normalised(workspace, ann):
    """Emails are lower-cased and phones normalised when stored."""
    assert identifiers_of(ann.pk) == {("email", "ann@example.com"), ("phone", "+442079460958")}


@pytest.mark.usefixtures("visit")
def test_several_identifiers_resolve_to_one_person(workspace, ann):
    """A reference naming a known email and a new push id resolves to that person and attaches
    the new identifier to them."""
    [item] = ingest(
        workspace, PersonRef(identifiers={"push": "reg-123", "email": "ann@example.com"})
    ).items
    assert item.person_id == ann.pk
    assert ("push", "reg-123") in identifiers_of(ann.pk)
    [again] = ingest(
        workspace, PersonRef(identifiers={"pushRegistrationId": "reg-123"}), create_people=False
    ).items
    assert again.person_id == ann.pk
    assert Person.objects.filter(workspace=workspace).count() == 1


@pytest.mark.usefixtures("visit")
def test_unknown_person_without_creation_is_rejected(workspace, ann):
    """With create_people=False an unknown person is person_not_found and nobody is created."""
    result = ingest(
        workspace,
        PersonRef(identifiers={"email": "nobody@example.com"}),
        PersonRef(external_id="ghost"),
        PersonRef(id=ann.pk + 1000),
        create_people=False,
    )
    assert [r.status for r in result.items] == ["rejected"] * 3
    assert [(e.field, e.code) for r in result.items for e in r.errors] == [
        ("person", ErrorCode.PERSON_NOT_FOUND),
        ("person", ErrorCode.PERSON_NOT_FOUND),
        ("person.id", ErrorCode.PERSON_NOT_FOUND),
    ]
    assert Person.objects.filter(workspace=workspace).count() == 1
    assert not Identifier.objects.filter(value="nobody@example.com").exists()


@pytest.mark.usefixtures("visit")
def test_new_customer_named_twice_in_a_batch_is_created_once(workspace):
    """With create_people=True a new customer appearing several times in one batch, by
    overlapping identifiers, becomes one person holding all of them."""
    result = ingest(
        workspace,
        PersonRef(identifiers={"email": "New@Example.com"}),
        PersonRef(identifiers={"email": "new@example.com", "phone": "+1 555 010 9999"}),
        PersonRef(identifiers={"phone": "+15550109999"}),
        PersonRef(external_id="bob-7"),
        PersonRef(external_id="bob-7", identifiers={"anonymousId": "cookie-1"}),
    )
    assert [r.status for r in result.items] == ["accepted"] * 5
    new_id, bob_id = result.items[0].person_id, result.items[3].person_id
    assert {r.person_id for r in result.items[:3]} == {new_id}
    assert result.items[4].person_id == bob_id != new_id
    assert Person.objects.filter(workspace=workspace).count() == 2
    assert identifiers_of(new_id) == {("email", "new@example.com"), ("phone", "+15550109999")}
    bob = Person.objects.get(pk=bob_id)
    assert bob.external_id == "bob-7"
    assert identifiers_of(bob_id) == {("anonymous_id", "cookie-1")}
    [later] = ingest(
        workspace, PersonRef(identifiers={"anonymousId": "cookie-1"}), create_people=False
    ).items
    assert later.person_id == bob_id


@pytest.mark.usefixtures("visit")
def test_rejected_items_create_nobody(workspace):
    """An item rejected for its properties or definition does not create its person."""
    result = events_ingest(
        workspace=workspace,
        origin="api",
        events=[
            event(
                "c_visit", PersonRef(identifiers={"email": "x@example.com"}), properties={"nope": 1}
            ),
            event("c_unknown", PersonRef(external_id="y")),
        ],
    )
    assert result.rejected == 2
    assert not Person.objects.filter(workspace=workspace).exists()


@pytest.mark.usefixtures("visit")
@pytest.mark.parametrize(
    ("identifiers", "field", "code"),
    [
        ({"email": "not-an-email"}, "person.identifiers.email", ErrorCode.INVALID),
        ({"phone": "call me"}, "person.identifiers.phone", ErrorCode.INVALID),
        ({"fax": "123"}, "person.identifiers.fax", ErrorCode.INVALID),
        ({"email": 5.5}, "person.identifiers.email", ErrorCode.INVALID_TYPE),
        ({"email": "a" * 250 + "@example.com"}, "person.identifiers.email", ErrorCode.TOO_LONG),
    ],
)
def test_invalid_identifier_is_rejected_naming_it(workspace, identifiers, field, code):
    """A malformed identifier rejects the item, naming the identifier."""
    [item] = ingest(workspace, PersonRef(identifiers=identifiers)).items
    assert item.status == Status.REJECTED
    assert [(e.field, e.code) for e in item.errors] == [(field, code)]
    assert not Person.objects.filter(workspace=workspace).exists()


def test_people_resolve_answers_per_reference(workspace, ann):
    """people_resolve returns one answer per reference, skipping None and reporting stages."""
    resolution = people_resolve(
        workspace=workspace,
        create=False,
        refs=[PersonRef(external_id="ann-1"), None, PersonRef(external_id="nobody")],
    )
    assert resolution.person_ids == [ann.pk, None, None]
    assert resolution.errors[0] == ()
    assert resolution.errors[1] == ()
    assert resolution.errors[2][0].code == ErrorCode.PERSON_NOT_FOUND
    assert resolution.stages[ann.pk] == ""
    assert resolution.created == 0


# Workspace isolation ------------------------------------------------------------------------


@pytest.mark.usefixtures("visit")
def test_person_of_another_workspace_is_not_found(workspace, other_workspace):
    """An event of workspace A cannot name a person id of workspace B."""
    theirs = PersonFactory(workspace=other_workspace, external_id="ann-1")
    result = ingest(workspace, PersonRef(id=theirs.pk), create_people=False)
    assert [(e.field, e.code) for e in result.items[0].errors] == [
        ("person.id", ErrorCode.PERSON_NOT_FOUND)
    ]
    with_creation = ingest(workspace, PersonRef(id=theirs.pk))
    assert with_creation.items[0].status == Status.REJECTED
    assert not Event.objects.filter(person=theirs).exists()


@pytest.mark.usefixtures("visit")
def test_identifiers_and_external_ids_are_per_workspace(workspace, other_workspace, ann):
    """The same email and external id in another workspace belong to a different person, and
    an event resolves only within its own workspace."""
    theirs = PersonFactory(
        workspace=other_workspace, external_id="ann-1", identifiers={"email": "ann@example.com"}
    )
    assert theirs.pk != ann.pk
    result = ingest(
        workspace,
        PersonRef(identifiers={"email": "ann@example.com"}),
        PersonRef(external_id="ann-1"),
        create_people=False,
    )
    assert [r.person_id for r in result.items] == [ann.pk, ann.pk]
    DefinitionFactory(workspace=other_workspace, definition_id="c_visit")
    created = events_ingest(
        workspace=other_workspace,
        origin="api",
        events=[event("c_visit", PersonRef(identifiers={"phone": "+442079460958"}))],
    )
    assert created.items[0].person_id not in {ann.pk, theirs.pk}
    assert Person.objects.get(pk=created.items[0].person_id).workspace_id == other_workspace.pk
    assert Identifier.objects.filter(value="+442079460958").count() == 2
