"""The ready-made flows validate and activate in a workspace that has what they require, and
say what a workspace lacks otherwise."""

import pytest

from flows.models import Flow
from flows.presets import TEMPLATES, template_resolve
from flows.services import flow_activate, flow_create
from people.segments.presets import template_get as segment_template
from people.segments.services import segment_create
from tests.factories import DefinitionFactory
from tests.flows.conftest import enable

pytestmark = pytest.mark.django_db


@pytest.fixture
def equipped(workspace):
    """The workspace has every required event, pageView on, and the lapsed-visitors segment."""
    for template in TEMPLATES:
        for code in template.requires:
            if code.startswith("c_"):
                DefinitionFactory(workspace=workspace, definition_id=code)
    enable(workspace, "pageView")
    lapsed = segment_template("lapsed-visitors")
    segment_create(workspace=workspace, name=lapsed.name, rules=lapsed.rules)
    return workspace


@pytest.mark.parametrize("template", TEMPLATES, ids=[t.key for t in TEMPLATES])
def test_templates_activate_where_requirements_are_met(equipped, template):
    """Each template, filled in for the workspace, is a flow that activates as it is."""
    resolved = template_resolve(template=template, workspace=equipped)
    assert resolved.missing == ()
    flow = flow_activate(flow=flow_create(workspace=equipped, spec=resolved.spec))
    assert flow.status == Flow.Status.ACTIVE
    assert flow.name == template.name


def test_missing_requirements_are_listed(workspace):
    """A bare workspace is told which events to create or switch on and which segments to
    create from which segment template."""
    by_key = {t.key: template_resolve(template=t, workspace=workspace) for t in TEMPLATES}
    assert by_key["abandoned-booking"].missing == (
        "event c_ticket_searched: create it as a custom definition",
        "event c_ticket_chosen: create it as a custom definition",
        "event c_checkout: create it as a custom definition",
    )
    assert by_key["reactivation-45-days"].missing == (
        "event pageView: switch it on for this workspace",
        "segment 'No visit in 45 days': create it from the segment template 'lapsed-visitors'",
    )


def test_seed_scenarios_are_all_there():
    """The abandoned cart, the 45-day win-back, the mortgage offer and PPMessage's routing."""
    kinds = {t.key: [e.kind for e in t.spec.elements] for t in TEMPLATES}
    assert kinds == {
        "abandoned-booking": ["trigger", "wait_for_event", "action", "end"],
        "reactivation-45-days": ["trigger", "action", "end"],
        "mortgage-offer": ["trigger", "branch", "action", "end"],
        "ppmessage-agent-routing": ["trigger", "branch", "action", "action", "end"],
    }
