"""Definitions API (§4, §6 fixed contract): create under the ``c_`` rule and the property
limit, the editing rules on PATCH, the per-workspace switch of built-ins, delete protection."""

import pytest

from events.ingestion import events_ingest
from events.models import EventDefinition
from tests.api_helpers import assert_error, workspace_api
from tests.factories import DefinitionFactory, PersonFactory, event, props

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(workspace):
    return workspace_api(workspace)


def prop(key, type_="text", required=False, name=""):
    return {"key": key, "name": name or key, "type": type_, "required": required}


def test_create_with_the_fixed_contract(api):
    """``POST /api/v1/definitions`` answers 201 with the definition in the contract's names."""
    response = api.secret.post(
        "/api/v1/definitions",
        {
            "definitionId": "c_order_paid",
            "name": "Order paid",
            "description": "Paid online",
            "properties": [prop("total", "number", True), prop("paidAt", "datetime")],
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["definitionId"] == "c_order_paid"
    assert body["kind"] == "custom"
    assert body["enabled"] is True
    assert [(p["key"], p["type"], p["required"]) for p in body["properties"]] == [
        ("total", "number", True),
        ("paidAt", "datetime", False),
    ]
    assert api.secret.get("/api/v1/definitions/c_order_paid").json()["name"] == "Order paid"


def test_c_prefix_rule(api):
    """A custom definition id must start with ``c_``; the error names ``definitionId``."""
    error = assert_error(
        api.secret.post("/api/v1/definitions", {"definitionId": "order_paid", "name": "x"}),
        400,
        field="definitionId",
    )
    assert "c_" in error["message"]


def test_property_limit(api, settings):
    """At most ``CDP_MAX_CUSTOM_PROPERTIES`` properties, on create and on adding more."""
    settings.CDP_MAX_CUSTOM_PROPERTIES = 2
    assert_error(
        api.secret.post(
            "/api/v1/definitions",
            {"definitionId": "c_x", "name": "x", "properties": [prop("a"), prop("b"), prop("c")]},
        ),
        400,
        field="properties",
    )
    assert (
        api.secret.post(
            "/api/v1/definitions", {"definitionId": "c_x", "name": "x", "properties": [prop("a")]}
        ).status_code
        == 201
    )
    ok = api.secret.patch("/api/v1/definitions/c_x", {"properties": [prop("b")]})
    assert ok.status_code == 200, ok.content
    assert [p["key"] for p in ok.json()["properties"]] == ["a", "b"]
    assert_error(
        api.secret.patch("/api/v1/definitions/c_x", {"properties": [prop("c")]}),
        400,
        field="properties",
    )


def test_duplicate_id_is_refused(api, workspace):
    """Creating an id that exists answers 400 naming ``definitionId``."""
    DefinitionFactory(workspace=workspace, definition_id="c_taken")
    assert_error(
        api.secret.post("/api/v1/definitions", {"definitionId": "c_taken", "name": "x"}),
        400,
        field="definitionId",
    )


def test_patch_editing_rules(api, workspace):
    """Names and descriptions change; a property's type never does; ids never do."""
    DefinitionFactory(workspace=workspace, definition_id="c_x", properties=props(total="number"))
    ok = api.secret.patch(
        "/api/v1/definitions/c_x",
        {
            "name": "Renamed",
            "description": "New",
            "properties": [prop("total", "number", name="Total amount")],
        },
    )
    assert ok.status_code == 200, ok.content
    assert ok.json()["name"] == "Renamed"
    assert ok.json()["properties"][0]["name"] == "Total amount"
    assert_error(
        api.secret.patch("/api/v1/definitions/c_x", {"properties": [prop("total", "text")]}), 400
    )
    assert_error(
        api.secret.patch("/api/v1/definitions/c_x", {"definitionId": "c_y"}),
        400,
        field="definitionId",
    )
    definition = EventDefinition.objects.get(definition_id="c_x")
    assert definition.properties.get().type == "number"


def test_builtin_switch_is_per_workspace(api, workspace, other_workspace):
    """PATCH ``enabled`` on a built-in standard event switches it for this workspace only;
    other fields of a built-in cannot change."""
    before = api.secret.get("/api/v1/definitions/pageView").json()
    assert before["kind"] == "standard"
    assert before["enabled"] is False
    on = api.secret.patch("/api/v1/definitions/pageView", {"enabled": True})
    assert on.json()["enabled"] is True
    other = workspace_api(other_workspace)
    assert other.secret.get("/api/v1/definitions/pageView").json()["enabled"] is False
    assert_error(api.secret.patch("/api/v1/definitions/pageView", {"name": "x"}), 400)


def test_delete_unused_and_protected(api, workspace):
    """An unused custom definition deletes (204); a used one answers 409; built-ins 409."""
    DefinitionFactory(workspace=workspace, definition_id="c_unused")
    assert api.secret.delete("/api/v1/definitions/c_unused").status_code == 204
    assert api.secret.get("/api/v1/definitions/c_unused").status_code == 404
    DefinitionFactory(workspace=workspace, definition_id="c_used")
    ann = PersonFactory(workspace=workspace)
    assert (
        events_ingest(workspace=workspace, events=[event("c_used", ann)], origin="api").accepted
        == 1
    )
    assert_error(api.secret.delete("/api/v1/definitions/c_used"), 409)
    assert_error(api.secret.delete("/api/v1/definitions/itemViewed"), 409)


def test_list_and_search(api, workspace):
    """The list has built-ins and the workspace's own; ``kind`` and ``q`` filter it."""
    DefinitionFactory(workspace=workspace, definition_id="c_signup", name="Signed up")
    everything = api.secret.get("/api/v1/definitions").json()
    codes = {d["definitionId"] for d in everything}
    assert {"c_signup", "itemViewed", "pageView"} <= codes
    custom = api.secret.get("/api/v1/definitions?kind=custom").json()
    assert [d["definitionId"] for d in custom] == ["c_signup"]
    found = api.secret.get("/api/v1/definitions?q=signed").json()
    assert [d["definitionId"] for d in found] == ["c_signup"]


def test_workspace_isolation_and_keys(api, workspace, other_workspace):
    """Another workspace cannot see or change this one's definitions; public keys can't manage."""
    DefinitionFactory(workspace=workspace, definition_id="c_secret")
    other = workspace_api(other_workspace)
    assert other.secret.get("/api/v1/definitions/c_secret").status_code == 404
    assert other.secret.delete("/api/v1/definitions/c_secret").status_code == 404
    assert "c_secret" not in {
        d["definitionId"] for d in other.secret.get("/api/v1/definitions").json()
    }
    assert_error(api.public.get("/api/v1/definitions"), 403)
    assert_error(api.public.post("/api/v1/definitions", {"definitionId": "c_z", "name": "z"}), 403)
