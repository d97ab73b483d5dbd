"""Native API for merge and GDPR erase (§3, §6): ``POST /api/v1/people/{id}/merge`` and
``POST /api/v1/people/{id}/erase`` over HTTP, with secret keys only and native errors."""

import pytest

from events.ingestion import events_ingest
from events.models import Event
from people.models import ErasureRecord, Person
from tests.api_helpers import assert_error, key_client, workspace_api
from tests.factories import DefinitionFactory, PersonFactory, at, event

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(workspace):
    return workspace_api(workspace)


@pytest.fixture
def people(workspace):
    DefinitionFactory(workspace=workspace, definition_id="c_visit", default_score=3)
    ann = PersonFactory(
        workspace=workspace,
        external_id=None,
        identifiers={"email": "ann@example.com"},
        tags=["vip"],
    )
    bea = PersonFactory(
        workspace=workspace,
        external_id="crm-2",
        identifiers={"phone": "+15550100"},
        standard={"firstName": "Bea"},
        tags=["app"],
    )
    events_ingest(
        workspace=workspace,
        origin="api",
        events=[event("c_visit", ann, occurred_at=at(1)), event("c_visit", bea, occurred_at=at(2))],
    )
    return ann, bea


def merge_url(person_id) -> str:
    return f"/api/v1/people/{person_id}/merge"


def erase_url(person_id) -> str:
    return f"/api/v1/people/{person_id}/erase"


# Merge ----------------------------------------------------------------------------------------


def test_merge_answers_the_survivor_with_everything(api, people):
    """The path person survives and is answered in the person shape with both people's
    identifiers, tags, external id, blank attributes and score; the other person is gone."""
    ann, bea = people
    response = api.secret.post(merge_url(ann.pk), {"personId": bea.pk})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["id"] == ann.pk
    assert body["externalId"] == "crm-2"
    assert {(i["type"], i["value"]) for i in body["identifiers"]} == {
        ("email", "ann@example.com"),
        ("phone", "+15550100"),
    }
    assert body["tags"] == ["app", "vip"]
    assert body["attributes"]["firstName"] == "Bea"
    assert body["score"] == 6
    assert not Person.objects.filter(pk=bea.pk).exists()
    assert Event.objects.filter(person_id=ann.pk).count() == 2
    again = api.secret.get("/api/v1/people/lookup?type=phone&value=%2B15550100")
    assert again.json()["id"] == ann.pk


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({}, "required", "personId"),
        ({"personId": "abc"}, "invalid", "personId"),
        ({"personId": True}, "invalid", "personId"),
        ({"personId": 2**70}, "max_value", "personId"),
        ({"personId": 0}, "min_value", "personId"),
    ],
)
def test_merge_body_is_checked(api, people, body, code, field):
    """A missing or malformed personId is a 400 naming it; nobody changes."""
    ann, bea = people
    assert_error(api.secret.post(merge_url(ann.pk), body), 400, code, field)
    assert Person.objects.filter(pk__in=[ann.pk, bea.pk]).count() == 2


def test_merging_a_person_into_themselves_is_a_400(api, people):
    ann, _ = people
    assert_error(
        api.secret.post(merge_url(ann.pk), {"personId": ann.pk}), 400, "invalid", "personId"
    )
    assert Person.objects.filter(pk=ann.pk).exists()


def test_merge_with_an_unknown_person_is_a_404(api, people):
    ann, bea = people
    assert_error(
        api.secret.post(merge_url(ann.pk), {"personId": bea.pk + 1000}),
        404,
        "person_not_found",
        "personId",
    )
    assert_error(api.secret.post(merge_url(bea.pk + 1000), {"personId": ann.pk}), 404)


def test_people_of_another_workspace_are_not_found(api, people, other_workspace):
    """Another workspace's person is a 404 in the path and in the body; neither changes."""
    ann, _ = people
    theirs = PersonFactory(workspace=other_workspace, identifiers={"email": "z@example.com"})
    assert_error(
        api.secret.post(merge_url(ann.pk), {"personId": theirs.pk}),
        404,
        "person_not_found",
        "personId",
    )
    assert_error(api.secret.post(merge_url(theirs.pk), {"personId": ann.pk}), 404)
    assert_error(api.secret.post(erase_url(theirs.pk), {}), 404)
    assert Person.objects.filter(pk__in=[ann.pk, theirs.pk]).count() == 2
    their_api = workspace_api(other_workspace)
    assert_error(their_api.secret.post(erase_url(ann.pk), {}), 404)
    assert Person.objects.filter(pk=ann.pk).exists()


@pytest.mark.parametrize("url", [merge_url, erase_url])
def test_merge_and_erase_need_a_secret_key(api, people, url):
    """A public key is refused (403) and no key is unauthenticated (401), in the native
    shape; nobody changes."""
    ann, bea = people
    assert_error(api.public.post(url(ann.pk), {"personId": bea.pk}), 403)
    assert_error(key_client(None).post(url(ann.pk), {"personId": bea.pk}), 401)
    assert_error(key_client("cdp_sk_wrong").post(url(ann.pk), {"personId": bea.pk}), 401)
    assert Person.objects.filter(pk__in=[ann.pk, bea.pk]).count() == 2


# Erase ----------------------------------------------------------------------------------------


def test_erase_answers_the_counts_and_writes_the_audit_row(api, people):
    """The answer names the erased id and how many events and identifiers went; the audit
    row names the key (not the person) and keeps the reason."""
    ann, bea = people
    response = api.secret.post(erase_url(bea.pk), {"reason": "ticket 42"})
    assert response.status_code == 200, response.content
    assert response.json() == {"erased": bea.pk, "events": 1, "identifiers": 1}
    assert not Person.objects.filter(pk=bea.pk).exists()
    assert not Event.objects.filter(person_id=bea.pk).exists()
    record = ErasureRecord.objects.get()
    assert record.reason == "ticket 42"
    assert record.requested_by.startswith(f"API key {api.secret_key.prefix}")
    assert_error(api.secret.get(f"/api/v1/people/{bea.pk}"), 404)
    assert_error(api.secret.post(erase_url(bea.pk), {}), 404)
    assert Person.objects.filter(pk=ann.pk).exists()


def test_erase_without_a_body_or_reason(api, people):
    """The reason is optional: an empty body erases with an empty reason."""
    ann, _ = people
    response = api.secret.post(erase_url(ann.pk))
    assert response.status_code == 200, response.content
    assert ErasureRecord.objects.get().reason == ""


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"reason": "x" * 2001}, "max_length"),
        ({"reason": ["list"]}, "invalid"),
    ],
)
def test_erase_reason_is_checked(api, people, body, code):
    ann, _ = people
    assert_error(api.secret.post(erase_url(ann.pk), body), 400, code, "reason")
    assert Person.objects.filter(pk=ann.pk).exists()
    assert not ErasureRecord.objects.exists()


def test_schema_describes_merge_and_erase(api):
    """The OpenAPI schema lists both operations with their request bodies and answers."""
    response = api.secret.get("/api/v1/schema?format=json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    merge_op = paths["/api/v1/people/{person_id}/merge"]["post"]
    erase_op = paths["/api/v1/people/{person_id}/erase"]["post"]
    for operation in (merge_op, erase_op):
        assert "requestBody" in operation
        assert {"200", "400", "404"} <= set(operation["responses"])
