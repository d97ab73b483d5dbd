"""Ready-made flows marketers start from (the SPEC §8 and seed scenarios), offered by the API
and the admin.

Each template is a whole flow with example values to adjust (subjects, addresses, URLs). The
events it uses are slots (``EventSlot``): the name the template gives the event, what it
stands for, and words that recognise it. ``template_resolve`` fills each slot with the
workspace's own definition: the one with the template's id, else the one definition whose id
or name carries the slot's words (``c_search_tickets`` "Searched tickets" for
``c_ticket_searched``); when none or several match, the slot stays open with the candidate
definitions, and the caller chooses (``chosen``). A template reading a segment names it by a
segment template (``people.segments.presets``), found in the workspace by that template's
name. ``missing`` lists what the workspace still lacks before the flow can be activated; a
draft saves anyway (``flows.validation`` leaves unknown names to activation).
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta

from cdp.errors import ErrorCode, FieldError, ServiceError
from events.definition_cache import Catalogue, catalogue_get
from events.models import EventDefinition
from flows.inputs import EdgeInput, ElementInput, FlowSpec
from people.models import Workspace
from people.segments.models import Segment
from people.segments.presets import template_get as segment_template_get

SEGMENT_PREFIX = "@segment:"
EVENT_KEYS = ("event", "aggregate")  # config keys whose values name an event definition


@dataclass(frozen=True)
class EventSlot:
    """An event a template uses: its name there, what it stands for, and the words (one of
    each group) a workspace's definition id or name carries when it is that event."""

    code: str
    label: str
    words: tuple[tuple[str, ...], ...] = ()


@dataclass(frozen=True)
class FlowTemplate:
    key: str
    name: str
    description: str
    spec: FlowSpec
    events: tuple[EventSlot, ...] = ()
    segments: tuple[str, ...] = field(default=())  # segment template keys it reads

    @property
    def requires(self) -> tuple[str, ...]:
        return tuple(slot.code for slot in self.events)


@dataclass(frozen=True)
class SlotResolution:
    """Which definition of the workspace fills a slot (``definition`` is None while open),
    found how (``chosen``, ``id``, ``name``), and the candidates to choose from."""

    slot: EventSlot
    definition: str | None
    how: str | None
    candidates: tuple[EventDefinition, ...] = ()
    matched: bool = False  # the candidates carry the slot's words (else: every usable one)


@dataclass(frozen=True)
class ResolvedTemplate:
    """A template for one workspace: its events and segments filled in, the slots still
    open, and what is missing there before the flow can be activated."""

    template: FlowTemplate
    spec: FlowSpec
    missing: tuple[str, ...]
    slots: tuple[SlotResolution, ...] = ()

    @property
    def open_slots(self) -> tuple[SlotResolution, ...]:
        return tuple(s for s in self.slots if s.definition is None)


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
PAGE_VIEW = EventSlot("pageView", "Page viewed", (("page",), ("view",)))
VIEWED = ("view", "seen", "visit")
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
        events=(
            EventSlot("c_ticket_searched", "Searched tickets", (("search",), ("ticket",))),
            EventSlot(
                "c_ticket_chosen", "Chose tickets", (("chose", "choose", "select"), ("ticket",))
            ),
            EventSlot("c_checkout", "Checked out", (("checkout", "checked out", "check out"),)),
        ),
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
        events=(PAGE_VIEW,),
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
        events=(PAGE_VIEW,),
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
        events=(
            EventSlot("c_product_viewed", "Viewed a product", (("product",), VIEWED)),
            EventSlot("c_pricing_viewed", "Viewed pricing", (("pricing", "price"), VIEWED)),
        ),
    ),
]


def template_get(key: str) -> FlowTemplate | None:
    return next((t for t in TEMPLATES if t.key == key), None)


def _fill(config, segment_ids: Mapping[str, int], codes: Mapping[str, str], key=None):
    """``config`` with segment placeholders and slot event names replaced (at any depth)."""
    if isinstance(config, dict):
        return {k: _fill(v, segment_ids, codes, k) for k, v in config.items()}
    if isinstance(config, list):
        return [_fill(v, segment_ids, codes, key) for v in config]
    if key == "segment" and isinstance(config, str) and config.startswith(SEGMENT_PREFIX):
        return segment_ids.get(config[len(SEGMENT_PREFIX) :], config)
    if key in EVENT_KEYS and isinstance(config, str):
        return codes.get(config, config)
    return config


def _words(definition: EventDefinition) -> str:
    """A definition's id and name as lower-case words: "c search tickets searched tickets"."""
    code = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", definition.definition_id)
    return " ".join(re.split(r"[^a-z0-9]+", f"{code} {definition.name}".lower()))


def template_definitions(*, workspace: Workspace) -> list[EventDefinition]:
    """The definitions a template's event may be filled with in ``workspace`` (for pickers)."""
    return _usable(catalogue_get(workspace))


def _usable(catalogue: Catalogue) -> list[EventDefinition]:
    """Definitions a template's event may be: the workspace's own (custom) ones and the
    standard ones switched on, custom first, by name."""
    found = [
        d
        for d in catalogue.definitions.values()
        if d.kind == EventDefinition.Kind.CUSTOM or catalogue.enabled.get(d.pk, False)
    ]
    return sorted(found, key=lambda d: (d.kind != EventDefinition.Kind.CUSTOM, d.name.lower()))


def _slot_resolve(slot: EventSlot, catalogue: Catalogue, chosen: str | None) -> SlotResolution:
    if chosen is not None:
        return SlotResolution(slot, chosen, "chosen")
    if slot.code in catalogue.definitions:
        return SlotResolution(slot, slot.code, "id")
    usable = _usable(catalogue)
    matches = [
        d
        for d in usable
        if slot.words and all(any(w in _words(d) for w in group) for group in slot.words)
    ]
    if len(matches) == 1:
        return SlotResolution(slot, matches[0].definition_id, "name")
    return SlotResolution(slot, None, None, tuple(matches or usable), matched=bool(matches))


def _chosen_check(
    template: FlowTemplate, catalogue: Catalogue, chosen: Mapping[str, str]
) -> dict[str, str]:
    if not isinstance(chosen, Mapping):
        raise ServiceError(
            FieldError(
                "definitions",
                ErrorCode.INVALID,
                'give an object from the template\'s event to a definition id, e.g. {"c_x": "c_y"}',
            )
        )
    slots = {slot.code for slot in template.events}
    errors = []
    for code, definition in chosen.items():
        if code not in slots:
            errors.append(
                FieldError(
                    f"definitions.{code}",
                    ErrorCode.INVALID,
                    f"template {template.key!r} has no event {code!r}; its events are "
                    + ", ".join(sorted(slots)),
                )
            )
        elif not isinstance(definition, str) or definition not in catalogue.definitions:
            errors.append(
                FieldError(
                    f"definitions.{code}",
                    ErrorCode.UNKNOWN_DEFINITION,
                    f"there is no event {definition!r} in this workspace",
                )
            )
    if errors:
        raise ServiceError(errors)
    return dict(chosen)


def template_resolve(
    *, template: FlowTemplate, workspace: Workspace, chosen: Mapping[str, str] | None = None
) -> ResolvedTemplate:
    """Return ``template`` for ``workspace``: each event slot filled with the workspace's
    definition (``chosen`` maps a slot to a definition id; otherwise found by id or by
    name), segment references filled in with the ids of the workspace's segments named like
    their segment templates, and what is still missing. Raise ``ServiceError`` naming
    ``definitions.<slot>`` for a choice that is not a definition of the workspace."""
    catalogue = catalogue_get(workspace)
    chosen = _chosen_check(template, catalogue, chosen or {})
    missing, slots = [], []
    for slot in template.events:
        resolution = _slot_resolve(slot, catalogue, chosen.get(slot.code))
        slots.append(resolution)
        definition = catalogue.definitions.get(resolution.definition or "")
        if definition is None and resolution.how is None and resolution.matched:
            names = ", ".join(d.definition_id for d in resolution.candidates)
            missing.append(f"event {slot.code} ({slot.label}): choose which of {names} it is")
        elif definition is None:
            missing.append(f"event {slot.code}: create it as a custom definition")
        elif not catalogue.enabled.get(definition.pk, False):
            missing.append(f"event {definition.definition_id}: switch it on for this workspace")
    segment_ids = {}
    for key in template.segments:
        name = segment_template_get(key).name
        found = Segment.objects.filter(workspace=workspace, name=name).first()
        if found is None:
            missing.append(f"segment {name!r}: create it from the segment template {key!r}")
        else:
            segment_ids[key] = found.pk
    codes = {s.slot.code: s.definition for s in slots if s.definition}
    elements = tuple(
        replace(e, config=_fill(e.config, segment_ids, codes)) for e in template.spec.elements
    )
    return ResolvedTemplate(
        template=template,
        spec=replace(template.spec, elements=elements),
        missing=tuple(missing),
        slots=tuple(slots),
    )
