"""Check a whole flow: its settings, each element's config and the graph.

``flow_spec_validate`` is called by the services on every save (a well-formed draft) and on
activation or resume (a complete flow whose definitions are switched on and whose dates lie
ahead). A draft may be incomplete: besides edges still to draw, it may name event
definitions, properties or segments the workspace does not have yet (a flow started from a
template, say); those are reported when it is activated (``_draft_tolerates``). It gathers
every problem it finds, one ``FieldError`` each, and raises them together as one
``ServiceError``; the API answers the first and lists them all under ``errors``.
"""

import dataclasses
import re
from datetime import datetime, timedelta

from django.utils import timezone

from cdp.errors import ErrorCode, FieldError, ServiceError
from cdp.ids import MAX_ID
from events.definition_cache import catalogue_get
from events.services import DEFINITION_ID_RE
from flows.elements import Context, element_config_validate
from flows.elements.triggers import TRIGGER_TYPES
from flows.errors import FlowErrorCode
from flows.graph import graph_complete_errors, graph_shape_errors
from flows.inputs import FlowSpec
from flows.models import Flow, FlowElement
from people.errors import SegmentErrorCode
from people.models import Workspace
from people.segments.models import Segment

MAX_NAME = 200
MAX_DESCRIPTION = 5000
MAX_INTERVAL = timedelta(days=3650)
SEGMENT_PLACEHOLDER = "@segment:"  # a template's segment the workspace has yet to create
_PATH_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def _value_at(spec: FlowSpec, field: str):
    """The value an error's ``field`` path (``elements[0].config.where[1].property``) points
    at in ``spec``, or ``_ABSENT``."""
    value = {"elements": [{"config": e.config} for e in spec.elements]}
    for name, index in _PATH_PART.findall(field):
        try:
            value = value[int(index)] if index else value[name]
        except (KeyError, IndexError, TypeError):
            return _ABSENT
    return value


_ABSENT = object()


def _draft_tolerates(spec: FlowSpec, error: FieldError) -> bool:
    """Whether a draft may keep this element problem until activation: a well-formed
    reference to an event definition, property or segment the workspace does not have yet
    (a flow started from a template, say). Malformed values are refused at once."""
    value = _value_at(spec, error.field)
    if error.code == ErrorCode.UNKNOWN_DEFINITION:
        return isinstance(value, str) and DEFINITION_ID_RE.match(value) is not None
    if error.code == ErrorCode.UNKNOWN_PROPERTY:
        return value is not _ABSENT
    if error.code == SegmentErrorCode.UNKNOWN_SEGMENT:
        if isinstance(value, str):
            return value.startswith(SEGMENT_PLACEHOLDER) and len(value) <= 100
        return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_ID
    return False


def _time_errors(field: str, value) -> list[FieldError]:
    if value is None:
        return []
    if not isinstance(value, datetime) or value.tzinfo is None:
        return [
            FieldError(
                field,
                ErrorCode.INVALID,
                "give a date-time with a time zone, e.g. 2025-01-31T09:00:00Z",
            )
        ]
    if not 2000 <= value.year <= 2200:
        return [
            FieldError(field, ErrorCode.INVALID, "give a date-time between the years 2000 and 2200")
        ]
    return []


def _text_errors(spec: FlowSpec) -> list[FieldError]:
    errors = []
    if not isinstance(spec.name, str) or not spec.name.strip() or len(spec.name) > MAX_NAME:
        errors.append(
            FieldError(
                "name", ErrorCode.REQUIRED, f"give the flow a name (at most {MAX_NAME} characters)"
            )
        )
    if not isinstance(spec.description, str) or len(spec.description) > MAX_DESCRIPTION:
        errors.append(
            FieldError(
                "description",
                ErrorCode.TOO_LONG,
                f"a description has at most {MAX_DESCRIPTION} characters",
            )
        )
    return errors


def _settings_errors(
    workspace: Workspace, spec: FlowSpec, activating: bool, now: datetime
) -> list[FieldError]:
    errors = _text_errors(spec)
    dates = _time_errors("startsTime", spec.starts_at) + _time_errors("endsTime", spec.ends_at)
    errors += dates
    if not dates and spec.starts_at and spec.ends_at and spec.ends_at <= spec.starts_at:
        errors.append(
            FieldError("endsTime", ErrorCode.INVALID, "the end must come after the start")
        )
    if not dates and activating and spec.ends_at and spec.ends_at <= now:
        errors.append(
            FieldError(
                "endsTime", ErrorCode.INVALID, "the end date has passed: move it later or clear it"
            )
        )
    if spec.reentry not in Flow.Reentry.values:
        errors.append(
            FieldError(
                "reentry",
                ErrorCode.INVALID,
                "re-entry is once (a person enters one time) or recurring",
            )
        )
    if spec.reentry_interval is not None:
        if spec.reentry != Flow.Reentry.RECURRING:
            errors.append(
                FieldError(
                    "reentryInterval",
                    ErrorCode.INVALID,
                    "an interval between entries needs recurring re-entry",
                )
            )
        elif not timedelta(minutes=1) <= spec.reentry_interval <= MAX_INTERVAL:
            errors.append(
                FieldError(
                    "reentryInterval",
                    ErrorCode.INVALID,
                    "the interval is from 1 minute to 3650 days",
                )
            )
    if (
        spec.exit_segment_id is not None
        and not Segment.objects.filter(workspace=workspace, pk=spec.exit_segment_id).exists()
    ):
        errors.append(
            FieldError(
                "exitSegmentId",
                SegmentErrorCode.UNKNOWN_SEGMENT,
                f"there is no segment {spec.exit_segment_id!r} in this workspace",
            )
        )
    return errors


def _elements_check(
    workspace: Workspace, spec: FlowSpec, activating: bool, now: datetime
) -> tuple[set[str], list[tuple[int, FieldError]]]:
    context = Context(
        workspace=workspace, catalogue=catalogue_get(workspace), now=now, activating=activating
    )
    dependencies: set[str] = set()
    errors: list[tuple[int, FieldError]] = []

    def check(i: int, element) -> bool:
        try:
            dependencies.update(
                element_config_validate(
                    kind=element.kind,
                    config=element.config,
                    path=f"elements[{i}].config",
                    context=context,
                )
            )
        except ServiceError as exc:
            errors.extend((i, e) for e in exc.errors)
            return False
        return True

    triggers = [(i, e) for i, e in enumerate(spec.elements) if e.kind == FlowElement.Kind.TRIGGER]
    valid = [check(i, e) for i, e in triggers]
    if len(triggers) == 1 and isinstance(triggers[0][1].config, dict):
        config = triggers[0][1].config
        kind = config.get("type") if config.get("type") in TRIGGER_TYPES else None
        context = dataclasses.replace(
            context,
            trigger_type=kind,
            trigger_event=config.get("event") if valid[0] and kind == "event" else None,
        )
    for i, element in enumerate(spec.elements):
        if element.kind in FlowElement.Kind.values and element.kind != FlowElement.Kind.TRIGGER:
            check(i, element)
    return dependencies, sorted(errors, key=lambda item: item[0])


def _trigger_exit_errors(spec: FlowSpec) -> list[FieldError]:
    for i, element in enumerate(spec.elements):
        config = element.config if isinstance(element.config, dict) else {}
        if (
            element.kind == FlowElement.Kind.TRIGGER
            and spec.exit_segment_id is not None
            and config.get("type") in ("segment_entry", "schedule")
            and config.get("segment") == spec.exit_segment_id
        ):
            return [
                FieldError(
                    f"elements[{i}].config.segment",
                    FlowErrorCode.INVALID_CONFIG,
                    "the trigger's segment is also the exit segment: its members could never enter",
                )
            ]
    return []


def flow_spec_validate(
    *,
    workspace: Workspace,
    spec: FlowSpec,
    activating: bool = False,
    draft: bool = True,
    now: datetime | None = None,
) -> list[str]:
    """Check ``spec`` for ``workspace`` (``activating``: also that it can run now) and return
    the definitions and segments it names; raise one ``ServiceError`` with every problem.
    Only a ``draft`` (not a paused flow being edited) may name what the workspace lacks."""
    now = now or timezone.now()
    errors = _settings_errors(workspace, spec, activating, now)
    dependencies, element_errors = _elements_check(workspace, spec, activating, now)
    errors += [
        error
        for _, error in element_errors
        if activating or not draft or not _draft_tolerates(spec, error)
    ]
    shape = graph_shape_errors(spec.elements, spec.edges)
    errors += shape
    if activating and not shape:
        errors += graph_complete_errors(spec.elements, spec.edges)
        errors += _trigger_exit_errors(spec)
    if errors:
        raise ServiceError(errors)
    if spec.exit_segment_id is not None:
        dependencies.add(f"segment:{spec.exit_segment_id}")
    return sorted(dependencies)


def flow_labels_validate(*, spec: FlowSpec) -> None:
    """Check what may change on an active flow: name, description, labels and positions."""
    errors = _text_errors(spec) + graph_shape_errors(spec.elements, spec.edges)
    if errors:
        raise ServiceError(errors)
