"""Read paths for flows and runs, shared by the API, the services and the admin."""

from django.db.models import Count, F, Q, QuerySet

from flows.inputs import EdgeInput, ElementInput, FlowSpec
from flows.models import Flow, FlowElement, FlowRun, FlowStepLog
from people.models import Person, Workspace
from people.segments.models import Segment, SegmentMembership


def flow_list(*, workspace: Workspace, status: str | None = None) -> QuerySet[Flow]:
    flows = Flow.objects.filter(workspace=workspace)
    if status:
        flows = flows.filter(status=status)
    return flows.order_by("name", "pk")


def flow_get(*, workspace: Workspace, flow_id: int) -> Flow | None:
    return Flow.objects.filter(workspace=workspace, pk=flow_id).first()


def flow_spec_get(*, flow: Flow) -> FlowSpec:
    """Return the stored flow as a ``FlowSpec`` (elements in the order they were added)."""
    elements = list(flow.elements.order_by("pk"))
    keys = {e.pk: e.key for e in elements}
    edges = flow.edges.order_by("pk").values_list("source_id", "target_id", "outcome")
    return FlowSpec(
        name=flow.name,
        description=flow.description,
        starts_at=flow.starts_at,
        ends_at=flow.ends_at,
        reentry=flow.reentry,
        reentry_interval=flow.reentry_interval,
        exit_segment_id=flow.exit_segment_id,
        elements=tuple(
            ElementInput(
                key=e.key,
                kind=e.kind,
                config=e.config,
                label=e.label,
                position_x=e.position_x,
                position_y=e.position_y,
            )
            for e in elements
        ),
        edges=tuple(EdgeInput(source=keys[s], target=keys[t], outcome=o) for s, t, o in edges),
    )


def flow_runs(*, flow: Flow, state: str | None = None) -> QuerySet[FlowRun]:
    """Runs of a flow, newest first: by id, which follows entry time, so a page of a large
    flow's runs is read backwards along the primary key instead of sorting them all."""
    runs = FlowRun.objects.filter(flow=flow).select_related("current_element")
    if state:
        runs = runs.filter(state=state)
    return runs.order_by("-pk")


def person_flow_runs(*, person: Person) -> QuerySet[FlowRun]:
    """A person's runs in every flow, newest first (the (person, entered_at) index)."""
    return (
        FlowRun.objects.filter(person=person)
        .select_related("flow", "current_element")
        .order_by("-entered_at", "-pk")
    )


def flow_element_counts(*, flow: Flow) -> dict[int, dict[str, int]]:
    """Return, per element id, how many runs ``entered`` it (have a step there), are
    ``waiting`` there now (live runs at it), ``passed`` it (moved on, or finished there) and
    ``exited`` there (ended early: exited or failed). Two aggregate queries for the flow."""
    steps = (
        FlowStepLog.objects.filter(run__flow=flow, element__isnull=False)
        .values("element_id")
        .order_by()
        .annotate(
            entered=Count("run_id", distinct=True),
            passed=Count(
                "run_id",
                distinct=True,
                filter=(
                    ~Q(run__current_element_id=F("element_id"))
                    | Q(run__state=FlowRun.State.FINISHED)
                ),
            ),
        )
    )
    ended = (FlowRun.State.EXITED, FlowRun.State.FAILED)
    runs = (
        FlowRun.objects.filter(flow=flow, current_element__isnull=False)
        .values("current_element_id")
        .order_by()
        .annotate(
            waiting=Count("pk", filter=Q(state__in=FlowRun.LIVE_STATES)),
            exited=Count("pk", filter=Q(state__in=ended)),
        )
    )
    counts: dict[int, dict[str, int]] = {}
    empty = {"entered": 0, "waiting": 0, "passed": 0, "exited": 0}
    for row in steps:
        counts.setdefault(row["element_id"], dict(empty)).update(
            entered=row["entered"], passed=row["passed"]
        )
    for row in runs:
        counts.setdefault(row["current_element_id"], dict(empty)).update(
            waiting=row["waiting"], exited=row["exited"]
        )
    return counts


def flows_using_definition(definition) -> list[str]:
    """Describe active and paused flows whose elements name ``definition`` (the
    ``events.selectors`` usage hook that keeps it from being deleted)."""
    marker = f"event:{definition.pk}"
    live = Flow.objects.filter(status__in=[Flow.Status.ACTIVE, Flow.Status.PAUSED])
    names = [
        (f.name, f.status)
        for f in live.only("name", "status", "dependencies")
        if marker in f.dependencies
    ]
    return [f"{status} flow {name!r} uses it" for name, status in sorted(names)]


def flows_using_segment(segment) -> list[str]:
    """Describe the flows that keep ``segment`` from being deleted (the
    ``people.segments.selectors`` usage hook): active and paused flows whose elements or
    settings name it (trigger, branch rules, "add to segment", exit segment), and flows of
    any status that exit on it (the database refuses to leave those without it)."""
    marker = f"segment:{segment.pk}"
    live = (Flow.Status.ACTIVE, Flow.Status.PAUSED)
    flows = (
        Flow.objects.filter(workspace_id=segment.workspace_id)
        .filter(Q(status__in=live) | Q(exit_segment=segment))
        .only("name", "status", "dependencies", "exit_segment_id")
        .order_by("name")
    )
    usages = []
    for flow in flows:
        if flow.exit_segment_id == segment.pk:
            usages.append(f"{flow.status} flow {flow.name!r} exits on it")
        elif marker in flow.dependencies:
            usages.append(f"{flow.status} flow {flow.name!r} uses it")
    return usages


def flows_active_summary(workspace: Workspace) -> list[dict]:
    """The workspace's active flows with their runs by state (the admin dashboard)."""
    flows = list(
        Flow.objects.filter(workspace=workspace, status=Flow.Status.ACTIVE)
        .order_by("name", "pk")
        .values("pk", "name")
    )
    states = FlowRun.State
    counts = {
        row["flow_id"]: row
        for row in (
            FlowRun.objects.filter(flow_id__in=[f["pk"] for f in flows])
            .values("flow_id")
            .order_by()
            .annotate(
                entered=Count("pk"),
                live=Count("pk", filter=Q(state__in=FlowRun.LIVE_STATES)),
                finished=Count("pk", filter=Q(state=states.FINISHED)),
                exited=Count("pk", filter=Q(state__in=(states.EXITED, states.FAILED))),
            )
        )
    }
    empty = {"entered": 0, "live": 0, "finished": 0, "exited": 0}
    return [
        {"id": f["pk"], "name": f["name"], **{k: counts.get(f["pk"], empty)[k] for k in empty}}
        for f in flows
    ]


def flow_segment_trigger(*, flow: Flow):
    """The flow's trigger element when it is segment entry (else None)."""
    return flow.elements.filter(kind=FlowElement.Kind.TRIGGER, config__type="segment_entry").first()


def flow_current_members(*, flow: Flow) -> tuple[object, QuerySet] | None:
    """For a flow triggered by entering a segment: the segment and the ids of the people in
    it now who could enter (those in the exit segment kept out), by id; else None."""
    trigger = flow_segment_trigger(flow=flow)
    segment_id = trigger.config.get("segment") if trigger is not None else None
    segment = (
        Segment.objects.filter(workspace_id=flow.workspace_id, pk=segment_id).first()
        if isinstance(segment_id, int) and not isinstance(segment_id, bool)
        else None
    )
    if segment is None:
        return None
    members = SegmentMembership.objects.filter(
        workspace_id=flow.workspace_id, segment=segment, exited_at__isnull=True
    )
    if flow.exit_segment_id:
        members = members.exclude(
            person_id__in=SegmentMembership.objects.filter(
                segment_id=flow.exit_segment_id, exited_at__isnull=True
            ).values("person_id")
        )
    return segment, members.order_by("person_id").values_list("person_id", flat=True)
