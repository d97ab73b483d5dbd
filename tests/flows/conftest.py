"""Flow test data: the workspace's definitions and segments (made through their services) and
small builders of ``FlowSpec`` graphs."""

import itertools
from urllib.parse import urlsplit

import pytest

from events.models import EventDefinition
from events.services import definition_set_enabled
from flows.inputs import EdgeInput, ElementInput, FlowSpec
from flows.models import Flow, FlowRun
from flows.services import flow_create
from people.segments.services import segment_create
from people.services import attribute_definition_create
from tests.factories import DefinitionFactory, PersonFactory, props

TICKET = {"type": "event", "event": "c_ticket_searched"}
# The webhook hosts of the tests and templates: RFC 2606 names, public on the internet, but
# unresolvable on a machine without DNS (a webhook whose host does not resolve is refused).
EXAMPLE_HOSTS = ["example.com", "hooks.example.com"]


@pytest.fixture(autouse=True)
def _outbound_hosts(settings):
    """Webhooks may name the example hosts; nothing else is allowed unless a test says so."""
    settings.CDP_OUTBOUND_ALLOWED_HOSTS = list(EXAMPLE_HOSTS)


def outbound_allow(settings, url: str) -> None:
    """Let webhooks reach ``url``'s host and port (a local receiver on 127.0.0.1)."""
    settings.CDP_OUTBOUND_ALLOWED_HOSTS = [
        *settings.CDP_OUTBOUND_ALLOWED_HOSTS,
        urlsplit(url).netloc,
    ]


def spec(steps, edges=(), *, name="Flow", **settings) -> FlowSpec:
    """Build a spec from ``(key, kind, config)`` steps and ``(source, target[, outcome])``."""
    return FlowSpec(
        name=name,
        elements=tuple(ElementInput(key=k, kind=kind, config=c) for k, kind, c in steps),
        edges=tuple(EdgeInput(*edge) for edge in edges),
        **settings,
    )


def chain(*steps, name="Flow", **settings) -> FlowSpec:
    """A straight line of single-exit steps, each leading to the next by ``next``."""
    edges = [(a[0], b[0], "next") for a, b in itertools.pairwise(steps)]
    return spec(steps, edges, name=name, **settings)


def start(config=None):
    return ("start", "trigger", config or TICKET)


END = ("end", "end", {})


def enable(workspace, code: str) -> None:
    definition = EventDefinition.objects.get(definition_id=code, workspace=None)
    definition_set_enabled(workspace=workspace, definition=definition, enabled=True)


@pytest.fixture
def catalogue(workspace):
    """The seed scenarios' custom events, a custom attribute, pageView switched on, a dynamic
    and a static segment."""
    DefinitionFactory(
        workspace=workspace,
        definition_id="c_ticket_searched",
        properties=props(destination="text", seats="number"),
    )
    for code in ("c_ticket_chosen", "c_checkout", "c_product_viewed", "c_pricing_viewed"):
        DefinitionFactory(workspace=workspace, definition_id=code)
    DefinitionFactory(
        workspace=workspace,
        definition_id="c_offer_sent",
        properties=props(offer="text!", amount="number"),
    )
    attribute_definition_create(
        workspace=workspace, key="loyalty", name="Loyalty points", type="number"
    )
    enable(workspace, "pageView")
    return {
        "vip": segment_create(workspace=workspace, name="VIP", rules={"all": [{"tag": "vip"}]}),
        "list": segment_create(workspace=workspace, name="Imported", kind="static"),
    }


@pytest.fixture
def person(workspace):
    return PersonFactory(workspace=workspace, external_id="ann")


def run_at(flow: Flow, person, key: str, state=FlowRun.State.WAITING) -> FlowRun:
    """Place a person's run at an element. The runtime that creates runs comes next; until
    then tests set them up directly."""
    return FlowRun.objects.create(
        flow=flow,
        person=person,
        workspace=flow.workspace,
        state=state,
        current_element=flow.elements.get(key=key),
        context={"trigger": "event"},
    )


def complete_flow(workspace, name="Complete", **settings) -> Flow:
    """A draft that activates: event trigger -> wait -> tag -> end."""
    return flow_create(
        workspace=workspace,
        spec=chain(
            start(),
            ("wait1", "wait", {"duration": {"hours": 1}}),
            ("tag", "action", {"action": "tag_add", "tag": "searched"}),
            END,
            name=name,
            **settings,
        ),
    )


# Two flows the runtime tests run (in-process and through real workers).
ABANDONED = spec(
    [
        start(),
        (
            "wait",
            "wait_for_event",
            {"occurred": [{"event": "c_ticket_chosen"}], "within": {"hours": 1}},
        ),
        ("chosen", "action", {"action": "tag_add", "tag": "chosen"}),
        ("gave_up", "action", {"action": "tag_add", "tag": "gave_up"}),
        END,
        ("end2", "end", {}),
    ],
    [
        ("start", "wait"),
        ("wait", "chosen", "met"),
        ("wait", "gave_up", "timeout"),
        ("chosen", "end"),
        ("gave_up", "end2"),
    ],
    name="Abandoned search",
)
# PPMessage's agent routing: counts of two events both above 8 go to A, otherwise B.
ROUTING = spec(
    [
        start(),
        (
            "route",
            "branch",
            {
                "rules": {
                    "all": [
                        {
                            "aggregate": "c_product_viewed",
                            "field": "count",
                            "operator": ">",
                            "value": 8,
                        },
                        {
                            "aggregate": "c_pricing_viewed",
                            "field": "count",
                            "operator": ">",
                            "value": 8,
                        },
                    ]
                }
            },
        ),
        ("a", "action", {"action": "tag_add", "tag": "agent_a"}),
        ("b", "action", {"action": "tag_add", "tag": "agent_b"}),
        END,
        ("end2", "end", {}),
    ],
    [("start", "route"), ("route", "a", "yes"), ("route", "b", "no"), ("a", "end"), ("b", "end2")],
    name="Agent routing",
)
