"""people.services (SPEC §2, §3): workspaces, people with identifiers, attributes and tags, and
API keys stored as hashes."""

import hashlib
from datetime import date

import pytest
from django.test import Client

from cdp.errors import ErrorCode, ServiceError
from people.models import ApiKey, Identifier, LifecycleStage, Person, PersonTag
from people.services import (
    attribute_definition_create,
    identifier_add,
    person_create,
    person_update,
    tags_add,
    tags_remove,
)
from people.workspaces import api_key_authenticate, api_key_create, api_key_revoke
from tests.factories import PersonFactory, WorkspaceFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def attributes(workspace):
    """Attribute definitions of every type."""
    for key, type_ in (
        ("plan", "text"),
        ("seats", "number"),
        ("trial", "boolean"),
        ("renewal", "date"),
        ("interests", "list"),
    ):
        attribute_definition_create(workspace=workspace, key=key, name=key.title(), type=type_)


def error_of(excinfo) -> tuple[str, str]:
    return excinfo.value.first.field, excinfo.value.first.code


def tags_of(person: Person) -> list[str]:
    return sorted(PersonTag.objects.filter(person=person).values_list("name", flat=True))


def test_workspace_create_adds_default_stages():
    """A new workspace gets the default lifecycle stages in order, and a sub-account points at
    its parent."""
    parent = WorkspaceFactory(slug="parent")
    child = WorkspaceFactory(slug="child", parent=parent)
    codes = list(
        LifecycleStage.objects.filter(workspace=parent)
        .order_by("position")
        .values_list("code", flat=True)
    )
    assert codes == ["lead", "prospect", "opportunity", "customer", "loyal"]
    assert LifecycleStage.objects.filter(workspace=child).count() == 5
    assert child.lineage_ids() == [child.pk, parent.pk]


# person_create ------------------------------------------------------------------------------


@pytest.mark.usefixtures("attributes")
def test_person_create_stores_everything(workspace):
    """Identifiers (normalised), standard and custom attributes and tags are stored."""
    person = person_create(
        workspace=workspace,
        external_id="cust-1",
        identifiers={
            "email": "Eve@Example.COM",
            "phone": "+1 (555) 010-2000",
            "pushRegistrationId": "reg-9",
        },
        standard={
            "firstName": "Eve",
            "lastName": "Smith",
            "birthDate": "1990-01-31",
            "gender": "female",
            "city": "Lisbon",
        },
        attributes={
            "plan": "pro",
            "seats": 5,
            "trial": False,
            "renewal": "2025-01-01",
            "interests": ["shoes", "hats"],
        },
        tags=["vip", " beta ", ""],
    )
    stored = Person.objects.get(pk=person.pk)
    assert stored.workspace_id == workspace.pk
    assert stored.external_id == "cust-1"
    assert (stored.first_name, stored.last_name, stored.birth_date, stored.gender, stored.city) == (
        "Eve",
        "Smith",
        date(1990, 1, 31),
        "female",
        "Lisbon",
    )
    assert stored.attributes == {
        "plan": "pro",
        "seats": 5,
        "trial": False,
        "renewal": "2025-01-01",
        "interests": ["shoes", "hats"],
    }
    assert set(Identifier.objects.filter(person=person).values_list("type", "value")) == {
        ("email", "eve@example.com"),
        ("phone", "+15550102000"),
        ("push", "reg-9"),
    }
    assert tags_of(person) == ["beta", "vip"]


@pytest.mark.usefixtures("attributes")
@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"plan": 5}, "customAttributes.plan"),
        ({"seats": "5"}, "customAttributes.seats"),
        ({"seats": True}, "customAttributes.seats"),
        ({"trial": "yes"}, "customAttributes.trial"),
        ({"renewal": "next year"}, "customAttributes.renewal"),
        ({"interests": ["a", 1]}, "customAttributes.interests"),
    ],
)
def test_custom_attribute_of_wrong_type_is_rejected(workspace, values, field):
    """A value that does not match its AttributeDefinition type is invalid_type naming it."""
    with pytest.raises(ServiceError) as excinfo:
        person_create(workspace=workspace, attributes=values)
    assert error_of(excinfo) == (field, ErrorCode.INVALID_TYPE)
    assert not Person.objects.filter(workspace=workspace).exists()


@pytest.mark.usefixtures("attributes")
def test_unknown_attribute_key_is_rejected(workspace, other_workspace):
    """A key without an attribute definition in this workspace is rejected naming it."""
    attribute_definition_create(workspace=other_workspace, key="tier", name="Tier", type="text")
    with pytest.raises(ServiceError) as excinfo:
        person_create(workspace=workspace, attributes={"plan": "pro", "tier": "gold"})
    assert error_of(excinfo) == ("customAttributes.tier", ErrorCode.UNKNOWN_PROPERTY)
    assert "tier" in str(excinfo.value)
    assert not Person.objects.filter(workspace=workspace).exists()


def test_duplicate_identifier_is_rejected(workspace, other_workspace):
    """An identifier another person of the workspace holds is refused; another workspace may
    use it."""
    PersonFactory(workspace=workspace, identifiers={"email": "dup@example.com"})
    with pytest.raises(ServiceError) as excinfo:
        person_create(workspace=workspace, identifiers={"email": "DUP@example.com"})
    assert error_of(excinfo) == ("identifiers", ErrorCode.DUPLICATE)
    assert "email:dup@example.com" in str(excinfo.value)
    assert Person.objects.filter(workspace=workspace).count() == 1
    assert person_create(workspace=other_workspace, identifiers={"email": "dup@example.com"})


def test_duplicate_external_id_is_rejected(workspace):
    """Two people of a workspace cannot share an external id."""
    PersonFactory(workspace=workspace, external_id="same")
    with pytest.raises(ServiceError) as excinfo:
        person_create(workspace=workspace, identifiers={"externalId": "same"})
    assert error_of(excinfo) == ("externalId", ErrorCode.DUPLICATE)
    assert Person.objects.filter(workspace=workspace).count() == 1


@pytest.mark.parametrize(
    ("standard", "field", "code"),
    [
        ({"birthDate": "31/01/1990"}, "birthDate", ErrorCode.INVALID),
        ({"gender": "x"}, "gender", ErrorCode.INVALID),
        ({"firstName": 7}, "firstName", ErrorCode.INVALID_TYPE),
        ({"city": "c" * 101}, "city", ErrorCode.TOO_LONG),
    ],
)
def test_invalid_standard_attribute_is_rejected(workspace, standard, field, code):
    """Standard attributes are checked and the error names the API field."""
    with pytest.raises(ServiceError) as excinfo:
        person_create(workspace=workspace, standard=standard)
    assert error_of(excinfo) == (field, code)


def test_invalid_identifier_is_rejected(workspace):
    """A malformed email is refused naming the identifier."""
    with pytest.raises(ServiceError) as excinfo:
        person_create(workspace=workspace, identifiers={"email": "no at sign"})
    assert error_of(excinfo) == ("identifiers.email", ErrorCode.INVALID)


# person_update, tags, identifiers -----------------------------------------------------------


@pytest.mark.usefixtures("attributes")
def test_person_update_merges_attributes(workspace):
    """Standard attributes change; custom values merge and None removes one."""
    person = PersonFactory(
        workspace=workspace, standard={"firstName": "Ann"}, attributes={"plan": "free", "seats": 1}
    )
    updated = person_update(
        person=person,
        standard={"lastName": "Lee", "country": "PT"},
        attributes={"plan": "pro", "seats": None, "trial": True},
    )
    stored = Person.objects.get(pk=person.pk)
    assert (stored.first_name, stored.last_name, stored.country) == ("Ann", "Lee", "PT")
    assert stored.attributes == {"plan": "pro", "trial": True}
    assert updated.attributes == stored.attributes


@pytest.mark.usefixtures("attributes")
def test_person_update_rejects_bad_values_and_keeps_the_person(workspace):
    """An invalid update changes nothing."""
    person = PersonFactory(workspace=workspace, attributes={"plan": "free"})
    with pytest.raises(ServiceError) as excinfo:
        person_update(person=person, standard={"firstName": "Bo"}, attributes={"seats": "many"})
    assert error_of(excinfo) == ("customAttributes.seats", ErrorCode.INVALID_TYPE)
    stored = Person.objects.get(pk=person.pk)
    assert (stored.first_name, stored.attributes) == ("", {"plan": "free"})


def test_tags_add_and_remove(workspace):
    """Tags are added once each and removed by name; other people's tags stay."""
    person = PersonFactory(workspace=workspace)
    other = PersonFactory(workspace=workspace, tags=["vip"])
    tags_add(person=person, names=["vip", "beta"])
    tags_add(person=person, names=["vip", "gamma"])
    assert tags_of(person) == ["beta", "gamma", "vip"]
    tags_remove(person=person, names=["vip", "missing"])
    assert tags_of(person) == ["beta", "gamma"]
    assert tags_of(other) == ["vip"]
    assert set(PersonTag.objects.values_list("workspace_id", flat=True)) == {workspace.pk}


def test_identifier_add(workspace):
    """An identifier is added normalised, adding it again is a no-op, and another person's
    identifier is refused."""
    ann = PersonFactory(workspace=workspace)
    bob = PersonFactory(workspace=workspace)
    first = identifier_add(person=ann, type="email", value="Ann@Example.com")
    assert (first.type, first.value) == ("email", "ann@example.com")
    assert identifier_add(person=ann, type="email", value="ann@example.com").pk == first.pk
    with pytest.raises(ServiceError) as excinfo:
        identifier_add(person=bob, type="email", value="ANN@example.com")
    assert error_of(excinfo) == ("value", ErrorCode.DUPLICATE)
    assert Identifier.objects.get(value="ann@example.com").person_id == ann.pk


# API keys -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "marker"), [(ApiKey.Kind.SECRET, "cdp_sk_"), (ApiKey.Kind.PUBLIC, "cdp_pk_")]
)
def test_api_key_is_stored_as_a_hash(workspace, kind, marker):
    """Only the SHA-256 hash and a short prefix are stored; the raw key authenticates."""
    new = api_key_create(workspace=workspace, kind=kind, name="server")
    assert new.raw_key.startswith(marker)
    stored = ApiKey.objects.get(pk=new.api_key.pk)
    assert stored.key_hash == hashlib.sha256(new.raw_key.encode()).hexdigest()
    assert stored.prefix == new.raw_key[:12]
    assert len(new.raw_key) > 30
    row = ApiKey.objects.filter(pk=stored.pk).values().get()
    assert all(new.raw_key not in str(value) for value in row.values())
    found = api_key_authenticate(new.raw_key)
    assert (found.pk, found.kind, found.workspace) == (stored.pk, kind, workspace)


def test_api_key_authenticate_refuses_wrong_and_revoked_keys(workspace):
    """Unknown, empty, oversized and revoked keys do not authenticate; other keys still do."""
    keep = api_key_create(workspace=workspace)
    revoke = api_key_create(workspace=workspace)
    assert api_key_authenticate(keep.raw_key + "x") is None
    assert api_key_authenticate("") is None
    assert api_key_authenticate("cdp_sk_" + "a" * 300) is None
    api_key_revoke(api_key=revoke.api_key)
    assert ApiKey.objects.get(pk=revoke.api_key.pk).revoked_at is not None
    assert api_key_authenticate(revoke.raw_key) is None
    assert api_key_authenticate(keep.raw_key).pk == keep.api_key.pk


@pytest.mark.parametrize("kind", [ApiKey.Kind.SECRET, ApiKey.Kind.PUBLIC])
def test_an_api_call_authenticates_by_the_key_and_records_its_use(workspace, kind):
    """The kernel's API authentication finds the key through the lookup people registers: a
    call is answered for the key's workspace and kind (a public key may not read), and the
    key's last use is recorded."""
    new = api_key_create(workspace=workspace, kind=kind)
    assert ApiKey.objects.get(pk=new.api_key.pk).last_used_at is None
    response = Client(HTTP_AUTHORIZATION=f"Bearer {new.raw_key}").get("/api/v1/definitions")
    assert response.status_code == (200 if kind == ApiKey.Kind.SECRET else 403)
    assert ApiKey.objects.get(pk=new.api_key.pk).last_used_at is not None
    assert (
        Client(HTTP_AUTHORIZATION="Bearer cdp_sk_unknown").get("/api/v1/definitions").status_code
        == 401
    )


def test_api_keys_are_unique(workspace):
    """Two keys never repeat."""
    keys = {api_key_create(workspace=workspace).raw_key for _ in range(20)}
    assert len(keys) == 20
