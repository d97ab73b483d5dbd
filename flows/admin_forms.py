"""The flow form of the admin: settings as fields, the graph as two JSON texts.

``graph_elements`` and ``graph_edges`` hold the ``elements`` and ``edges`` lists the API reads
and writes (``flows.api.representation``; a webhook's secret shows as ``"hasSecret": true`` and
is kept when saved back), checked for shape by the API's serializers; the re-entry interval is
three numbers. The visual builder (``static/cdp/admin/flow_builder.js``) writes both texts; they
are not named ``elements``, which would hide the HTML form's own ``elements`` list that the
admin's scripts walk. ``FlowForm.spec()`` turns a valid form into the ``FlowSpec`` the services
store, ``error_text`` turns a service error's path (``elements[2].config.within``) into words
that name the element ("element 'wait1' (wait), config.within: …"), and ``element_errors``
files the same errors under the key of the element they concern, for the builder to show.
"""

import json
import re
from datetime import timedelta

from django import forms

from cdp.api.parsing import JsonError, json_parse
from cdp.errors import FieldError
from flows.api.representation import spec_from_data, spec_json
from flows.api.serializers import FlowEdgeSerializer, FlowElementSerializer
from flows.elements import duration_json
from flows.inputs import FlowSpec
from flows.models import Flow
from flows.selectors import flow_spec_get

SETTINGS = (
    "starts_at",
    "ends_at",
    "reentry",
    "interval_days",
    "interval_hours",
    "interval_minutes",
    "exit_segment",
    "graph_elements",
    "graph_edges",
)
# Service field names → form fields (element and edge paths go to their JSON field).
FIELDS = {
    "startsTime": "starts_at",
    "endsTime": "ends_at",
    "reentryInterval": "interval_days",
    "exitSegmentId": "exit_segment",
    "status": "",
}
PATH_RE = re.compile(r"^(elements|edges)\[(\d+)\]\.?(.*)$")
# The API's names of the graph lists → the form fields holding them.
GRAPH_FIELDS = {"elements": "graph_elements", "edges": "graph_edges"}
JSON_HELP = {
    "elements": 'A list of {"key", "kind", "label", "config", "positionX", "positionY"} '
    "(formats per kind in the README, Flows).",
    "edges": 'A list of {"source": key, "target": key, "outcome"}: next; met / timeout '
    "after a wait for an event; yes / no after a branch.",
}


def graph_texts(spec: FlowSpec) -> dict[str, str]:
    """Return a spec's elements and edges as the JSON texts the form shows."""
    data = spec_json(spec)
    return {name: json.dumps(data[name], indent=2, ensure_ascii=False) for name in GRAPH_FIELDS}


def spec_initial(spec: FlowSpec) -> dict:
    """Return form initial values for ``spec`` (a template, or a stored flow's graph)."""
    interval = duration_json(spec.reentry_interval) or {}
    return {
        "name": spec.name,
        "description": spec.description,
        "starts_at": spec.starts_at,
        "ends_at": spec.ends_at,
        "reentry": spec.reentry,
        "interval_days": interval.get("days"),
        "interval_hours": interval.get("hours"),
        "interval_minutes": interval.get("minutes"),
        "exit_segment": spec.exit_segment_id,
        **{GRAPH_FIELDS[name]: text for name, text in graph_texts(spec).items()},
    }


def error_path(field: str, spec: FlowSpec | None) -> str:
    """Name the element or edge a path points at: "element 'wait1' (wait), config.within"."""
    match = PATH_RE.match(field)
    if not match or spec is None:
        return field
    family, i, rest = match.group(1), int(match.group(2)), match.group(3)
    items = spec.elements if family == "elements" else spec.edges
    if i >= len(items):
        return field
    item = items[i]
    if family == "elements":
        where = f"element {item.key!r} ({item.kind})"
    else:
        where = f"edge {item.source} → {item.target} ({item.outcome})"
    return f"{where}, {rest}" if rest else where


def error_text(error: FieldError, spec: FlowSpec | None) -> str:
    """Return a service error as one line with its (readable) path."""
    path = error_path(error.field, spec)
    return f"{path}: {error.message}" if path else error.message


def readable_errors(errors: list[FieldError], spec: FlowSpec) -> list[FieldError]:
    """Return ``errors`` with element and edge messages prefixed by what they are about."""
    return [
        FieldError(e.field, e.code, error_text(e, spec)) if PATH_RE.match(e.field) else e
        for e in errors
    ]


def element_errors(errors: list[FieldError], spec: FlowSpec) -> dict[str, list[str]]:
    """Return the element and edge errors among ``errors`` by the key of the element they
    concern (an edge's under its source), each as "config.within: …" without the element."""
    found: dict[str, list[str]] = {}
    for error in errors:
        match = PATH_RE.match(error.field)
        if not match:
            continue
        family, i, rest = match.group(1), int(match.group(2)), match.group(3)
        items = spec.elements if family == "elements" else spec.edges
        if i >= len(items):
            continue
        item = items[i]
        if family == "elements":
            key, where = item.key, rest
        else:
            key, where = item.source, f"exit {item.outcome} → {item.target}"
        if isinstance(key, str):
            found.setdefault(key, []).append(
                f"{where}: {error.message}" if where else error.message
            )
    return found


def _serializer_errors(errors) -> list[str]:
    lines = []
    for i, item in enumerate(errors):
        for name, messages in (item or {}).items():
            lines += [f"item {i + 1}, {name}: {m}" for m in messages]
    return lines


class FlowForm(forms.ModelForm):
    interval_days = forms.IntegerField(
        required=False, min_value=0, max_value=3650, label="re-entry interval: days"
    )
    interval_hours = forms.IntegerField(required=False, min_value=0, max_value=23, label="hours")
    interval_minutes = forms.IntegerField(
        required=False, min_value=0, max_value=59, label="minutes"
    )
    graph_elements = forms.CharField(
        label="elements (JSON)",
        widget=forms.Textarea(attrs={"rows": 18, "class": "cdp-json"}),
        initial="[]",
        help_text=JSON_HELP["elements"],
    )
    graph_edges = forms.CharField(
        label="edges (JSON)",
        widget=forms.Textarea(attrs={"rows": 8, "class": "cdp-json"}),
        initial="[]",
        help_text=JSON_HELP["edges"],
    )

    class Meta:
        model = Flow
        fields = (
            "workspace",
            "name",
            "description",
            "starts_at",
            "ends_at",
            "reentry",
            "exit_segment",
        )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        flow = self.instance
        if flow.pk:
            stored = spec_initial(flow_spec_get(flow=flow))
            self.initial.update(
                {k: v for k, v in stored.items() if k in SETTINGS and k not in ("exit_segment",)}
            )
        if "exit_segment" in self.fields and flow.workspace_id:
            field = self.fields["exit_segment"]
            field.queryset = field.queryset.filter(workspace_id=flow.workspace_id)
        if flow.pk and not flow.is_editable:
            # The services keep an active (or finished) flow's graph and settings as they are.
            for name in SETTINGS:
                if name in self.fields:
                    self.fields[name].disabled = True

    def _json_list(self, name: str, serializer_class) -> list:
        text = self.cleaned_data.get(name) or "[]"
        try:
            value = json_parse(text)
        except JsonError as exc:
            raise forms.ValidationError(f"This is {exc}.") from exc
        if not isinstance(value, list):
            raise forms.ValidationError("Give a JSON list ([…]).")
        serializer = serializer_class(data=value, many=True)
        if not serializer.is_valid():
            raise forms.ValidationError(_serializer_errors(serializer.errors))
        return serializer.validated_data

    def clean_graph_elements(self):
        return self._json_list("graph_elements", FlowElementSerializer)

    def clean_graph_edges(self):
        return self._json_list("graph_edges", FlowEdgeSerializer)

    def clean(self):
        cleaned = super().clean()
        parts = [cleaned.get(f"interval_{unit}") for unit in ("days", "hours", "minutes")]
        cleaned["reentry_interval"] = (
            None
            if all(p in (None, 0) for p in parts)
            else timedelta(days=parts[0] or 0, hours=parts[1] or 0, minutes=parts[2] or 0)
        )
        return cleaned

    def spec(self) -> FlowSpec:
        """Return the flow the valid form describes."""
        data = self.cleaned_data
        segment = data.get("exit_segment")
        graph = spec_from_data(
            {
                "elements": [dict(e) for e in data["graph_elements"]],
                "edges": [dict(e) for e in data["graph_edges"]],
            }
        )
        return FlowSpec(
            name=data.get("name", ""),
            description=data.get("description", ""),
            starts_at=data.get("starts_at"),
            ends_at=data.get("ends_at"),
            reentry=data.get("reentry") or Flow.Reentry.ONCE,
            reentry_interval=data.get("reentry_interval"),
            exit_segment_id=segment.pk if segment else None,
            elements=graph.elements,
            edges=graph.edges,
        )
