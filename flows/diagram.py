"""The drawn diagram of a flow (SPEC §8 admin), rendered on the server as inline SVG.

Each element is a box coloured by kind with its key, label, a one-line summary of its config
(``flows.summaries``) and its counts (``flows.selectors.flow_element_counts``: entered,
waiting now, passed, exited); edges are arrows labelled with their outcome (``next`` is left
unlabelled). Boxes sit where the stored ``position_x`` / ``position_y`` put them when those
form a real two-dimensional layout (not all on one row, no two boxes overlapping); otherwise
the layout is layered: columns by depth from the trigger (the longest path, so every arrow
points right), rows within a column in the order of their parents and outcomes, each column
centred. Every text comes from user input and is escaped; no script, no network.
"""

from collections import defaultdict
from dataclasses import dataclass

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from flows.models import Flow, FlowEdge, FlowElement
from flows.selectors import flow_element_counts
from flows.summaries import element_summary, segment_ids, shorten
from people.segments.models import Segment

BOX_W, BOX_H = 184, 112
COL_PITCH, ROW_PITCH = 230, 144
MARGIN = 24
OUTCOME_RANK = {"next": 0, "met": 0, "yes": 0, "timeout": 1, "no": 1}
COLORS = {  # kind: (header and border, box fill)
    "trigger": ("#2e7d32", "#edf7ee"),
    "wait": ("#9a6700", "#fff8e1"),
    "wait_for_event": ("#c2410c", "#fdf0ea"),
    "branch": ("#6a1b9a", "#f5ecf8"),
    "action": ("#1565c0", "#e9f2fc"),
    "end": ("#455a64", "#eef1f3"),
}
OUTCOME_COLORS = {"yes": "#2e7d32", "met": "#2e7d32", "no": "#b3261e", "timeout": "#b3261e"}
STYLE = (
    ".cdp-flow-diagram text{font-family:-apple-system,'Segoe UI',Roboto,Helvetica,Arial,"
    "sans-serif;font-size:12px;fill:#1f2933}"
    ".cdp-flow-diagram .head{fill:#fff;font-size:10.5px;font-weight:600;"
    "letter-spacing:.04em}"
    ".cdp-flow-diagram .label{font-weight:600;font-size:12.5px}"
    ".cdp-flow-diagram .summary{fill:#52606d}"
    ".cdp-flow-diagram .counts{font-size:11px;fill:#52606d}"
    ".cdp-flow-diagram .n{font-weight:700;fill:#1f2933}"
    ".cdp-flow-diagram .edge-label{font-size:11px;font-weight:600}"
)


@dataclass(frozen=True)
class Node:
    key: str
    kind: str
    label: str
    summary: str
    counts: dict
    x: int
    y: int


def _stored_positions(elements) -> dict[str, tuple[int, int]] | None:
    """Return the stored positions shifted to the margin, or None when they are not a
    usable layout (all on one row, or overlapping boxes)."""
    points = [(e.position_x, e.position_y) for e in elements]
    if len({y for _, y in points}) < 2:
        return None
    for i, (x1, y1) in enumerate(points):
        for x2, y2 in points[i + 1 :]:
            if abs(x1 - x2) < BOX_W + 8 and abs(y1 - y2) < BOX_H + 8:
                return None
    left, top = min(x for x, _ in points), min(y for _, y in points)
    return {e.key: (e.position_x - left + MARGIN, e.position_y - top + MARGIN) for e in elements}


def layered_positions(elements, edges) -> dict[str, tuple[int, int]]:
    """Return box positions by depth from the trigger (columns) and parent order (rows).

    ``elements`` have ``key`` and ``kind``; ``edges`` are ``(source, target, outcome)``.
    """
    keys = [e.key for e in elements]
    index = {key: i for i, key in enumerate(keys)}
    edges = [(s, t, o) for s, t, o in edges if s in index and t in index and s != t]
    targets = {t for _, t, _ in edges}
    roots = [e.key for e in elements if e.kind == FlowElement.Kind.TRIGGER]
    roots += [k for k in keys if k not in targets and k not in roots]
    depth = dict.fromkeys(roots, 0)
    for _ in range(len(keys)):  # longest path; bounded, so a loop in a draft cannot hang it
        changed = False
        for source, target, _ in edges:
            if (
                source in depth
                and depth[source] + 1 > depth.get(target, -1)
                and depth[source] + 1 < len(keys)
            ):
                depth[target] = depth[source] + 1
                changed = True
        if not changed:
            break
    columns: dict[int, list[str]] = defaultdict(list)
    for key in keys:
        columns[depth.get(key, 0)].append(key)
    parents: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for source, target, outcome in edges:
        parents[target].append((source, outcome))
    row: dict[str, float] = {}
    for column in sorted(columns):

        def order(key, column=column):
            placed = [
                (row[s], OUTCOME_RANK.get(o, 2))
                for s, o in parents[key]
                if s in row and depth.get(s, 0) < column
            ]
            return (min(placed) if placed else (len(keys), 0), index[key])

        for i, key in enumerate(sorted(columns[column], key=order)):
            row[key] = i
        columns[column].sort(key=lambda k: row[k])
    tallest = max(len(c) for c in columns.values())
    positions = {}
    for column, members in columns.items():
        offset = (tallest - len(members)) * ROW_PITCH / 2
        for key in members:
            positions[key] = (
                MARGIN + column * COL_PITCH,
                round(MARGIN + offset + row[key] * ROW_PITCH),
            )
    return positions


def _node_svg(node: Node) -> SafeString:
    color, fill = COLORS.get(node.kind, COLORS["end"])
    c = node.counts
    title = (
        f"{node.key} ({node.kind}) {node.label}: {node.summary}. Entered {c['entered']}, "
        f"waiting {c['waiting']}, passed {c['passed']}, exited {c['exited']}"
    )
    return format_html(
        '<g class="cdp-flow-node" data-key="{key}" data-kind="{kind}" data-entered="{en}" '
        'data-waiting="{wa}" data-passed="{pa}" data-exited="{ex}" '
        'transform="translate({x},{y})"><title>{title}</title>'
        '<rect width="{w}" height="{h}" rx="7" fill="{fill}" stroke="{color}" '
        'stroke-width="1.5"/><path d="M0,7a7,7 0 0 1 7,-7h{inner}a7,7 0 0 1 7,7v15h-{w}z" '
        'fill="{color}"/><text class="head" x="9" y="15">{kind_label}</text>'
        '<text class="head key" x="{kx}" y="15" text-anchor="end">{short_key}</text>'
        '<text class="label" x="9" y="41">{label}</text>'
        '<text class="summary" x="9" y="59">{summary}</text>'
        '<line x1="9" x2="{lx}" y1="70" y2="70" stroke="{color}" stroke-opacity=".25"/>'
        '<text class="counts" x="9" y="87">entered <tspan class="n entered">{en}</tspan> · '
        'waiting <tspan class="n waiting">{wa}</tspan></text>'
        '<text class="counts" x="9" y="103">passed <tspan class="n passed">{pa}</tspan> · '
        'exited <tspan class="n exited">{ex}</tspan></text></g>',
        key=node.key,
        kind=node.kind,
        en=c["entered"],
        wa=c["waiting"],
        pa=c["passed"],
        ex=c["exited"],
        x=node.x,
        y=node.y,
        title=title,
        w=BOX_W,
        h=BOX_H,
        fill=fill,
        color=color,
        inner=BOX_W - 14,
        kind_label=node.kind.replace("_", " ").upper(),
        kx=BOX_W - 9,
        short_key=shorten(node.key, 14),
        label=shorten(node.label or node.key, 25),
        summary=shorten(node.summary, 29),
        lx=BOX_W - 9,
    )


def _edge_svg(source: Node, target: Node, outcome: str, nodes: list[Node]) -> SafeString:
    sx, sy = source.x + BOX_W, source.y + BOX_H / 2
    ex, ey = target.x, target.y + BOX_H / 2
    between = any(n.y == source.y and source.x < n.x < target.x for n in nodes)
    if target.y == source.y and between:  # skips boxes on its row: an arc below them
        sx, sy = source.x + BOX_W / 2, source.y + BOX_H
        ex, ey = target.x + BOX_W / 2, target.y + BOX_H
        c1, c2 = (sx, sy + 60), (ex, ey + 60)
    elif ex > sx:
        bend = (ex - sx) / 2
        c1, c2 = (sx + bend, sy), (ex - bend, ey)
    else:  # points back (a loop in a draft, or stored positions): leave right, come in left
        c1, c2 = (sx + 80, sy + 90), (ex - 80, ey + 90)
    mx = (sx + 3 * c1[0] + 3 * c2[0] + ex) / 8
    my = (sy + 3 * c1[1] + 3 * c2[1] + ey) / 8
    color = OUTCOME_COLORS.get(outcome, "#78909c")
    points = " ".join(f"{round(x)},{round(y)}" for x, y in (c1, c2, (ex - 2, ey)))
    path = format_html(
        '<path class="cdp-flow-edge" data-source="{}" data-target="{}" data-outcome="{}" '
        'd="M{},{} C{}" fill="none" stroke="{}" stroke-width="1.6" '
        'marker-end="url(#cdp-arrow-{})"/>',
        source.key,
        target.key,
        outcome,
        round(sx),
        round(sy),
        points,
        color,
        outcome if outcome in OUTCOME_COLORS else "next",
    )
    if outcome == FlowEdge.Outcome.NEXT:
        return path
    width = 8 + 7 * len(outcome)
    return format_html(
        '{}<g class="cdp-flow-edge-label"><rect x="{}" y="{}" width="{}" height="17" '
        'rx="8" fill="#fff" stroke="{}"/><text class="edge-label" x="{}" y="{}" '
        'text-anchor="middle" fill="{}">{}</text></g>',
        path,
        round(mx - width / 2),
        round(my - 9),
        width,
        color,
        round(mx),
        round(my + 4),
        color,
        outcome,
    )


def _markers() -> SafeString:
    colors = {"next": "#78909c", **OUTCOME_COLORS}
    return format_html_join(
        "",
        (
            '<marker id="cdp-arrow-{}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
            'markerHeight="7" orient="auto-start-reverse"><path d="M0,0L10,5L0,10z" fill="{}"/>'
            "</marker>"
        ),
        colors.items(),
    )


def diagram_svg(flow: Flow, elements, edges, counts: dict, segment_names: dict) -> SafeString:
    """Return the SVG of ``elements`` (FlowElement rows) and ``edges`` (source key, target
    key, outcome) with ``counts`` by element id."""
    if not elements:
        return format_html('<p class="cdp-empty">{}</p>', "This flow has no elements yet.")
    positions = _stored_positions(elements) or layered_positions(elements, edges)
    empty = {"entered": 0, "waiting": 0, "passed": 0, "exited": 0}
    nodes = [
        Node(
            key=e.key,
            kind=e.kind,
            label=e.label,
            summary=element_summary(e.kind, e.config, segment_names),
            counts=counts.get(e.pk, empty),
            x=positions[e.key][0],
            y=positions[e.key][1],
        )
        for e in elements
    ]
    by_key = {n.key: n for n in nodes}
    width = max(n.x for n in nodes) + BOX_W + MARGIN
    height = max(n.y for n in nodes) + BOX_H + MARGIN + 40  # room for arcs below a row
    edge_parts = [
        _edge_svg(by_key[s], by_key[t], o, nodes)
        for s, t, o in edges
        if s in by_key and t in by_key
    ]
    return format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" class="cdp-flow-diagram" id="cdp-flow-diagram" '
        'width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img" '
        'aria-label="Diagram of the flow {name}"><style>{style}</style><defs>{markers}</defs>'
        "{edges}{nodes}</svg>",
        w=width,
        h=height,
        name=flow.name,
        style=mark_safe(STYLE),
        markers=_markers(),
        edges=mark_safe("".join(edge_parts)),
        nodes=mark_safe("".join(_node_svg(n) for n in nodes)),
    )


def flow_diagram(*, flow: Flow) -> SafeString:
    """Return the diagram of a stored flow with its per-element counts (five queries)."""
    elements = list(flow.elements.order_by("pk"))
    edges = list(flow.edges.order_by("pk").values_list("source__key", "target__key", "outcome"))
    ids = segment_ids(e.config for e in elements)
    names = (
        dict(
            Segment.objects.filter(workspace_id=flow.workspace_id, pk__in=ids).values_list(
                "pk", "name"
            )
        )
        if ids
        else {}
    )
    return diagram_svg(flow, elements, edges, flow_element_counts(flow=flow), names)
