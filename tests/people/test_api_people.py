"""Native people API (§3, §6): create, update, retrieve by id or any identifier, list and
search, identifiers, tags, attribute definitions; scoped to the key's workspace."""

import pytest

from people.models import AttributeDefinition, Person
from tests.api_helpers import assert_error, workspace_api
from tests.factories import PersonFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(workspace):
    return workspace_api(workspace)


@pytest.fixture
def ann(workspace):
    return PersonFactory(
        workspace=workspace,
        external_id="ann",
        identifiers={"email": "ann@example.com"},
        standard={"firstName": "Ann"},
        tags=["vip"],
    )


def test_create_person(api, workspace):
    """``POST /api/v1/people`` stores identifiers (normalised), attributes and tags."""
    AttributeDefinition.objects.create(
        workspace=workspace, key="plan", name="Plan", type=AttributeDefinition.Type.TEXT
    )
    response = api.secret.post(
        "/api/v1/people",
        {
            "externalId": "bob",
            "identifiers": {"email": "Bob@Example.COM", "phone": "+1 555 0100"},
            "attributes": {"firstName": "Bob", "birthDate": "1990-01-31", "city": "Oslo"},
            "customAttributes": {"plan": "pro"},
            "tags": ["trial"],
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["externalId"] == "bob"
    assert {"type": "email", "value": "bob@example.com"} in body["identifiers"]
    assert body["attributes"]["firstName"] == "Bob"
    assert body["attributes"]["birthDate"] == "1990-01-31"
    assert body["customAttributes"] == {"plan": "pro"}
    assert body["tags"] == ["trial"]
    assert Person.objects.get(pk=body["id"]).city == "Oslo"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"attributes": {"nickname": "x"}}, "attributes.nickname"),
        ({"attributes": {"birthDate": "31/01/1990"}}, "birthDate"),
        ({"customAttributes": {"undefined": 1}}, "customAttributes.undefined"),
        ({"identifiers": {"email": "not-an-email"}}, "identifiers.email"),
    ],
)
def test_create_rejects_bad_fields(api, body, field):
    """Unknown attributes, bad dates, undefined custom attributes and bad identifiers are
    400s naming the field; nobody is created."""
    error = assert_error(api.secret.post("/api/v1/people", body), 400)
    assert field in (error["field"] or ""), error
    assert Person.objects.count() == 0


def test_identifier_taken_by_another_person(api, ann):
    """An identifier that belongs to someone else is refused (409/400 naming it)."""
    response = api.secret.post("/api/v1/people", {"identifiers": {"email": "ann@example.com"}})
    assert response.status_code in {400, 409}
    assert "identifiers" in response.json()["error"]["field"]


def test_retrieve_update_and_lookup(api, ann):
    """Retrieve by id, patch attributes (``null`` removes), look up by any identifier."""
    assert api.secret.get(f"/api/v1/people/{ann.pk}").json()["externalId"] == "ann"
    response = api.secret.patch(
        f"/api/v1/people/{ann.pk}", {"attributes": {"lastName": "Lee", "firstName": None}}
    )
    assert response.status_code == 200, response.content
    assert response.json()["attributes"]["lastName"] == "Lee"
    assert response.json()["attributes"]["firstName"] is None
    found = api.secret.get("/api/v1/people/lookup?type=email&value=ANN@example.com")
    assert found.status_code == 200
    assert found.json()["id"] == ann.pk
    by_external = api.secret.get("/api/v1/people/lookup?type=external_id&value=ann")
    assert by_external.json()["id"] == ann.pk
    assert_error(
        api.secret.get("/api/v1/people/lookup?type=email&value=zed@example.com"), 404, field="value"
    )
    assert_error(api.secret.get("/api/v1/people/lookup?value=x"), 400, field="type")


def test_list_and_search(api, workspace, ann):
    """The list pages with limit/offset; ``q`` searches identifiers, external id and names."""
    PersonFactory(workspace=workspace, external_id="zed", identifiers={"phone": "+15550199"})
    everyone = api.secret.get("/api/v1/people?limit=1").json()
    assert everyone["count"] == 2
    assert len(everyone["results"]) == 1
    found = api.secret.get("/api/v1/people?q=ann@example").json()
    assert [p["id"] for p in found["results"]] == [ann.pk]


def test_identifiers_and_tags(api, ann):
    """Identifiers and tags are added and removed through their sub-resources."""
    added = api.secret.post(
        f"/api/v1/people/{ann.pk}/identifiers", {"type": "phone", "value": "+47 22 00 00 00"}
    )
    assert added.status_code == 201, added.content
    listed = api.secret.get(f"/api/v1/people/{ann.pk}/identifiers").json()
    assert {"type": "phone", "value": "+4722000000"} in listed
    removed = api.secret.delete(
        f"/api/v1/people/{ann.pk}/identifiers", {"type": "email", "value": "ann@example.com"}
    )
    assert removed.status_code == 200
    assert all(i["type"] != "email" for i in removed.json()["identifiers"])
    assert api.secret.post(f"/api/v1/people/{ann.pk}/tags", {"tags": ["beta", "gold"]}).json() == {
        "tags": ["beta", "gold", "vip"]
    }
    assert api.secret.delete(f"/api/v1/people/{ann.pk}/tags", {"tags": ["vip"]}).json() == {
        "tags": ["beta", "gold"]
    }
    assert_error(api.secret.post(f"/api/v1/people/{ann.pk}/tags", {"tags": []}), 400, field="tags")


def test_attribute_definitions(api):
    """Custom attribute definitions are created once per key and listed."""
    created = api.secret.post(
        "/api/v1/attribute-definitions", {"key": "plan", "name": "Plan", "type": "text"}
    )
    assert created.status_code == 201
    assert_error(
        api.secret.post(
            "/api/v1/attribute-definitions", {"key": "plan", "name": "Plan", "type": "text"}
        ),
        400,
        field="key",
    )
    assert_error(
        api.secret.post(
            "/api/v1/attribute-definitions", {"key": "x", "name": "X", "type": "colour"}
        ),
        400,
        field="type",
    )
    assert api.secret.get("/api/v1/attribute-definitions").json() == [
        {"key": "plan", "name": "Plan", "type": "text"}
    ]


def test_workspace_isolation(api, ann, other_workspace):
    """Workspace B's key can't read, look up, change or tag workspace A's people."""
    other = workspace_api(other_workspace)
    assert other.secret.get(f"/api/v1/people/{ann.pk}").status_code == 404
    assert (
        other.secret.patch(f"/api/v1/people/{ann.pk}", {"attributes": {"city": "x"}}).status_code
        == 404
    )
    assert other.secret.post(f"/api/v1/people/{ann.pk}/tags", {"tags": ["x"]}).status_code == 404
    assert (
        other.secret.get("/api/v1/people/lookup?type=email&value=ann@example.com").status_code
        == 404
    )
    assert other.secret.get("/api/v1/people").json()["count"] == 0
    ann.refresh_from_db()
    assert ann.city == ""


def test_public_key_cannot_manage_people(api, ann):
    """Public keys only ingest: people endpoints answer 403."""
    assert_error(api.public.get("/api/v1/people"), 403)
    assert_error(api.public.post("/api/v1/people", {"externalId": "x"}), 403)
