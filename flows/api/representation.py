"""JSON shapes of flows, runs and templates, and the mapping of request bodies to inputs.

The flow body a client sends (``name``, ``elements``, ``edges``…) is the body it reads back
(plus ``id``, ``status`` and times), so a GET can be edited and sent as a PATCH; a webhook's
secret is the one thing never read back (``hasSecret`` instead).
"""

from dataclasses import replace

from flows.elements import config_public, duration_json
from flows.elements.common import duration
from flows.inputs import EdgeInput, ElementInput, FlowSpec
from flows.models import Flow, FlowRun


def _iso(value):
    return value.isoformat() if value else None


def spec_json(spec: FlowSpec) -> dict:
    return {
        "name": spec.name,
        "description": spec.description,
        "startsTime": _iso(spec.starts_at),
        "endsTime": _iso(spec.ends_at),
        "reentry": spec.reentry,
        "reentryInterval": duration_json(spec.reentry_interval),
        "exitSegmentId": spec.exit_segment_id,
        "elements": [
            {
                "key": e.key,
                "kind": e.kind,
                "label": e.label,
                "config": config_public(e.kind, e.config),
                "positionX": e.position_x,
                "positionY": e.position_y,
            }
            for e in spec.elements
        ],
        "edges": [
            {"source": e.source, "target": e.target, "outcome": e.outcome} for e in spec.edges
        ],
    }


def flow_summary_json(flow: Flow) -> dict:
    """Return the body ``FlowSummarySerializer`` describes."""
    return {
        "id": flow.pk,
        "name": flow.name,
        "description": flow.description,
        "status": flow.status,
        "startsTime": _iso(flow.starts_at),
        "endsTime": _iso(flow.ends_at),
        "reentry": flow.reentry,
        "reentryInterval": duration_json(flow.reentry_interval),
        "exitSegmentId": flow.exit_segment_id,
        "createdTime": _iso(flow.created_at),
        "modifiedTime": _iso(flow.modified_at),
        "activatedTime": _iso(flow.activated_at),
    }


def flow_json(flow: Flow, spec: FlowSpec) -> dict:
    """Return the body ``FlowOutSerializer`` describes."""
    return {**flow_summary_json(flow), **spec_json(spec)}


def run_json(run: FlowRun) -> dict:
    """Return the body ``FlowRunSerializer`` describes."""
    return {
        "id": run.pk,
        "flowId": run.flow_id,
        "personId": run.person_id,
        "state": run.state,
        "currentElement": run.current_element.key if run.current_element else None,
        "stepNo": run.step_no,
        "context": run.context,
        "resumeTime": _iso(run.resume_at),
        "enteredTime": _iso(run.entered_at),
        "finishedTime": _iso(run.finished_at),
        "exitReason": run.exit_reason or None,
    }


def spec_from_data(data: dict, base: FlowSpec | None = None) -> FlowSpec:
    """Return the ``FlowSpec`` a checked request body describes, over ``base`` (a PATCH
    changes only the fields it names)."""
    changes = {}
    simple = {
        "name": "name",
        "description": "description",
        "startsTime": "starts_at",
        "endsTime": "ends_at",
        "reentry": "reentry",
        "exitSegmentId": "exit_segment_id",
    }
    for api_name, field in simple.items():
        if api_name in data:
            changes[field] = data[api_name]
    if data.get("reentry") == Flow.Reentry.ONCE and "reentryInterval" not in data:
        changes["reentry_interval"] = None  # once has no interval: switching to it clears it
    if "reentryInterval" in data:
        raw = data["reentryInterval"]
        changes["reentry_interval"] = (
            None if raw is None else duration(raw, "reentryInterval", max_days=3650)
        )
    if "elements" in data:
        changes["elements"] = tuple(
            ElementInput(
                key=e["key"],
                kind=e["kind"],
                config=e.get("config", {}),
                label=e.get("label", ""),
                position_x=e.get("positionX", 0),
                position_y=e.get("positionY", 0),
            )
            for e in data["elements"]
        )
        changes["edges"] = tuple(
            EdgeInput(source=e["source"], target=e["target"], outcome=e.get("outcome", "next"))
            for e in data.get("edges", [])
        )
    if base is None:
        return FlowSpec(**{"name": "", **changes})
    return replace(base, **changes)


def template_slots_json(resolved) -> list[dict]:
    """The events of a template for a workspace: the definition filling each, and for an open
    one the candidate definitions to choose from (``definitions`` of the create call)."""
    return [
        {
            "event": s.slot.code,
            "label": s.slot.label,
            "definitionId": s.definition,
            "resolvedBy": s.how,
            "candidates": [
                {"definitionId": d.definition_id, "name": d.name}
                for d in (s.candidates if s.definition is None else ())
            ],
        }
        for s in resolved.slots
    ]


def template_json(resolved) -> dict:
    template = resolved.template
    return {
        "key": template.key,
        "name": template.name,
        "description": template.description,
        "requires": list(template.requires),
        "missing": list(resolved.missing),
        "slots": template_slots_json(resolved),
        "flow": spec_json(resolved.spec),
    }
