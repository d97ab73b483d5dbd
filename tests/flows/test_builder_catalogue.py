"""The flow builder's catalogue (``/admin/flows/flow/builder/catalogue/``): what its pickers
offer, for the workspace of the flow or the one chosen, never another's; and the builder's
settings on the flow page (errors filed by element key after a refused save)."""

import json

import pytest
from django.contrib.auth.models import Permission, User

from tests.factories import DefinitionFactory
from tests.flows.conftest import complete_flow
from tests.people.test_admin import admin_url, form_data, login, make_staff

pytestmark = pytest.mark.django_db
URL = admin_url("flows_flow_builder_catalogue")


def test_catalogue_lists_the_workspace_definitions_segments_and_attributes(
    workspace, other_workspace, catalogue
):
    """The marketer's workspace by default and through its flow: definitions with typed
    properties, operators per type, segments with their kind, attributes an action sets."""
    client = login(make_staff("mia", workspace))
    for url in (
        URL,
        f"{URL}?flow={complete_flow(workspace).pk}",
        f"{URL}?workspace={workspace.pk}",
    ):
        answer = client.get(url)
        assert answer.status_code == 200
        data = answer.json()
        assert data["workspace"]["id"] == workspace.pk
        searched = next(d for d in data["definitions"] if d["id"] == "c_ticket_searched")
        assert {"key": "seats", "name": "seats", "type": "number"} in searched["properties"]
        assert "gt" in [o["value"] for o in data["operators"]["number"]]
        assert "starts_with" not in [o["value"] for o in data["operators"]["number"]]
        assert {(s["name"], s["kind"]) for s in data["segments"]} == {
            ("VIP", "dynamic"),
            ("Imported", "static"),
        }
        assert "country" in data["settableAttributes"]
        assert "loyalty" in [a["key"] for a in data["customAttributes"]]


def test_catalogue_refuses_other_workspaces_and_users_without_flow_rights(
    workspace, other_workspace, catalogue
):
    """Another workspace, or its flow, answers 404 as if it did not exist; a staff user who
    may not see flows gets 403, in JSON."""
    client = login(make_staff("mia", workspace))
    DefinitionFactory(workspace=other_workspace, definition_id="c_ticket_searched")
    theirs = complete_flow(other_workspace, name="Theirs")
    answer = client.get(f"{URL}?workspace={other_workspace.pk}")
    assert answer.status_code == 404
    assert answer.json()["error"]["field"] == "workspace"
    assert client.get(f"{URL}?flow={theirs.pk}").status_code == 404
    assert client.get(f"{URL}?workspace=nope").status_code == 404

    nobody = User.objects.create_user(username="ned", password="pw", is_staff=True)
    nobody.user_permissions.add(Permission.objects.get(codename="view_person"))
    workspace.members.add(nobody)
    refused = login(nobody).get(URL)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "forbidden"


def test_a_refused_save_gives_the_builder_its_errors_by_element_key(workspace, catalogue):
    """The add page posted with a year-long wait comes back with the wait's error under its
    key in the builder's settings; the add page itself names no diagram "above"."""
    client = login(make_staff("mia", workspace))
    url = admin_url("flows_flow_add")
    page = client.get(url)
    assert "diagram above" not in page.content.decode()
    data = form_data(page, "flow_form")
    data.update(
        name="Too long",
        reentry="once",
        graph_elements=json.dumps(
            [
                {
                    "key": "start",
                    "kind": "trigger",
                    "config": {"type": "segment_entry", "segment": catalogue["vip"].pk},
                },
                {"key": "pause", "kind": "wait", "config": {"duration": {"days": 400}}},
            ]
        ),
        graph_edges='[{"source": "start", "target": "pause"}]',
    )
    response = client.post(url, data)
    assert response.status_code == 200
    errors = response.context["builder_config"]["errors"]
    assert list(errors) == ["pause"]
    assert errors["pause"][0].startswith("config.duration: ")
    assert "at most 365 days" in errors["pause"][0]
