"""Write paths for flows: create, change (settings and the whole graph at once), delete, and
the status moves activate / pause / resume / finish.

The API, the admin and (next) the runtime call these; nothing else writes flows, elements or
edges. Every save checks the flow (``flows.validation``); activation and resume check that it
can run. Only a draft or a paused flow's graph and settings may change; an active one keeps
them (pause it first) but may be renamed, described and re-laid-out.
"""

import dataclasses

from django.db import IntegrityError, transaction
from django.db.models import Count
from django.utils import timezone

from cdp.errors import ErrorCode, FieldError, ServiceError
from events.models import EventDefinition
from events.services import definition_set_enabled
from flows.elements import webhook_prepare
from flows.engine import steps_queue
from flows.errors import FlowErrorCode
from flows.inputs import FlowSpec
from flows.models import Flow, FlowEdge, FlowElement, FlowRun
from flows.presets import FlowTemplate, ResolvedTemplate, template_resolve
from flows.schedules import flow_schedule_forget, flow_schedule_sync
from flows.selectors import flow_current_members, flow_spec_get
from flows.validation import flow_labels_validate, flow_spec_validate
from people.models import Person, Workspace
from people.segments.conditions import operators_normalise

S = Flow.Status


def _state_error(message: str) -> ServiceError:
    return ServiceError(FieldError("status", FlowErrorCode.FLOW_STATE, message))


def _duplicate(name: str) -> ServiceError:
    return ServiceError(
        FieldError("name", ErrorCode.DUPLICATE, f"a flow named {name!r} already exists")
    )


def _name_free(workspace_id: int, name: str, exclude: int | None = None) -> None:
    if Flow.objects.filter(workspace_id=workspace_id, name=name).exclude(pk=exclude).exists():
        raise _duplicate(name)


def _prepare(spec: FlowSpec, previous: FlowSpec | None = None) -> FlowSpec:
    """Trim the name; keep stored webhook secrets the caller could not have sent back; store
    conditions' operators in one form."""
    configs = {e.key: e.config for e in previous.elements} if previous else {}
    elements = tuple(
        dataclasses.replace(e, config=webhook_prepare(e.config, configs.get(e.key)))
        if e.kind == FlowElement.Kind.ACTION
        # Conditions' operators in their one stored form (SPEC §8): ">" and "gt" alike.
        else dataclasses.replace(e, config=operators_normalise(e.config))
        for e in spec.elements
    )
    name = spec.name.strip() if isinstance(spec.name, str) else spec.name
    return dataclasses.replace(spec, name=name, elements=elements)


def _settings_write(flow: Flow, spec: FlowSpec, dependencies: list[str]) -> None:
    flow.name, flow.description = spec.name, spec.description
    flow.starts_at, flow.ends_at = spec.starts_at, spec.ends_at
    flow.reentry, flow.reentry_interval = spec.reentry, spec.reentry_interval
    flow.exit_segment_id, flow.dependencies = spec.exit_segment_id, dependencies
    flow.save()


def _people_are(n: int) -> str:
    return "1 person is" if n == 1 else f"{n} people are"


def _graph_write(flow: Flow, spec: FlowSpec) -> None:
    """Store the elements (updated in place by key, so runs keep their place) and the edges
    (replaced); refuse to drop or change the kind of an element people are waiting at."""
    existing = {e.key: e for e in flow.elements.all()}
    wanted = {e.key: e for e in spec.elements}
    moved = [e.pk for key, e in existing.items() if key not in wanted or wanted[key].kind != e.kind]
    live = (
        FlowRun.objects.filter(current_element_id__in=moved, state__in=FlowRun.LIVE_STATES)
        .values("current_element__key")
        .annotate(n=Count("pk"))
        .order_by()
    )
    if moved and live:
        raise ServiceError(
            [
                FieldError(
                    "elements",
                    FlowErrorCode.RUNS_WAITING,
                    f"{_people_are(row['n'])} at {row['current_element__key']!r}: "
                    "keep that element as it is, or finish the flow",
                )
                for row in live
            ]
        )
    FlowEdge.objects.filter(flow=flow).delete()
    FlowElement.objects.filter(flow=flow).exclude(key__in=list(wanted)).delete()
    changed, new = [], []
    for element in spec.elements:
        row = existing.get(element.key) or FlowElement(flow=flow, key=element.key)
        row.kind, row.label, row.config = element.kind, element.label, element.config
        row.position_x, row.position_y = element.position_x, element.position_y
        (changed if row.pk else new).append(row)
    FlowElement.objects.bulk_update(
        changed, ["kind", "label", "config", "position_x", "position_y"]
    )
    FlowElement.objects.bulk_create(new)
    pks = {e.key: e.pk for e in flow.elements.all()}
    FlowEdge.objects.bulk_create(
        FlowEdge(
            flow=flow, source_id=pks[edge.source], target_id=pks[edge.target], outcome=edge.outcome
        )
        for edge in spec.edges
    )


def flow_create(*, workspace: Workspace, spec: FlowSpec) -> Flow:
    """Create a draft flow with its graph; raise ``ServiceError`` with every problem found."""
    spec = _prepare(spec)
    dependencies = flow_spec_validate(workspace=workspace, spec=spec)
    try:
        with transaction.atomic():
            _name_free(workspace.pk, spec.name)
            flow = Flow(workspace=workspace)
            _settings_write(flow, spec, dependencies)
            _graph_write(flow, spec)
    except IntegrityError as exc:  # a concurrent create took the name
        raise _duplicate(spec.name) from exc
    return flow


def _name_numbered(workspace_id: int, name: str) -> str:
    """``name``, or the first of "name (2)", "name (3)"… no flow of the workspace has."""
    taken = set(
        Flow.objects.filter(workspace_id=workspace_id, name__startswith=name).values_list(
            "name", flat=True
        )
    )
    number, candidate = 1, name
    while candidate in taken:
        number += 1
        candidate = f"{name} ({number})"
    return candidate


def flow_from_template_create(
    *,
    workspace: Workspace,
    template: FlowTemplate,
    chosen: dict[str, str] | None = None,
    name: str | None = None,
) -> tuple[Flow, ResolvedTemplate]:
    """Create a draft from a ready-made flow, its events filled with the workspace's own
    definitions (``chosen`` maps a template event to a definition id; the others are found
    by id or name, ``flows.presets``). The draft saves even while events or segments are
    still open: it keeps the template's names and activation lists what is missing. Without
    ``name`` the template's is used, numbered when a flow has it ("… (2)")."""
    resolved = template_resolve(template=template, workspace=workspace, chosen=chosen)
    if name is None:
        name = _name_numbered(workspace.pk, template.name)
    flow = flow_create(workspace=workspace, spec=dataclasses.replace(resolved.spec, name=name))
    return flow, resolved


def flow_update(*, flow: Flow, spec: FlowSpec) -> Flow:
    """Replace a flow's settings and graph with ``spec``.

    A draft or paused flow takes any valid change. An active or finished one only takes a new
    name, description, labels and diagram positions; anything else is refused with
    ``flow_not_editable`` (pause the flow first).
    """
    try:
        with transaction.atomic():
            flow = Flow.objects.select_for_update().get(pk=flow.pk)
            current = flow_spec_get(flow=flow)
            spec = _prepare(spec, current)
            if not flow.is_editable and spec.settings() != current.settings():
                action = (
                    "pause it first" if flow.status == S.ACTIVE else "create a new flow instead"
                )
                raise ServiceError(
                    FieldError(
                        "status",
                        FlowErrorCode.FLOW_NOT_EDITABLE,
                        f"flow {flow.name!r} is {flow.status}: its elements, edges and settings "
                        f"cannot change now; {action} (the name, description, labels and "
                        "positions may change)",
                    )
                )
            if flow.is_editable:
                dependencies = flow_spec_validate(
                    workspace=flow.workspace, spec=spec, draft=flow.status == S.DRAFT
                )
            else:
                flow_labels_validate(spec=spec)
                dependencies = flow.dependencies
            _name_free(flow.workspace_id, spec.name, exclude=flow.pk)
            _settings_write(flow, spec, dependencies)
            _graph_write(flow, spec)
    except IntegrityError as exc:
        raise _duplicate(spec.name) from exc
    return flow


def flow_delete(*, flow: Flow) -> None:
    """Delete a draft or finished flow with its runs; an active or paused one is refused."""
    with transaction.atomic():
        flow = Flow.objects.select_for_update().get(pk=flow.pk)
        if flow.status not in (S.DRAFT, S.FINISHED):
            raise _state_error(f"flow {flow.name!r} is {flow.status}: finish it before deleting it")
        flow_schedule_forget(flow_id=flow.pk)
        flow.delete()


def _transition(
    flow: Flow,
    *,
    allowed: tuple[str, ...],
    target: str,
    refusal: str,
    check: bool = False,
    then=None,
) -> Flow:
    with transaction.atomic():
        flow = Flow.objects.select_for_update().get(pk=flow.pk)
        if flow.status not in allowed:
            raise _state_error(refusal.format(name=flow.name, status=flow.status))
        now = timezone.now()
        if check:
            flow.dependencies = flow_spec_validate(
                workspace=flow.workspace, spec=flow_spec_get(flow=flow), activating=True, now=now
            )
            flow.activated_at = flow.activated_at or now
        flow.status = target
        flow.save()
        flow_schedule_sync(flow=flow)
        if target == S.ACTIVE:
            _runtime_ready(flow, resumed=S.PAUSED in allowed)
        if target == S.FINISHED:
            FlowRun.objects.filter(flow=flow, state__in=FlowRun.LIVE_STATES).update(
                state=FlowRun.State.EXITED,
                finished_at=now,
                resume_at=None,
                exit_reason="the flow was finished",
            )
        if then is not None:
            then(flow)
    return flow


def _runtime_ready(flow: Flow, resumed: bool) -> None:
    """Switch on the product events runs record; after a pause, move on the runs that were
    between steps (waiting runs are picked up by the periodic resume)."""
    for definition in EventDefinition.objects.filter(
        workspace=None, definition_id__in=("flowEntered", "flowExited")
    ):
        definition_set_enabled(workspace=flow.workspace, definition=definition, enabled=True)
    if resumed:
        steps_queue(
            FlowRun.objects.filter(flow=flow, state=FlowRun.State.ACTIVE).values_list(
                "pk", "step_no"
            )
        )


ADMIT_CHUNK = 2000


def _members_admit_queue(flow: Flow) -> int | None:
    """Queue the trigger segment's current members to enter, after commit, in tasks of
    ``ADMIT_CHUNK`` ids; return how many (None when the trigger is not segment entry)."""
    from flows.tasks import flow_members_admit_task

    current = flow_current_members(flow=flow)
    if current is None:
        return None
    ids = list(current[1])
    for start in range(0, len(ids), ADMIT_CHUNK):
        chunk = ids[start : start + ADMIT_CHUNK]
        transaction.on_commit(lambda c=chunk: flow_members_admit_task.delay(flow.pk, c))
    return len(ids)


def flow_activate(*, flow: Flow, admit_current_members: bool = False) -> Flow:
    """Start a draft: check it is complete and can run (every problem at once), then let
    people in.

    A flow triggered by entering a segment lets in whoever enters the segment from now on;
    with ``admit_current_members`` the people in the segment now enter too (those in the
    exit segment excepted; chunks of ids queued after commit, each entered once under the
    flow's rules by ``flows.entry.flow_members_admit``). The returned flow's ``admitted``
    says how many were queued (None when not asked or the trigger is not segment entry)."""
    admitted = []

    def admit(active: Flow) -> None:
        admitted.append(_members_admit_queue(active))

    flow = _transition(
        flow,
        allowed=(S.DRAFT,),
        target=S.ACTIVE,
        check=True,
        refusal="flow {name!r} is {status}; only a draft is activated (a paused flow is resumed)",
        then=admit if admit_current_members else None,
    )
    flow.admitted = admitted[0] if admitted else None
    return flow


def flow_pause(*, flow: Flow) -> Flow:
    """Stop letting people in and moving runs on, until resumed; the graph becomes editable."""
    return _transition(
        flow,
        allowed=(S.ACTIVE,),
        target=S.PAUSED,
        refusal="flow {name!r} is {status}; only an active flow is paused",
    )


def flow_resume(*, flow: Flow) -> Flow:
    """Make a paused flow active again, after the same checks as activation."""
    return _transition(
        flow,
        allowed=(S.PAUSED,),
        target=S.ACTIVE,
        check=True,
        refusal="flow {name!r} is {status}; only a paused flow is resumed",
    )


def flow_finish(*, flow: Flow) -> Flow:
    """End an active or paused flow for good: nobody enters, runs still in it exit."""
    return _transition(
        flow,
        allowed=(S.ACTIVE, S.PAUSED),
        target=S.FINISHED,
        refusal="flow {name!r} is {status}; only an active or paused flow is "
        "finished (a draft is deleted)",
    )


def flow_runs_merge(*, survivor: Person, merged: Person) -> None:
    """Move the merged person's runs to the survivor (``people.merge`` handler); a run in a
    flow the survivor is already in exits, since a person is in a flow once at a time."""
    survivor_live = FlowRun.objects.filter(
        person_id=survivor.pk, state__in=FlowRun.LIVE_STATES
    ).values("flow_id")
    FlowRun.objects.filter(
        person_id=merged.pk, state__in=FlowRun.LIVE_STATES, flow_id__in=survivor_live
    ).update(
        state=FlowRun.State.EXITED,
        finished_at=timezone.now(),
        resume_at=None,
        exit_reason=f"merged into person {survivor.pk}",
    )
    FlowRun.objects.filter(person_id=merged.pk).update(person_id=survivor.pk)
