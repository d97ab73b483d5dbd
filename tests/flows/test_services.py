"""Activation checks a flow can run (every problem at once); only drafts and paused flows
change; definitions of active flows are protected; runs follow the flow's status and their
person's merges."""

from datetime import timedelta

import pytest
from django.utils import timezone

from cdp.errors import ServiceError
from events.models import EventDefinition
from events.services import definition_delete
from flows.inputs import EdgeInput, ElementInput
from flows.models import Flow, FlowRun
from flows.selectors import flow_spec_get
from flows.services import (
    flow_activate,
    flow_create,
    flow_delete,
    flow_finish,
    flow_pause,
    flow_resume,
    flow_update,
)
from people.merge import people_merge
from people.segments.services import segment_delete
from tests.factories import DefinitionFactory, PersonFactory
from tests.flows.conftest import END, chain, complete_flow, run_at, spec, start

pytestmark = pytest.mark.django_db
WAIT = ("wait1", "wait", {"duration": {"hours": 1}})


def activation_errors(flow):
    with pytest.raises(ServiceError) as caught:
        flow_activate(flow=flow)
    flow.refresh_from_db()
    assert flow.status == Flow.Status.DRAFT
    return [(e.field, e.code) for e in caught.value.errors], caught.value.errors


def test_a_complete_flow_activates(workspace, catalogue):
    """A complete draft becomes active, remembers when, and records what it names."""
    flow = complete_flow(workspace)
    flow = flow_activate(flow=flow)
    assert flow.status == Flow.Status.ACTIVE
    assert flow.activated_at is not None
    searched = EventDefinition.objects.get(workspace=workspace, definition_id="c_ticket_searched")
    assert flow.dependencies == [f"event:{searched.pk}"]


def test_unreachable_element_and_missing_exit_are_reported_together(workspace, catalogue):
    """Every problem of the graph comes back at once, each on its element."""
    flow = flow_create(
        workspace=workspace,
        spec=spec(
            [
                start(),
                (
                    "w",
                    "wait_for_event",
                    {"occurred": [{"event": "c_checkout"}], "within": {"days": 1}},
                ),
                ("lost", "action", {"action": "tag_add", "tag": "x"}),
                END,
            ],
            [("start", "w"), ("w", "end", "met"), ("lost", "end")],
        ),
    )
    fields, errors = activation_errors(flow)
    assert fields == [("elements[1]", "missing_exit"), ("elements[2]", "unreachable_element")]
    assert "'w' (wait_for_event) has no 'timeout' exit" in errors[0].message
    assert "'lost' cannot be reached from the trigger" in errors[1].message


@pytest.mark.parametrize(
    ("steps", "edges", "expected"),
    [
        (
            [start(), END],
            [],
            [("elements[0]", "missing_exit"), ("elements[1]", "unreachable_element")],
        ),
        ([WAIT, END], [("wait1", "end")], [("elements", "trigger_count")]),
        (
            [start(), ("again", "trigger", {"type": "event", "event": "c_checkout"}), END],
            [("start", "end"), ("again", "end")],
            [("elements[1].kind", "trigger_count")],
        ),
        (
            [start(), ("yn", "branch", {"rules": {"all": [{"tag": "vip"}]}}), END],
            [("start", "yn"), ("yn", "end", "yes")],
            [("elements[1]", "missing_exit")],
        ),
        (
            [start(), WAIT, ("w2", "wait", {"duration": {"hours": 2}}), END],
            [("start", "wait1"), ("wait1", "w2"), ("w2", "wait1")],
            [("elements[3]", "unreachable_element"), ("edges[2]", "flow_cycle")],
        ),
    ],
)
def test_incomplete_graphs_do_not_activate(workspace, catalogue, steps, edges, expected):
    """Exactly one trigger, every exit connected, everything reachable, no loop."""
    flow = flow_create(workspace=workspace, spec=spec(steps, edges))
    assert activation_errors(flow)[0] == expected


def test_two_triggers_name_both(workspace, catalogue):
    """The message names the triggers so the marketer knows which to split off."""
    flow = flow_create(
        workspace=workspace,
        spec=spec(
            [start(), ("again", "trigger", {"type": "event", "event": "c_checkout"}), END],
            [("start", "end"), ("again", "end")],
        ),
    )
    _, errors = activation_errors(flow)
    assert "'start', 'again' are all triggers" in errors[0].message


def test_deleted_definition_and_segment_are_found_on_activation(workspace, catalogue):
    """A draft does not hold its definitions and segments; activation finds them gone."""
    DefinitionFactory(workspace=workspace, definition_id="c_gone")
    flow = flow_create(
        workspace=workspace,
        spec=chain(
            start({"type": "event", "event": "c_gone"}),
            ("list", "action", {"action": "segment_add", "segment": catalogue["list"].pk}),
            END,
        ),
    )
    definition_delete(definition=EventDefinition.objects.get(definition_id="c_gone"))
    segment_delete(segment=catalogue["list"])
    fields, _ = activation_errors(flow)
    assert fields == [
        ("elements[0].config.event", "unknown_definition"),
        ("elements[1].config.segment", "unknown_segment"),
    ]


def test_switched_off_definition_is_refused_on_activation(workspace, catalogue):
    """A trigger on a standard event the workspace has not switched on would never fire."""
    flow = flow_create(
        workspace=workspace, spec=chain(start({"type": "event", "event": "sessionStarted"}), END)
    )
    fields, errors = activation_errors(flow)
    assert fields == [("elements[0].config.event", "definition_disabled")]
    assert "switch it on" in errors[0].message


def test_dates_and_schedules_must_lie_ahead(workspace, catalogue):
    """An end date or a one-time schedule in the past is refused when activating."""
    past = timezone.now() - timedelta(days=1)
    flow = flow_create(
        workspace=workspace,
        spec=chain(
            start({"type": "schedule", "segment": catalogue["vip"].pk, "at": past.isoformat()}),
            END,
            ends_at=past,
        ),
    )
    fields, _ = activation_errors(flow)
    assert fields == [("endsTime", "invalid"), ("elements[0].config.at", "schedule_passed")]


def test_settings_are_checked(workspace, catalogue):
    """Dates in order, an interval only with recurring re-entry, a known exit segment."""
    now = timezone.now()
    with pytest.raises(ServiceError) as caught:
        flow_create(
            workspace=workspace,
            spec=chain(
                start(),
                END,
                starts_at=now,
                ends_at=now - timedelta(hours=1),
                reentry_interval=timedelta(days=1),
                exit_segment_id=999999,
            ),
        )
    assert [(e.field, e.code) for e in caught.value.errors] == [
        ("endsTime", "invalid"),
        ("reentryInterval", "invalid"),
        ("exitSegmentId", "unknown_segment"),
    ]


def test_exit_segment_cannot_be_the_trigger_segment(workspace, catalogue):
    """Its members would be kept out of the flow they are meant to enter."""
    vip = catalogue["vip"]
    flow = flow_create(
        workspace=workspace,
        spec=chain(
            start({"type": "segment_entry", "segment": vip.pk}), END, exit_segment_id=vip.pk
        ),
    )
    assert activation_errors(flow)[0] == [("elements[0].config.segment", "invalid_config")]


def test_active_flows_keep_their_graph_until_paused(workspace, catalogue):
    """An active flow refuses graph changes (pause first) but takes a new name; a paused one
    is edited and resumed after the activation checks."""
    flow = flow_activate(flow=complete_flow(workspace))
    current = flow_spec_get(flow=flow)
    longer = current.__class__(
        **{
            **current.__dict__,
            "elements": tuple(
                ElementInput(key=e.key, kind=e.kind, config={"duration": {"hours": 2}})
                if e.key == "wait1"
                else e
                for e in current.elements
            ),
        }
    )
    with pytest.raises(ServiceError) as caught:
        flow_update(flow=flow, spec=longer)
    assert caught.value.first.code == "flow_not_editable"
    assert "pause it first" in caught.value.first.message

    renamed = flow_update(
        flow=flow,
        spec=current.__class__(
            **{**current.__dict__, "name": "Renamed", "description": "now with a description"}
        ),
    )
    assert (renamed.name, renamed.status) == ("Renamed", Flow.Status.ACTIVE)

    flow_pause(flow=flow)
    flow_update(flow=flow, spec=longer)
    assert flow.elements.get(key="wait1").config == {"duration": {"hours": 2}}
    assert flow_resume(flow=flow).status == Flow.Status.ACTIVE


def test_definitions_of_active_flows_cannot_be_deleted(workspace, catalogue):
    """Deleting a definition an active (or paused) flow uses names the flow; once the flow is
    finished the definition can go."""
    DefinitionFactory(workspace=workspace, definition_id="c_used")
    flow = flow_activate(
        flow=flow_create(
            workspace=workspace,
            spec=chain(
                start(),
                WAIT,
                ("rec", "action", {"action": "event_record", "event": "c_used"}),
                END,
                name="Uses it",
            ),
        )
    )
    definition = EventDefinition.objects.get(definition_id="c_used")
    for move in (None, flow_pause):
        if move:
            move(flow=flow)
        with pytest.raises(ServiceError) as caught:
            definition_delete(definition=definition)
        assert caught.value.first.code == "protected"
        assert "flow 'Uses it' uses it" in caught.value.first.message
    flow_finish(flow=flow)
    definition_delete(definition=definition)
    assert not EventDefinition.objects.filter(definition_id="c_used").exists()


def test_status_moves(workspace, catalogue):
    """Drafts activate, active flows pause, paused ones resume, both finish; a finished flow
    and a draft may be deleted, an active one not; moves out of order are refused."""
    flow = complete_flow(workspace)
    for move in (flow_pause, flow_resume, flow_finish):
        with pytest.raises(ServiceError) as caught:
            move(flow=flow)
        assert caught.value.first.code == "flow_state"
    flow_activate(flow=flow)
    with pytest.raises(ServiceError):
        flow_activate(flow=flow)
    with pytest.raises(ServiceError) as caught:
        flow_delete(flow=flow)
    assert "finish it before deleting it" in caught.value.first.message
    flow_finish(flow=flow)
    with pytest.raises(ServiceError):
        flow_resume(flow=flow)
    flow_delete(flow=flow)
    assert not Flow.objects.filter(pk=flow.pk).exists()
    draft = complete_flow(workspace, name="Draft")
    flow_delete(flow=draft)


def test_finishing_ends_the_runs_still_in_the_flow(workspace, catalogue, person):
    """Runs waiting in a finished flow exit, saying why."""
    flow = flow_activate(flow=complete_flow(workspace))
    run = run_at(flow, person, "wait1")
    flow_finish(flow=flow)
    run.refresh_from_db()
    assert (run.state, run.exit_reason) == (FlowRun.State.EXITED, "the flow was finished")
    assert run.finished_at is not None


def test_an_element_people_wait_at_cannot_be_removed(workspace, catalogue, person):
    """Editing a paused flow keeps runs in place: elements are updated by key, and one with
    people waiting at it can be neither removed nor turned into another kind."""
    flow = flow_activate(flow=complete_flow(workspace))
    run = run_at(flow, person, "wait1")
    flow_pause(flow=flow)
    with pytest.raises(ServiceError) as caught:
        flow_update(flow=flow, spec=chain(start(), END, name=flow.name))
    assert caught.value.first.code == "runs_waiting"
    assert "1 person is at 'wait1'" in caught.value.first.message
    flow_update(
        flow=flow,
        spec=chain(start(), ("wait1", "wait", {"duration": {"days": 1}}), END, name=flow.name),
    )
    run.refresh_from_db()
    assert run.current_element.config == {"duration": {"days": 1}}
    assert sorted(flow.elements.values_list("key", flat=True)) == ["end", "start", "wait1"]


def test_webhook_secret_is_kept_unless_removed(workspace, catalogue):
    """Saving a webhook without its secret (the API never shows it) keeps the stored one;
    ``"secret": None`` removes it."""
    hook = {"action": "webhook", "url": "https://example.com/in", "secret": "s3cret"}
    flow = flow_create(workspace=workspace, spec=chain(start(), ("hook", "action", hook), END))
    shown = {"action": "webhook", "url": "https://example.com/v2", "hasSecret": True}
    flow_update(flow=flow, spec=chain(start(), ("hook", "action", shown), END))
    assert flow.elements.get(key="hook").config == {
        "action": "webhook",
        "url": "https://example.com/v2",
        "secret": "s3cret",
    }
    flow_update(flow=flow, spec=chain(start(), ("hook", "action", {**shown, "secret": None}), END))
    assert "secret" not in flow.elements.get(key="hook").config


def test_names_are_unique_per_workspace(workspace, other_workspace, catalogue):
    complete_flow(workspace, name="Same")
    with pytest.raises(ServiceError) as caught:
        complete_flow(workspace, name="Same")
    assert (caught.value.first.field, caught.value.first.code) == ("name", "duplicate")


def test_runs_follow_their_person_into_a_merge(workspace, catalogue):
    """The merged person's runs move to the survivor; one in a flow the survivor is already
    in exits, since a person is in a flow once at a time."""
    ann, bob = (PersonFactory(workspace=workspace) for _ in range(2))
    one = flow_activate(flow=complete_flow(workspace, name="One"))
    two = flow_activate(flow=complete_flow(workspace, name="Two"))
    run_at(one, ann, "wait1")
    both = run_at(one, bob, "wait1")
    moved = run_at(two, bob, "wait1")
    people_merge(workspace=workspace, survivor=ann, merged=bob)
    both.refresh_from_db()
    moved.refresh_from_db()
    assert (both.person_id, both.state) == (ann.pk, FlowRun.State.EXITED)
    assert (moved.person_id, moved.state) == (ann.pk, FlowRun.State.WAITING)


def test_edges_are_stored_by_key(workspace, catalogue):
    """The stored graph reads back as it was given."""
    given = chain(start(), WAIT, END)
    flow = flow_create(workspace=workspace, spec=given)
    back = flow_spec_get(flow=flow)
    assert back.elements == given.elements
    assert back.edges == (EdgeInput("start", "wait1"), EdgeInput("wait1", "end"))
