"""Element configs: one JSON format per kind, checked against the workspace.

A flow's elements are ``{"key", "kind", "label", "config", "positionX", "positionY"}``; edges
are ``{"source": key, "target": key, "outcome"}``. Each kind has its format (documented in its
module) and the exits it needs:

=================  ==========================================================  ==============
kind               config                                                       exits
=================  ==========================================================  ==============
trigger            ``{"type": "event" | "segment_entry" | "schedule", …}``       next
                   (``flows.elements.triggers``)
wait               ``{"duration": {"days", "hours", "minutes"}}`` (``waits``)   next
wait_for_event     ``{"occurred": […], "notOccurred": […], "within": {…}}``     met, timeout
branch             ``{"rules": <segment rule tree>, "trigger": […]}``           yes, no
                   (``branches``)
action             ``{"action": "tag_add" | … , …}`` (``actions``)              next
end                ``{}``                                                        none
=================  ==========================================================  ==============

Durations are ``{"days": D, "hours": H, "minutes": M}`` (any of the three, whole numbers;
waits and windows at most 365 days). Errors name the path of the value at fault, e.g.
``elements[2].config.within.days``, in words a marketer can act on.
"""

import json

from flows.elements.actions import action_validate, config_public, webhook_prepare
from flows.elements.branches import branch_validate
from flows.elements.common import Context, duration_json, fail, nul_free
from flows.elements.triggers import trigger_validate
from flows.elements.waits import wait_for_event_validate, wait_validate
from flows.models import FlowElement
from people.segments.conditions import operators_normalise

K = FlowElement.Kind
# The exits each kind needs (values of ``FlowEdge.Outcome``).
OUTCOMES: dict[str, tuple[str, ...]] = {
    "trigger": ("next",),
    "wait": ("next",),
    "wait_for_event": ("met", "timeout"),
    "branch": ("yes", "no"),
    "action": ("next",),
    "end": (),
}
MAX_CONFIG_BYTES = 65_536
_VALIDATORS = {
    K.TRIGGER: trigger_validate,
    K.WAIT: wait_validate,
    K.WAIT_FOR_EVENT: wait_for_event_validate,
    K.BRANCH: branch_validate,
    K.ACTION: action_validate,
}


def element_config_validate(*, kind: str, config, path: str, context: Context) -> set[str]:
    """Check one element's config (``path`` names it, e.g. ``elements[2].config``); return
    the definitions and segments it names (``event:<pk>``, ``segment:<pk>``)."""
    if not isinstance(config, dict):
        raise fail(path, "config is an object in the format of the element's kind")
    nul_free(config, path)
    if len(json.dumps(config)) > MAX_CONFIG_BYTES:
        raise fail(path, f"the config is at most {MAX_CONFIG_BYTES} bytes")
    if kind == K.END:
        if config:
            raise fail(path, "an end element has no settings: give {}")
        return set()
    if kind != K.ACTION:  # ">" and "gt" alike (SPEC §8); stored so by flows.services
        config = operators_normalise(config)
    return _VALIDATORS[kind](config, path, context)


__all__ = [
    "OUTCOMES",
    "Context",
    "config_public",
    "duration_json",
    "element_config_validate",
    "webhook_prepare",
]
