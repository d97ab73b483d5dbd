"""Ready-made flows marketers start from (the SPEC §8 and seed scenarios), offered by the API.

Each template is a whole flow with example values to adjust (subjects, addresses, URLs).
``requires`` names the definitions it uses: the ticket and PPMessage journeys need the
workspace's own events (created with those ids, or the elements edited to the workspace's
names); ``pageView`` is built in but has to be switched on. A template reading a segment
names it by a segment template (``people.segments.presets``) and finds it in the workspace
by that template's name; ``template_resolve`` fills in its id and lists whatever the
workspace still lacks.
"""

from dataclasses import dataclass, field, replace
from datetime import timedelta

from events.definition_cache import catalogue_get
from flows.inputs import EdgeInput, ElementInput, FlowSpec
from people.models import Workspace
from people.segments.models import Segment
from people.segments.presets import template_get as segment_template_get

SEGMENT_PREFIX = "@segment:"


@dataclass(frozen=True)
class FlowTemplate:
    key: str
    name: str
    description: str
    spec: FlowSpec
    requires: tuple[str, ...] = ()
    segments: tuple[str, ...] = field(default=())  # segment template keys it reads


@dataclass(frozen=True)
class ResolvedTemplate:
    """A template for one workspace: its segments filled in, and what is missing there."""

    template: FlowTemplate
    spec: FlowSpec
    missing: tuple[str, ...]


def _flow(
    name: str, steps: list[tuple[str, str, dict]], edges: list[tuple[str, str, str]], **settings
) -> FlowSpec:
    elements = tuple(
        ElementInput(key=key, kind=kind, config=config, position_x=240 * i)
        for i, (key, kind, config) in enumerate(steps)
    )
    return FlowSpec(
        name=name,
        elements=elements,
        edges=tuple(EdgeInput(source=s, target=t, outcome=o) for s, t, o in edges),
        **settings,
    )


def _email(subject: str, body: str) -> dict:
    return {"action": "email", "to": "person", "subject": subject, "body": body}


def _webhook(agent: str) -> dict:
    return {
        "action": "webhook",
        "url": f"https://example.com/agents/{agent}/assign",
        "payload": {"person": "{{ person.id }}", "agent": agent},
    }


END = ("end", "end", {})
MORTGAGE_PATH = [{"property": "path", "operator": "equals", "value": "/mortgage"}]

TEMPLATES: list[FlowTemplate] = [
    FlowTemplate(
        key="abandoned-booking",
        name="Abandoned ticket booking",
        description="Searched tickets, then chose tickets but did not check out within a "
        "day: send a reminder.",
        spec=_flow(
            "Abandoned ticket booking",
            [
                ("start", "trigger", {"type": "event", "event": "c_ticket_searched"}),
                (
                    "chosen",
                    "wait_for_event",
                    {
                        "occurred": [{"event": "c_ticket_chosen"}],
                        "notOccurred": [{"event": "c_checkout"}],
                        "within": {"days": 1},
                    },
                ),
                (
                    "remind",
                    "action",
                    _email(
                        "Your tickets are waiting",
                        'Hello {{ person.first_name|default:"there" }}, the tickets you chose are '
                        "still available. Complete your booking before they are gone.",
                    ),
                ),
                END,
            ],
            [
                ("start", "chosen", "next"),
                ("chosen", "remind", "met"),
                ("chosen", "end", "timeout"),
                ("remind", "end", "next"),
            ],
            reentry="recurring",
            reentry_interval=timedelta(days=7),
        ),
        requires=("c_ticket_searched", "c_ticket_chosen", "c_checkout"),
    ),
    FlowTemplate(
        key="reactivation-45-days",
        name="Win back visitors after 45 days",
        description="Every day, people with no page view in 45 days get a win-back email "
        "(again after another 45 days if they stay away).",
        spec=_flow(
            "Win back visitors after 45 days",
            [
                (
                    "start",
                    "trigger",
                    {
                        "type": "schedule",
                        "segment": f"{SEGMENT_PREFIX}lapsed-visitors",
                        "every": {"days": 1},
                    },
                ),
                (
                    "winback",
                    "action",
                    _email(
                        'We miss you, {{ person.first_name|default:"friend" }}',
                        "It has been a while. Here is what is new since your last visit.",
                    ),
                ),
                END,
            ],
            [("start", "winback", "next"), ("winback", "end", "next")],
            reentry="recurring",
            reentry_interval=timedelta(days=45),
        ),
        requires=("pageView",),
        segments=("lapsed-visitors",),
    ),
    FlowTemplate(
        key="mortgage-offer",
        name="Mortgage offer after 5 visits in a month",
        description="A visit to /mortgage by someone who has viewed it at least 5 times in "
        "30 days sends them an offer (at most once a month).",
        spec=_flow(
            "Mortgage offer after 5 visits in a month",
            [
                (
                    "start",
                    "trigger",
                    {"type": "event", "event": "pageView", "where": MORTGAGE_PATH},
                ),
                (
                    "often",
                    "branch",
                    {
                        "rules": {
                            "all": [
                                {
                                    "event": "pageView",
                                    "count": {"operator": ">=", "value": 5},
                                    "window": {"lastDays": 30},
                                    "where": MORTGAGE_PATH,
                                }
                            ]
                        }
                    },
                ),
                (
                    "offer",
                    "action",
                    _email(
                        "Your mortgage offer",
                        'Hello {{ person.first_name|default:"there" }}, here is a mortgage offer '
                        "prepared for you.",
                    ),
                ),
                END,
            ],
            [
                ("start", "often", "next"),
                ("often", "offer", "yes"),
                ("often", "end", "no"),
                ("offer", "end", "next"),
            ],
            reentry="recurring",
            reentry_interval=timedelta(days=30),
        ),
        requires=("pageView",),
    ),
    FlowTemplate(
        key="ppmessage-agent-routing",
        name="Route engaged visitors to agent A or B",
        description="PPMessage's event flow: when a visitor has had both events more than 8 "
        "times, agent A answers them, otherwise agent B (a webhook to the chat "
        "system each).",
        spec=_flow(
            "Route engaged visitors to agent A or B",
            [
                ("start", "trigger", {"type": "event", "event": "c_product_viewed"}),
                (
                    "engaged",
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
                ("agent_a", "action", _webhook("a")),
                ("agent_b", "action", _webhook("b")),
                END,
            ],
            [
                ("start", "engaged", "next"),
                ("engaged", "agent_a", "yes"),
                ("engaged", "agent_b", "no"),
                ("agent_a", "end", "next"),
                ("agent_b", "end", "next"),
            ],
            reentry="recurring",
        ),
        requires=("c_product_viewed", "c_pricing_viewed"),
    ),
]


def template_get(key: str) -> FlowTemplate | None:
    return next((t for t in TEMPLATES if t.key == key), None)


def _fill(config: dict, segment_ids: dict[str, int]) -> dict:
    value = config.get("segment")
    if isinstance(value, str) and value.startswith(SEGMENT_PREFIX):
        found = segment_ids.get(value[len(SEGMENT_PREFIX) :])
        if found is not None:
            return {**config, "segment": found}
    return config


def template_resolve(*, template: FlowTemplate, workspace: Workspace) -> ResolvedTemplate:
    """Return ``template`` for ``workspace``: segment references filled in with the ids of the
    workspace's segments named like their segment templates, and what is still missing."""
    missing = []
    catalogue = catalogue_get(workspace)
    for code in template.requires:
        definition = catalogue.definitions.get(code)
        if definition is None:
            missing.append(f"event {code}: create it as a custom definition")
        elif not catalogue.enabled.get(definition.pk, False):
            missing.append(f"event {code}: switch it on for this workspace")
    segment_ids = {}
    for key in template.segments:
        name = segment_template_get(key).name
        found = Segment.objects.filter(workspace=workspace, name=name).first()
        if found is None:
            missing.append(f"segment {name!r}: create it from the segment template {key!r}")
        else:
            segment_ids[key] = found.pk
    elements = tuple(
        replace(e, config=_fill(e.config, segment_ids)) for e in template.spec.elements
    )
    return ResolvedTemplate(
        template=template, spec=replace(template.spec, elements=elements), missing=tuple(missing)
    )
