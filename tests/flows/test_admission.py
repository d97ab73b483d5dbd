"""Activation may let the people already in a trigger segment enter ("admit current
members"), through the service, the task and the API: exactly the current members (not who
left, not who is in the exit segment, nobody of another workspace), each once, and nobody
without the option."""

import pytest

from flows.api.serializers import FlowActivatedSerializer
from flows.entry import flow_members_admit
from flows.models import Flow, FlowRun
from flows.services import flow_activate, flow_create
from flows.tasks import flow_members_admit_task
from people.segments.services import segment_create, segment_members_add, segment_members_remove
from tests.api_helpers import assert_described, assert_error, workspace_api
from tests.factories import PersonFactory
from tests.flows.conftest import END, chain, start

pytestmark = pytest.mark.django_db


@pytest.fixture
def members(workspace, catalogue):
    """Four people in the static segment "Imported"; one of them left it again."""
    people = [PersonFactory(workspace=workspace) for _ in range(4)]
    segment_members_add(segment=catalogue["list"], person_ids=[p.pk for p in people])
    segment_members_remove(segment=catalogue["list"], person_ids=[people[3].pk])
    return people


def segment_flow(workspace, segment, name="Welcome", **settings) -> Flow:
    return flow_create(
        workspace=workspace,
        spec=chain(
            start({"type": "segment_entry", "segment": segment.pk}),
            ("tag", "action", {"action": "tag_add", "tag": "welcomed"}),
            END,
            name=name,
            **settings,
        ),
    )


def runs(flow) -> list[tuple[int, str]]:
    return sorted(FlowRun.objects.filter(flow=flow).values_list("person_id", "state"))


def test_current_members_enter_when_asked(
    workspace, catalogue, members, django_capture_on_commit_callbacks
):
    """The three people in the segment now enter and run to the end; who left does not."""
    flow = segment_flow(workspace, catalogue["list"])
    with django_capture_on_commit_callbacks(execute=True):
        activated = flow_activate(flow=flow, admit_current_members=True)
    assert activated.admitted == 3
    assert runs(flow) == [(p.pk, FlowRun.State.FINISHED) for p in members[:3]]
    assert all(
        run.context
        == {"trigger": "segment_entry", "segmentId": catalogue["list"].pk, "admitted": True}
        for run in FlowRun.objects.filter(flow=flow)
    )


def test_without_the_option_nobody_already_in_enters(
    workspace, catalogue, members, django_capture_on_commit_callbacks
):
    """As before: activation lets in only who joins the segment from now on."""
    flow = segment_flow(workspace, catalogue["list"])
    with django_capture_on_commit_callbacks(execute=True):
        activated = flow_activate(flow=flow)
    assert activated.admitted is None
    assert runs(flow) == []
    newcomer = PersonFactory(workspace=workspace)
    with django_capture_on_commit_callbacks(execute=True):
        segment_members_add(segment=catalogue["list"], person_ids=[newcomer.pk])
    assert runs(flow) == [(newcomer.pk, FlowRun.State.FINISHED)]


def test_each_member_is_admitted_once(
    workspace, catalogue, members, django_capture_on_commit_callbacks
):
    """With recurring re-entry and no interval, a finished run would not keep a person out:
    a task delivered again still admits nobody twice; the flow is not activated twice."""
    flow = segment_flow(workspace, catalogue["list"], reentry="recurring")
    with django_capture_on_commit_callbacks(execute=True):
        flow_activate(flow=flow, admit_current_members=True)
    ids = [p.pk for p in members[:3]]
    with django_capture_on_commit_callbacks(execute=True):
        assert flow_members_admit_task.delay(flow.pk, ids).get() == 0
    assert len(runs(flow)) == 3
    api = workspace_api(workspace)
    assert_error(
        api.secret.post(f"/api/v1/flows/{flow.pk}/activate", {"admitCurrentMembers": True}),
        409,
        "flow_state",
        "status",
    )
    assert len(runs(flow)) == 3


def test_exit_segment_and_other_workspaces_are_respected(
    workspace, other_workspace, catalogue, members, django_capture_on_commit_callbacks
):
    """A member in the exit segment stays out; ids of another workspace's people given to
    the task enter nothing; that workspace's own segment flow is untouched."""
    leaving = segment_create(workspace=workspace, name="Leaving", kind="static")
    segment_members_add(segment=leaving, person_ids=[members[0].pk])
    flow = segment_flow(workspace, catalogue["list"], exit_segment_id=leaving.pk)
    theirs = segment_create(workspace=other_workspace, name="Theirs", kind="static")
    outsider = PersonFactory(workspace=other_workspace)
    segment_members_add(segment=theirs, person_ids=[outsider.pk])
    their_flow = flow_activate(
        flow=flow_create(
            workspace=other_workspace,
            spec=chain(start({"type": "segment_entry", "segment": theirs.pk}), END),
        )
    )
    with django_capture_on_commit_callbacks(execute=True):
        activated = flow_activate(flow=flow, admit_current_members=True)
    assert activated.admitted == 2
    assert runs(flow) == [(p.pk, FlowRun.State.FINISHED) for p in members[1:3]]
    assert flow_members_admit(flow_id=flow.pk, person_ids=[outsider.pk]) == 0
    assert runs(flow) == [(p.pk, FlowRun.State.FINISHED) for p in members[1:3]]
    assert runs(their_flow) == []


def test_the_api_lets_current_members_in_when_asked(
    workspace, catalogue, members, django_capture_on_commit_callbacks
):
    """``admitCurrentMembers: true`` lets them in and says how many; without it nobody
    already in enters and ``admitted`` is null; a non-boolean answers 400."""
    api = workspace_api(workspace)
    asked = segment_flow(workspace, catalogue["list"])
    assert_error(
        api.secret.post(f"/api/v1/flows/{asked.pk}/activate", {"admitCurrentMembers": "maybe"}),
        400,
        field="admitCurrentMembers",
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = api.secret.post(
            f"/api/v1/flows/{asked.pk}/activate", {"admitCurrentMembers": True}
        )
    assert response.status_code == 200, response.content
    assert (response.json()["status"], response.json()["admitted"]) == ("active", 3)
    assert_described(FlowActivatedSerializer, response.json())
    assert runs(asked) == [(p.pk, FlowRun.State.FINISHED) for p in members[:3]]

    plain = segment_flow(workspace, catalogue["list"], name="Plain")
    with django_capture_on_commit_callbacks(execute=True):
        response = api.secret.post(f"/api/v1/flows/{plain.pk}/activate")
    assert (response.json()["status"], response.json()["admitted"]) == ("active", None)
    assert runs(plain) == []


def test_an_event_triggered_flow_has_nobody_to_admit(
    workspace, catalogue, members, django_capture_on_commit_callbacks
):
    flow = flow_create(workspace=workspace, spec=chain(start(), END))
    with django_capture_on_commit_callbacks(execute=True):
        activated = flow_activate(flow=flow, admit_current_members=True)
    assert activated.admitted is None
    assert runs(flow) == []
