"""The admin's ready-made flows and activation of a segment-triggered flow, through the
test client: the templates page and a template's page with a select per event, preset to
the workspace's own definition; "Create draft" saves whatever is still open; activating a
flow triggered by a segment asks whether its current members enter and says what became
of them."""

import pytest
from django.urls import reverse

from events.demo import demo_load
from flows.models import Flow, FlowRun
from flows.presets import TEMPLATES
from flows.services import flow_create
from people.segments.services import segment_members_add
from tests.factories import PersonFactory
from tests.flows.conftest import END, chain, start
from tests.people.test_admin import admin_url, login, make_staff, messages_of, page_text

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo():
    return demo_load(people=6, events=60)


@pytest.fixture
def client(demo):
    return login(make_staff("mia", demo))


def selected(html: str, field: str) -> str | None:
    """The value of the selected option of the select named ``field``."""
    start_at = html.index(f'name="{field}"')
    block = html[start_at : html.index("</select>", start_at)]
    for option in block.split("<option")[1:]:
        if " selected" in option.split(">")[0]:
            return option.split('value="')[1].split('"')[0]
    return None


def test_the_flows_list_links_to_the_templates(client):
    listing = page_text(client.get(admin_url("flows_flow_changelist")))
    assert f'href="{reverse("flows-flow-templates")}"' in listing
    page = page_text(client.get(reverse("flows-flow-templates")))
    for template in TEMPLATES:
        assert reverse("flows-flow-template", args=[template.key]) in page


def test_a_template_page_presets_each_event_to_the_workspace_definition(client):
    html = page_text(client.get(reverse("flows-flow-template", args=["abandoned-booking"])))
    assert selected(html, "event__c_ticket_searched") == "c_search_tickets"
    assert selected(html, "event__c_ticket_chosen") == "c_choose_tickets"
    assert selected(html, "event__c_checkout") == "c_checkout"
    routing = page_text(
        client.get(reverse("flows-flow-template", args=["ppmessage-agent-routing"]))
    )
    assert selected(routing, "event__c_product_viewed") is None  # "— choose —"
    assert 'value="c_apply_card"' in routing


@pytest.mark.parametrize("template", TEMPLATES, ids=[t.key for t in TEMPLATES])
def test_every_template_creates_a_draft_as_it_comes(client, demo, template):
    """ "Create draft" with the page as it comes: the draft is created and its page opened,
    with what it still lacks in a message."""
    response = client.post(
        reverse("flows-flow-template", args=[template.key]),
        {"workspace": demo.pk, "name": template.name},
        follow=True,
    )
    flow = Flow.objects.get(workspace=demo, name=template.name)
    assert flow.status == Flow.Status.DRAFT
    assert response.redirect_chain[-1][0] == admin_url("flows_flow_change", flow.pk)
    assert f"{template.name}: draft created from the template." in messages_of(response)


def test_a_chosen_event_is_used(client, demo):
    client.post(
        reverse("flows-flow-template", args=["ppmessage-agent-routing"]),
        {
            "workspace": demo.pk,
            "name": "Routing",
            "event__c_product_viewed": "c_choose_tickets",
            "event__c_pricing_viewed": "c_search_tickets",
        },
    )
    flow = Flow.objects.get(name="Routing")
    assert flow.elements.get(key="start").config["event"] == "c_choose_tickets"
    rules = flow.elements.get(key="engaged").config["rules"]["all"]
    assert [r["aggregate"] for r in rules] == ["c_choose_tickets", "c_search_tickets"]


def test_a_taken_name_is_shown_on_the_page(client, demo):
    url = reverse("flows-flow-template", args=["mortgage-offer"])
    client.post(url, {"workspace": demo.pk, "name": "Offer"})
    again = client.post(url, {"workspace": demo.pk, "name": "Offer"})
    assert again.status_code == 200
    assert "a flow named &#x27;Offer&#x27; already exists" in page_text(again)
    assert Flow.objects.filter(name="Offer").count() == 1


@pytest.fixture
def segment_flow(demo):
    from people.segments.services import segment_create

    listed = segment_create(workspace=demo, name="Imported", kind="static")
    people = [PersonFactory(workspace=demo) for _ in range(3)]
    segment_members_add(segment=listed, person_ids=[p.pk for p in people])
    return flow_create(
        workspace=demo,
        spec=chain(start({"type": "segment_entry", "segment": listed.pk}), END, name="Hello"),
    )


def test_activation_asks_about_current_members_and_lets_them_in(
    client, segment_flow, django_capture_on_commit_callbacks
):
    url = reverse("admin:flows_flow_status", args=[segment_flow.pk, "activate"])
    question = page_text(client.post(url))
    assert "3 people are</strong> in segment “Imported” now: let them enter?" in question
    segment_flow.refresh_from_db()
    assert segment_flow.status == Flow.Status.DRAFT
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            url, {"confirmed": "yes", "admit_current_members": "yes"}, follow=True
        )
    assert "Hello: 3 people already in segment 'Imported' were let in." in messages_of(response)
    assert FlowRun.objects.filter(flow=segment_flow).count() == 3


def test_activation_without_the_tick_says_they_do_not_enter(
    client, segment_flow, django_capture_on_commit_callbacks
):
    url = reverse("admin:flows_flow_status", args=[segment_flow.pk, "activate"])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"confirmed": "yes"}, follow=True)
    assert (
        "Hello: the 3 people already in segment 'Imported' do not enter; only people who "
        "enter the segment from now on will." in messages_of(response)
    )
    assert Flow.objects.get(pk=segment_flow.pk).status == Flow.Status.ACTIVE
    assert not FlowRun.objects.filter(flow=segment_flow).exists()


def test_the_list_action_says_current_members_do_not_enter(client, segment_flow):
    response = client.post(
        admin_url("flows_flow_changelist"),
        {"action": "activate", "_selected_action": [segment_flow.pk]},
        follow=True,
    )
    assert any("do not enter" in m for m in messages_of(response))
    assert not FlowRun.objects.filter(flow=segment_flow).exists()


def test_other_users_cannot_use_the_templates(demo, other_workspace):
    from django.contrib.auth.models import User

    plain = User.objects.create_user(username="x", password="pw", is_staff=True)
    response = login(plain).get(reverse("flows-flow-templates"))
    assert response.status_code == 403
    outsider = login(make_staff("o", other_workspace))
    response = outsider.post(
        reverse("flows-flow-template", args=["mortgage-offer"]), {"workspace": demo.pk}
    )
    assert not Flow.objects.filter(workspace=demo).exists()
