"""Checks of a flow's graph: element keys and edges when saving, completeness on activation.

Saving a draft needs a well-formed graph (unique keys, edges between elements of the flow on
outcomes their source has); activating needs a complete one: exactly one trigger, every element
reachable from it, every exit connected, and no loop (runs move forward only, so a loop could
never end). Both return every problem found, each on the path of the element or edge.
"""

import re
from collections.abc import Sequence

from cdp.errors import ErrorCode, FieldError
from flows.elements import OUTCOMES
from flows.errors import FlowErrorCode
from flows.inputs import EdgeInput, ElementInput
from flows.models import FlowElement

KEY_RE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
MAX_ELEMENTS = 100
MAX_EDGES = 300
MAX_POSITION = 1_000_000


def _outcome_words(kind: str) -> str:
    outcomes = OUTCOMES.get(kind, ())
    return " / ".join(outcomes) if outcomes else "none"


def graph_shape_errors(
    elements: Sequence[ElementInput], edges: Sequence[EdgeInput]
) -> list[FieldError]:
    """Return the problems that make a graph unstorable (any status)."""
    errors: list[FieldError] = []
    if len(elements) > MAX_ELEMENTS:
        errors.append(
            FieldError("elements", ErrorCode.INVALID, f"a flow has at most {MAX_ELEMENTS} elements")
        )
    if len(edges) > MAX_EDGES:
        errors.append(
            FieldError("edges", ErrorCode.INVALID, f"a flow has at most {MAX_EDGES} edges")
        )
    kinds: dict[str, str] = {}
    for i, element in enumerate(elements):
        if not isinstance(element.key, str) or not KEY_RE.match(element.key):
            errors.append(
                FieldError(
                    f"elements[{i}].key",
                    ErrorCode.INVALID,
                    "a key has 1 to 32 letters, digits, _ or -",
                )
            )
        elif element.key in kinds:
            errors.append(
                FieldError(
                    f"elements[{i}].key",
                    ErrorCode.DUPLICATE,
                    f"another element already has the key {element.key!r}",
                )
            )
        else:
            kinds[element.key] = element.kind
        if element.kind not in FlowElement.Kind.values:
            errors.append(
                FieldError(
                    f"elements[{i}].kind",
                    ErrorCode.INVALID,
                    "kind is one of " + ", ".join(FlowElement.Kind.values),
                )
            )
        if not isinstance(element.label, str) or len(element.label) > 200:
            errors.append(
                FieldError(
                    f"elements[{i}].label", ErrorCode.TOO_LONG, "a label has at most 200 characters"
                )
            )
        for axis, value in (("positionX", element.position_x), ("positionY", element.position_y)):
            if isinstance(value, bool) or not isinstance(value, int) or abs(value) > MAX_POSITION:
                errors.append(
                    FieldError(
                        f"elements[{i}].{axis}",
                        ErrorCode.INVALID,
                        f"a whole number from -{MAX_POSITION} to {MAX_POSITION}",
                    )
                )
    taken: set[tuple[str, str]] = set()
    for j, edge in enumerate(edges):
        bad = False
        for end in ("source", "target"):
            key = getattr(edge, end)
            if not isinstance(key, str) or key not in kinds:
                errors.append(
                    FieldError(
                        f"edges[{j}].{end}",
                        FlowErrorCode.INVALID_EDGE,
                        f"there is no element with the key {key!r}",
                    )
                )
                bad = True
        if bad:
            continue
        source_kind = kinds[edge.source]
        if edge.outcome not in OUTCOMES.get(source_kind, ()):
            errors.append(
                FieldError(
                    f"edges[{j}].outcome",
                    FlowErrorCode.INVALID_EDGE,
                    f"{edge.source!r} is a {source_kind} element; its exits are "
                    f"{_outcome_words(source_kind)}, not {edge.outcome!r}",
                )
            )
        elif (edge.source, edge.outcome) in taken:
            errors.append(
                FieldError(
                    f"edges[{j}]",
                    FlowErrorCode.INVALID_EDGE,
                    f"{edge.source!r} already has a {edge.outcome!r} exit; one exit leads to one "
                    "element (use a branch to go different ways)",
                )
            )
        taken.add((edge.source, edge.outcome))
        if edge.source == edge.target:
            errors.append(
                FieldError(
                    f"edges[{j}].target",
                    FlowErrorCode.FLOW_CYCLE,
                    f"{edge.source!r} cannot lead to itself",
                )
            )
        elif kinds[edge.target] == FlowElement.Kind.TRIGGER:
            errors.append(
                FieldError(
                    f"edges[{j}].target",
                    FlowErrorCode.INVALID_EDGE,
                    f"{edge.target!r} is the trigger: runs start there, nothing leads into it",
                )
            )
    return errors


def graph_complete_errors(
    elements: Sequence[ElementInput], edges: Sequence[EdgeInput]
) -> list[FieldError]:
    """Return what keeps a well-formed graph from running (checked on activation)."""
    errors: list[FieldError] = []
    index = {e.key: i for i, e in enumerate(elements)}
    triggers = [e.key for e in elements if e.kind == FlowElement.Kind.TRIGGER]
    if not triggers:
        errors.append(
            FieldError(
                "elements",
                FlowErrorCode.TRIGGER_COUNT,
                "add a trigger: it decides who enters the flow",
            )
        )
    for key in triggers[1:]:
        errors.append(
            FieldError(
                f"elements[{index[key]}].kind",
                FlowErrorCode.TRIGGER_COUNT,
                "a flow has exactly one trigger; "
                + ", ".join(repr(k) for k in triggers)
                + " are all triggers (make one flow per trigger)",
            )
        )
    exits: dict[str, dict[str, str]] = {e.key: {} for e in elements}
    for edge in edges:
        exits[edge.source][edge.outcome] = edge.target
    for i, element in enumerate(elements):
        for outcome in OUTCOMES.get(element.kind, ()):
            if outcome not in exits[element.key]:
                errors.append(
                    FieldError(
                        f"elements[{i}]",
                        FlowErrorCode.MISSING_EXIT,
                        f"{element.key!r} ({element.kind}) has no {outcome!r} exit; connect it to "
                        "the element that follows (an end element if nothing does)",
                    )
                )
    if len(triggers) == 1:
        seen, todo = {triggers[0]}, [triggers[0]]
        while todo:
            for target in exits[todo.pop()].values():
                if target not in seen:
                    seen.add(target)
                    todo.append(target)
        for i, element in enumerate(elements):
            if element.key not in seen:
                errors.append(
                    FieldError(
                        f"elements[{i}]",
                        FlowErrorCode.UNREACHABLE,
                        f"{element.key!r} cannot be reached from the trigger; connect it or "
                        "remove it",
                    )
                )
    errors.extend(_loops(elements, edges))
    return errors


def _loops(elements: Sequence[ElementInput], edges: Sequence[EdgeInput]) -> list[FieldError]:
    """Report each edge that closes a loop (a back edge of a depth-first walk)."""
    outgoing: dict[str, list[tuple[int, str]]] = {e.key: [] for e in elements}
    for j, edge in enumerate(edges):
        outgoing[edge.source].append((j, edge.target))
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    errors = []
    for root in outgoing:
        if root in state:
            continue
        state[root] = 1
        stack = [(root, iter(outgoing[root]))]
        while stack:
            node, children = stack[-1]
            step = next(children, None)
            if step is None:
                state[node] = 2
                stack.pop()
                continue
            j, target = step
            if state.get(target) == 1:
                errors.append(
                    FieldError(
                        f"edges[{j}]",
                        FlowErrorCode.FLOW_CYCLE,
                        f"{node!r} leads back to {target!r}, which comes before it: runs move "
                        "forward only, so a loop would never end",
                    )
                )
            elif target not in state:
                state[target] = 1
                stack.append((target, iter(outgoing[target])))
    return errors
