"""Ready-made flows in a workspace that names its events its own way, through the API: each
template event is filled with the workspace's definition (same id, else the one whose id or
name carries the event's words); when none or several match the event stays open with the
candidates, a chosen definition fills it, and the draft always saves."""

import pytest

from events.demo import demo_load
from flows.api.serializers import FlowFromTemplateSerializer, FlowTemplateSerializer
from flows.models import Flow
from flows.presets import TEMPLATES
from tests.api_helpers import assert_described, assert_error, workspace_api
from tests.factories import DefinitionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo():
    """The demo shop: c_search_tickets, c_choose_tickets, c_checkout…, pageView switched on."""
    return workspace_api(demo_load(people=6, events=60))


def by_key(client) -> dict:
    response = client.get("/api/v1/flows/templates")
    assert response.status_code == 200, response.content
    return {t["key"]: t for t in response.json()}


def slots(template) -> dict:
    return {s["event"]: s for s in template["slots"]}


def events_named(flow_json) -> list[str]:
    """Every event name in the flow's element configs, in order."""
    found = []

    def walk(value, key=None):
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, k)
        elif isinstance(value, list):
            for v in value:
                walk(v, key)
        elif key in ("event", "aggregate") and isinstance(value, str):
            found.append(value)

    for element in flow_json["elements"]:
        walk(element["config"])
    return found


def test_demo_templates_use_the_demo_events(demo):
    """The booking template's events are the demo's own, found by name or id; the routing
    template's have no counterpart there and stay open with every usable event offered."""
    templates = by_key(demo.secret)
    booking = slots(templates["abandoned-booking"])
    assert {code: (s["definitionId"], s["resolvedBy"]) for code, s in booking.items()} == {
        "c_ticket_searched": ("c_search_tickets", "name"),
        "c_ticket_chosen": ("c_choose_tickets", "name"),
        "c_checkout": ("c_checkout", "id"),
    }
    assert all(s["candidates"] == [] for s in booking.values())
    assert templates["abandoned-booking"]["missing"] == []
    assert events_named(templates["abandoned-booking"]["flow"]) == [
        "c_search_tickets",
        "c_choose_tickets",
        "c_checkout",
    ]
    routing = slots(templates["ppmessage-agent-routing"])
    assert [s["definitionId"] for s in routing.values()] == [None, None]
    offered = [c["definitionId"] for c in routing["c_product_viewed"]["candidates"]]
    assert offered[:5] == [  # the workspace's own events first, by name
        "c_apply_card",
        "c_checkout",
        "c_choose_tickets",
        "c_search_tickets",
        "c_newsletter_signup",
    ]
    assert "pageView" in offered
    assert templates["ppmessage-agent-routing"]["missing"] == [
        "event c_product_viewed: create it as a custom definition",
        "event c_pricing_viewed: create it as a custom definition",
    ]
    for template in templates.values():
        assert_described(FlowTemplateSerializer, template)


@pytest.mark.parametrize("template", TEMPLATES, ids=[t.key for t in TEMPLATES])
def test_every_template_saves_as_a_draft_in_the_demo(demo, template):
    """Nothing chosen, open events and missing segments included: a draft is created."""
    response = demo.secret.post(f"/api/v1/flows/templates/{template.key}", {})
    assert response.status_code == 201, response.content
    body = response.json()
    assert_described(FlowFromTemplateSerializer, body)
    assert (body["status"], body["name"]) == ("draft", template.name)
    flow = Flow.objects.get(pk=body["id"])
    assert flow.workspace_id == demo.workspace.pk
    assert flow.elements.count() == len(template.spec.elements)
    # The same body as GET /api/v1/flows/<id>, plus what is left to do.
    read = demo.secret.get(f"/api/v1/flows/{flow.pk}").json()
    assert {k: v for k, v in body.items() if k not in ("missing", "slots")} == read


def test_the_booking_template_activates_in_the_demo(demo):
    """Resolved to the demo's events, the booking draft is complete and activates."""
    created = demo.secret.post("/api/v1/flows/templates/abandoned-booking", {}).json()
    assert created["missing"] == []
    activated = demo.secret.post(f"/api/v1/flows/{created['id']}/activate")
    assert activated.status_code == 200, activated.content
    assert activated.json()["status"] == "active"
    assert activated.json()["admitted"] is None  # an event trigger: nobody to let in


def test_an_open_event_is_chosen_and_then_the_flow_activates(demo):
    """The routing template with both events chosen from the demo's definitions."""
    chosen = {"c_product_viewed": "c_choose_tickets", "c_pricing_viewed": "c_search_tickets"}
    response = demo.secret.post(
        "/api/v1/flows/templates/ppmessage-agent-routing",
        {"definitions": chosen, "name": "Route by tickets"},
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["name"] == "Route by tickets"
    assert events_named(body) == ["c_choose_tickets", "c_choose_tickets", "c_search_tickets"]
    assert [(s["definitionId"], s["resolvedBy"]) for s in body["slots"]] == [
        ("c_choose_tickets", "chosen"),
        ("c_search_tickets", "chosen"),
    ]
    assert body["missing"] == []
    assert demo.secret.post(f"/api/v1/flows/{body['id']}/activate").status_code == 200


def test_several_matches_leave_the_event_open_with_those_candidates(workspace):
    """Two definitions carry "search" and "ticket": neither is taken, both are offered."""
    api = workspace_api(workspace)
    DefinitionFactory(workspace=workspace, definition_id="c_search_tickets", name="Searched")
    DefinitionFactory(workspace=workspace, definition_id="c_ticket_search_again", name="Again")
    DefinitionFactory(workspace=workspace, definition_id="c_chose_tickets", name="Chose")
    booking = by_key(api.secret)["abandoned-booking"]
    searched = slots(booking)["c_ticket_searched"]
    assert (searched["definitionId"], searched["resolvedBy"]) == (None, None)
    assert [c["definitionId"] for c in searched["candidates"]] == [
        "c_ticket_search_again",
        "c_search_tickets",
    ]
    assert booking["missing"] == [
        "event c_ticket_searched (Searched tickets): choose which of c_ticket_search_again, "
        "c_search_tickets it is",
        "event c_checkout: create it as a custom definition",
    ]
    assert slots(booking)["c_ticket_chosen"]["definitionId"] == "c_chose_tickets"
    # Saved without a choice, the draft keeps the template's name of the event.
    draft = api.secret.post("/api/v1/flows/templates/abandoned-booking", {}).json()
    assert events_named(draft)[0] == "c_ticket_searched"
    error = assert_error(
        api.secret.post(f"/api/v1/flows/{draft['id']}/activate"),
        400,
        "unknown_definition",
        "elements[0].config.event",
    )
    assert "c_ticket_searched" in error["message"]
    # Chosen, it is used; a second draft of the same template is numbered.
    chosen = api.secret.post(
        "/api/v1/flows/templates/abandoned-booking",
        {"definitions": {"c_ticket_searched": "c_search_tickets"}},
    ).json()
    assert chosen["name"] == "Abandoned ticket booking (2)"
    assert events_named(chosen)[0] == "c_search_tickets"
    assert slots(chosen)["c_ticket_searched"]["resolvedBy"] == "chosen"


def test_bad_choices_answer_400_naming_the_event(workspace, other_workspace):
    """A definition of another workspace, an unknown one, an event the template does not
    have, a malformed body: 400 naming the field; an unknown template: 404."""
    api = workspace_api(workspace)
    DefinitionFactory(workspace=other_workspace, definition_id="c_theirs")
    url = "/api/v1/flows/templates/abandoned-booking"
    for choice, field, code in [
        ({"c_ticket_searched": "c_theirs"}, "definitions.c_ticket_searched", "unknown_definition"),
        ({"c_ticket_searched": "c_nope"}, "definitions.c_ticket_searched", "unknown_definition"),
        ({"c_elsewhere": "pageView"}, "definitions.c_elsewhere", "invalid"),
    ]:
        assert_error(api.secret.post(url, {"definitions": choice}), 400, code, field)
    assert_error(api.secret.post(url, {"definitions": "x"}), 400, field="definitions")
    assert_error(api.secret.post(url, {"name": ""}), 400, field="name")
    assert_error(api.secret.post(url, [1]), 400)
    assert_error(api.secret.post("/api/v1/flows/templates/nope", {}), 404)
    assert_error(api.public.post(url, {}), 403)
    assert not Flow.objects.exists()


def test_a_draft_saves_while_it_names_what_the_workspace_lacks(workspace):
    """An event and a segment the workspace does not have: the draft is stored as sent, and
    activation lists both."""
    api = workspace_api(workspace)
    body = {
        "name": "Incomplete",
        "elements": [
            {
                "key": "start",
                "kind": "trigger",
                "config": {"type": "segment_entry", "segment": 987},
            },
            {
                "key": "wait",
                "kind": "wait_for_event",
                "config": {"occurred": [{"event": "c_later"}], "within": {"days": 1}},
            },
        ],
        "edges": [{"source": "start", "target": "wait"}],
    }
    created = api.secret.post("/api/v1/flows", body)
    assert created.status_code == 201, created.content
    assert [e["config"] for e in created.json()["elements"]] == [
        e["config"] for e in body["elements"]
    ]
    error = assert_error(api.secret.post(f"/api/v1/flows/{created.json()['id']}/activate"), 400)
    assert [(e["field"], e["code"]) for e in error["errors"]][:2] == [
        ("elements[0].config.segment", "unknown_segment"),
        ("elements[1].config.occurred[0].event", "unknown_definition"),
    ]
    assert Flow.objects.get(pk=created.json()["id"]).status == Flow.Status.DRAFT


def test_only_a_draft_may_name_what_the_workspace_lacks(workspace, catalogue):
    """A paused flow being edited is checked in full: an unknown event is refused at once;
    the same change to a draft saves."""
    api = workspace_api(workspace)
    body = {
        "name": "Searched",
        "elements": [
            {"key": "start", "kind": "trigger", "config": {"type": "event", "event": "pageView"}},
            {"key": "end", "kind": "end"},
        ],
        "edges": [{"source": "start", "target": "end"}],
    }
    flow_id = api.secret.post("/api/v1/flows", body).json()["id"]
    unknown = {
        **body,
        "elements": [
            {"key": "start", "kind": "trigger", "config": {"type": "event", "event": "c_later"}},
            {"key": "end", "kind": "end"},
        ],
    }
    assert api.secret.post(f"/api/v1/flows/{flow_id}/activate").status_code == 200
    assert api.secret.post(f"/api/v1/flows/{flow_id}/pause").status_code == 200
    assert_error(
        api.secret.patch(f"/api/v1/flows/{flow_id}", unknown),
        400,
        "unknown_definition",
        "elements[0].config.event",
    )
    draft = api.secret.post("/api/v1/flows", {**body, "name": "Draft"}).json()
    patched = api.secret.patch(f"/api/v1/flows/{draft['id']}", {**unknown, "name": "Draft"})
    assert patched.status_code == 200, patched.content
