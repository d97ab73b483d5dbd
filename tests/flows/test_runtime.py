"""The flows runtime (SPEC §8): ingested events and segment entries start runs, each step is a
Celery task (eager here), waits are stored and resumed with time advanced by the test, and
actions change the person through their services. Webhooks reach a local HTTP server."""

import hashlib
import hmac
import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.core import mail
from django.utils import timezone

from events.ingestion import events_ingest
from events.models import Event
from flows.engine import flow_run_step, flow_runs_resume
from flows.models import Flow, FlowRun, FlowStepLog
from flows.services import flow_activate, flow_create
from flows.tasks import flow_run_step_task
from people.models import Person, PersonTag
from people.segments.services import segment_members_add
from tests.factories import PersonFactory, event
from tests.flows.conftest import (
    ABANDONED,
    END,
    ROUTING,
    chain,
    enable,
    outbound_allow,
    spec,
    start,
)

pytestmark = pytest.mark.django_db


def ingest(workspace, capture, *items):
    with capture(execute=True):
        result = events_ingest(workspace=workspace, origin="api", events=list(items))
    assert result.rejected == 0, [i.errors for i in result.items]


def active(workspace, flow_spec) -> Flow:
    return flow_activate(flow=flow_create(workspace=workspace, spec=flow_spec))


def only_run(flow) -> FlowRun:
    return FlowRun.objects.get(flow=flow)


def resume(capture, hours: float) -> None:
    """Advance time by ``hours`` and run the periodic resume (and what it queues)."""
    with capture(execute=True):
        flow_runs_resume(now=timezone.now() + timedelta(hours=hours))
    for run in FlowRun.objects.filter(
        state=FlowRun.State.WAITING, resume_at__lte=timezone.now() + timedelta(hours=hours)
    ):
        with capture(execute=True):
            flow_run_step(
                run_id=run.pk, step_no=run.step_no, now=timezone.now() + timedelta(hours=hours)
            )


def test_event_enters_and_runs_to_the_end(
    workspace, catalogue, person, django_capture_on_commit_callbacks
):
    """A c_ticket_searched event enters the person; the tag action runs; the run finishes
    with flowEntered and flowExited recorded on the person and a step log per element."""
    flow = active(
        workspace, chain(start(), ("tag", "action", {"action": "tag_add", "tag": "searched"}), END)
    )
    ingest(workspace, django_capture_on_commit_callbacks, event("c_ticket_searched", person))
    run = only_run(flow)
    assert run.state == FlowRun.State.FINISHED
    assert run.exit_reason == "completed"
    assert PersonTag.objects.filter(person=person, name="searched").exists()
    assert run.context["track_event_uuid"] == "c_ticket_searched"
    assert run.context["track_event_count"] == 1
    codes = list(
        Event.objects.filter(person=person)
        .order_by("id")
        .values_list("definition__definition_id", flat=True)
    )
    assert codes[0] == "c_ticket_searched"
    assert codes.count("flowEntered") == 1
    assert codes[-1] == "flowExited"
    entered = Event.objects.get(person=person, definition__definition_id="flowEntered")
    assert entered.flow_cause["flowId"] == flow.pk
    assert entered.flow_cause["campaignName"] == flow.name
    assert [s.outcome for s in FlowStepLog.objects.filter(run=run).order_by("step_no")] == [
        "entered",
        "done",
        "end",
    ]


def test_trigger_where_filters_events(
    workspace, catalogue, person, django_capture_on_commit_callbacks
):
    """Only events whose properties pass the trigger's where enter."""
    flow = active(
        workspace,
        chain(
            start(
                {
                    "type": "event",
                    "event": "c_ticket_searched",
                    "where": [{"property": "destination", "operator": "equals", "value": "Rome"}],
                }
            ),
            END,
        ),
    )
    ingest(
        workspace,
        django_capture_on_commit_callbacks,
        event("c_ticket_searched", person, properties={"destination": "Oslo"}),
    )
    assert not FlowRun.objects.filter(flow=flow).exists()
    ingest(
        workspace,
        django_capture_on_commit_callbacks,
        event("c_ticket_searched", person, properties={"destination": "Rome"}),
    )
    assert FlowRun.objects.filter(flow=flow).count() == 1


@pytest.mark.parametrize(
    ("reentry", "interval", "runs"),
    [("once", None, 1), ("recurring", None, 2), ("recurring", {"days": 1}, 1)],
)
def test_reentry_policy(
    workspace, catalogue, person, django_capture_on_commit_callbacks, reentry, interval, runs
):
    """Once: a person enters one time ever. Recurring: again after the previous run ended,
    but not sooner than the interval."""
    settings = {"reentry": reentry}
    if interval:
        settings["reentry_interval"] = timedelta(days=1)
    flow = active(workspace, chain(start(), END, **settings))
    for minutes in (30, 20):
        ingest(
            workspace,
            django_capture_on_commit_callbacks,
            event(
                "c_ticket_searched", person, occurred_at=timezone.now() - timedelta(minutes=minutes)
            ),
        )
    assert FlowRun.objects.filter(flow=flow).count() == runs


def test_exit_segment_keeps_out_and_ends_runs(
    workspace, catalogue, person, django_capture_on_commit_callbacks
):
    """People in the exit segment do not enter; a person entering it leaves the flow."""
    listed = catalogue["list"]
    flow = active(
        workspace,
        chain(
            start(), ("wait1", "wait", {"duration": {"days": 1}}), END, exit_segment_id=listed.pk
        ),
    )
    other = PersonFactory(workspace=workspace)
    with django_capture_on_commit_callbacks(execute=True):
        segment_members_add(segment=listed, person_ids=[other.pk])
    ingest(
        workspace,
        django_capture_on_commit_callbacks,
        event("c_ticket_searched", person),
        event("c_ticket_searched", other),
    )
    run = only_run(flow)
    assert run.person_id == person.pk
    assert run.state == FlowRun.State.WAITING
    with django_capture_on_commit_callbacks(execute=True):
        segment_members_add(segment=listed, person_ids=[person.pk])
    run.refresh_from_db()
    assert run.state == FlowRun.State.EXITED
    assert run.exit_reason == "entered the exit segment"


def test_segment_entry_trigger(workspace, catalogue, person, django_capture_on_commit_callbacks):
    """Being added to the trigger segment enters the flow."""
    flow = active(
        workspace, chain(start({"type": "segment_entry", "segment": catalogue["list"].pk}), END)
    )
    with django_capture_on_commit_callbacks(execute=True):
        segment_members_add(segment=catalogue["list"], person_ids=[person.pk])
    assert only_run(flow).state == FlowRun.State.FINISHED


def test_wait_is_stored_and_resumed(
    workspace, catalogue, person, django_capture_on_commit_callbacks
):
    """A wait parks the run with its resume time; it goes on only once that time has come."""
    flow = active(
        workspace,
        chain(
            start(),
            ("wait1", "wait", {"duration": {"hours": 2}}),
            ("tag", "action", {"action": "tag_add", "tag": "later"}),
            END,
        ),
    )
    ingest(workspace, django_capture_on_commit_callbacks, event("c_ticket_searched", person))
    run = only_run(flow)
    assert run.state == FlowRun.State.WAITING
    assert timedelta(hours=1.9) < run.resume_at - timezone.now() <= timedelta(hours=2)
    resume(django_capture_on_commit_callbacks, hours=1)
    assert only_run(flow).state == FlowRun.State.WAITING
    resume(django_capture_on_commit_callbacks, hours=3)
    assert only_run(flow).state == FlowRun.State.FINISHED
    assert PersonTag.objects.filter(person=person, name="later").exists()


def test_wait_for_event_met_when_the_event_arrives(
    workspace, catalogue, person, django_capture_on_commit_callbacks
):
    """The awaited event, ingested while the run waits, takes the met exit at once."""
    flow = active(workspace, ABANDONED)
    ingest(workspace, django_capture_on_commit_callbacks, event("c_ticket_searched", person))
    assert only_run(flow).state == FlowRun.State.WAITING
    ingest(
        workspace,
        django_capture_on_commit_callbacks,
        event("c_ticket_chosen", person, occurred_at=timezone.now() + timedelta(seconds=1)),
    )
    assert only_run(flow).state == FlowRun.State.FINISHED
    assert set(PersonTag.objects.filter(person=person).values_list("name", flat=True)) == {"chosen"}


def test_wait_for_event_times_out(workspace, catalogue, person, django_capture_on_commit_callbacks):
    """No event within the window: the timeout exit is taken when the time has come."""
    flow = active(workspace, ABANDONED)
    ingest(workspace, django_capture_on_commit_callbacks, event("c_ticket_searched", person))
    resume(django_capture_on_commit_callbacks, hours=2)
    run = only_run(flow)
    assert run.state == FlowRun.State.FINISHED
    assert FlowStepLog.objects.filter(run=run, outcome="timeout").exists()
    assert PersonTag.objects.filter(person=person, name="gave_up").exists()


@pytest.mark.parametrize(("checkout", "outcome"), [(False, "met"), (True, "timeout")])
def test_chosen_then_no_checkout(
    workspace, catalogue, person, django_capture_on_commit_callbacks, checkout, outcome
):
    """ "Chose tickets, then no checkout within a day" is decided when the day is over."""
    flow = active(
        workspace,
        spec(
            [
                start(),
                (
                    "wait",
                    "wait_for_event",
                    {
                        "occurred": [{"event": "c_ticket_chosen"}],
                        "notOccurred": [{"event": "c_checkout"}],
                        "within": {"days": 1},
                    },
                ),
                END,
                ("end2", "end", {}),
            ],
            [("start", "wait"), ("wait", "end", "met"), ("wait", "end2", "timeout")],
        ),
    )
    ingest(workspace, django_capture_on_commit_callbacks, event("c_ticket_searched", person))
    later = [event("c_ticket_chosen", person, occurred_at=timezone.now() + timedelta(minutes=5))]
    if checkout:
        later.append(event("c_checkout", person, occurred_at=timezone.now() + timedelta(minutes=9)))
    ingest(workspace, django_capture_on_commit_callbacks, *later)
    assert only_run(flow).state == FlowRun.State.WAITING  # decided only at the window's end
    resume(django_capture_on_commit_callbacks, hours=25)
    assert FlowStepLog.objects.filter(run=only_run(flow), outcome=outcome).exists()


def test_branch_on_aggregates(workspace, catalogue, django_capture_on_commit_callbacks):
    """PPMessage routing: counts of two events both above 8 go to A, otherwise B."""
    flow = active(workspace, ROUTING)
    keen, casual = PersonFactory(workspace=workspace), PersonFactory(workspace=workspace)
    base = timezone.now() - timedelta(days=1)
    history = [
        event(code, who, occurred_at=base + timedelta(minutes=i))
        for who, n in ((keen, 9), (casual, 4))
        for code in ("c_product_viewed", "c_pricing_viewed")
        for i in range(n)
    ]
    ingest(workspace, django_capture_on_commit_callbacks, *history)
    ingest(
        workspace,
        django_capture_on_commit_callbacks,
        event("c_ticket_searched", keen),
        event("c_ticket_searched", casual),
    )
    assert set(PersonTag.objects.values_list("person_id", "name")) == {
        (keen.pk, "agent_a"),
        (casual.pk, "agent_b"),
    }
    assert FlowRun.objects.filter(flow=flow, state="finished").count() == 2


@pytest.fixture
def receiver(settings):
    """A local HTTP server recording webhook deliveries; answers with ``statuses`` in turn.
    Webhooks may reach it (``CDP_OUTBOUND_ALLOWED_HOSTS``)."""
    received, statuses, callbacks = [], [], []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((dict(self.headers), body))
            for callback in callbacks:
                callback()
            self.send_response(statuses.pop(0) if statuses else 200)
            self.end_headers()
            self.wfile.write(b'{"ok": true}')

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}/hook"
    outbound_allow(settings, url)
    yield url, received, statuses, callbacks
    server.shutdown()


def test_webhook_signed_and_sent_once(
    workspace, catalogue, person, receiver, django_capture_on_commit_callbacks
):
    """The webhook arrives once with a valid HMAC-SHA256 signature of its body; a duplicated
    or retried task for the same step sends nothing more."""
    url, received, _, _ = receiver
    flow = active(
        workspace,
        chain(
            start(),
            (
                "hook",
                "action",
                {
                    "action": "webhook",
                    "url": url,
                    "secret": "s3cret",
                    "payload": {"greeting": "Hello {{ person.externalId }}"},
                },
            ),
            END,
        ),
    )
    ingest(workspace, django_capture_on_commit_callbacks, event("c_ticket_searched", person))
    run = only_run(flow)
    assert run.state == FlowRun.State.FINISHED
    assert len(received) == 1
    headers, body = received[0]
    expected = hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert headers["X-CDP-Signature"] == f"sha256={expected}"
    assert json.loads(body)["data"] == {"greeting": "Hello ann"}
    step = FlowStepLog.objects.get(run=run, outcome="sent")
    for _ in range(2):  # the same step's task delivered again (broker redelivery, retry)
        assert flow_run_step_task.apply(args=(run.pk, step.step_no)).get() is None
    assert len(received) == 1
    assert step.detail["status"] == 200


def test_webhook_retried_with_backoff_then_delivered(
    workspace, catalogue, person, receiver, django_capture_on_commit_callbacks
):
    """A 500 parks the run with a backoff; the resumed step delivers it, and the step log
    keeps the attempts."""
    url, received, statuses, _ = receiver
    statuses.extend([500])
    flow = active(
        workspace, chain(start(), ("hook", "action", {"action": "webhook", "url": url}), END)
    )
    ingest(workspace, django_capture_on_commit_callbacks, event("c_ticket_searched", person))
    run = only_run(flow)
    assert run.state == FlowRun.State.WAITING
    assert len(received) == 1
    resume(django_capture_on_commit_callbacks, hours=1)
    run = only_run(flow)
    assert run.state == FlowRun.State.FINISHED
    assert len(received) == 2
    assert received[0][0]["X-CDP-Delivery"] == received[1][0]["X-CDP-Delivery"]
    assert FlowStepLog.objects.get(run=run, outcome="sent").detail["attempts"] == 2


def test_email_rendered_with_person_and_event(
    workspace, catalogue, django_capture_on_commit_callbacks
):
    """The email goes to the person's email identifier, rendered with their data and the
    trigger event's."""
    ann = PersonFactory(
        workspace=workspace,
        external_id="ann",
        standard={"firstName": "Ann"},
        identifiers={"email": "ann@example.com"},
    )
    active(
        workspace,
        chain(
            start(),
            (
                "mail",
                "action",
                {
                    "action": "email",
                    "to": "person",
                    "subject": "Trip to {{ event.destination }}",
                    "body": (
                        "Hi {{ person.firstName }}, still thinking about {{ event.destination }}?"
                    ),
                },
            ),
            END,
        ),
    )
    ingest(
        workspace,
        django_capture_on_commit_callbacks,
        event("c_ticket_searched", ann, properties={"destination": "Rome"}),
    )
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert (message.to, message.subject) == (["ann@example.com"], "Trip to Rome")
    assert message.body == "Hi Ann, still thinking about Rome?"


def test_paused_flow_holds_runs(workspace, catalogue, person, django_capture_on_commit_callbacks):
    """While paused nobody enters and waiting runs stay; resumed, they go on."""
    from flows.services import flow_pause, flow_resume

    flow = active(workspace, chain(start(), ("wait1", "wait", {"duration": {"hours": 1}}), END))
    ingest(workspace, django_capture_on_commit_callbacks, event("c_ticket_searched", person))
    flow_pause(flow=flow)
    resume(django_capture_on_commit_callbacks, hours=2)
    assert only_run(flow).state == FlowRun.State.WAITING
    with django_capture_on_commit_callbacks(execute=True):
        flow_resume(flow=flow)
    resume(django_capture_on_commit_callbacks, hours=2)
    assert only_run(flow).state == FlowRun.State.FINISHED


@pytest.mark.django_db(transaction=True)
def test_duplicate_task_mid_send_sends_nothing(workspace, catalogue, person, receiver):
    """A copy of the step's task delivered while the webhook is being sent (a broker
    redelivery, a retry) finds the step leased and sends nothing: one delivery in all."""
    url, received, _, callbacks = receiver
    flow = active(
        workspace, chain(start(), ("hook", "action", {"action": "webhook", "url": url}), END)
    )
    duplicates = []

    def duplicate_task():  # in the server's thread, with a database connection of its own
        from django.db import connection

        try:
            run = only_run(flow)
            duplicates.append(flow_run_step_task.apply(args=(run.pk, run.step_no)).result)
        finally:
            connection.close()

    callbacks.append(duplicate_task)
    events_ingest(workspace=workspace, origin="api", events=[event("c_ticket_searched", person)])
    assert duplicates == [None]  # ran while the first was sending, and did nothing
    assert len(received) == 1
    assert only_run(flow).state == FlowRun.State.FINISHED


def test_schedule_trigger_through_beat(workspace, catalogue, django_capture_on_commit_callbacks):
    """Activating a scheduled flow installs its beat task (a crontab here); firing it enters
    the segment's members; pausing disables the task."""
    from django_celery_beat.models import PeriodicTask

    from flows.services import flow_pause
    from flows.tasks import flow_schedule_fire_task

    listed = catalogue["list"]
    ann, bob = PersonFactory(workspace=workspace), PersonFactory(workspace=workspace)
    with django_capture_on_commit_callbacks(execute=True):
        segment_members_add(segment=listed, person_ids=[ann.pk, bob.pk])
    flow = active(
        workspace,
        chain(start({"type": "schedule", "segment": listed.pk, "cron": "0 9 * * 1"}), END),
    )
    task = PeriodicTask.objects.get(name=f"flow-{flow.pk}-schedule")
    assert task.enabled
    assert (task.crontab.minute, task.crontab.hour, task.crontab.day_of_week) == ("0", "9", "1")
    assert json.loads(task.args) == [flow.pk]
    with django_capture_on_commit_callbacks(execute=True):
        assert flow_schedule_fire_task.apply(args=(flow.pk,)).result == 2
    assert set(
        FlowRun.objects.filter(flow=flow, state="finished").values_list("person_id", flat=True)
    ) == {ann.pk, bob.pk}
    flow_pause(flow=flow)
    task.refresh_from_db()
    assert not task.enabled


def test_batches_a_flow_waits_for_are_dispatched_at_once(
    workspace, catalogue, person, django_capture_on_commit_callbacks
):
    """With a broker, a batch naming a definition an active flow uses gets its own dispatch
    task right after commit; other batches share the debounced one."""
    from django.core.cache import cache

    from cdp import outbox
    from flows import entry
    from tests.factories import broker_at

    active(workspace, chain(start(), END))
    entry._listening.clear()
    cache.delete(outbox.DISPATCH_SLOT_KEY)
    with broker_at("memory://flows-urgent/") as app:

        def queued() -> int:
            with app.connection_for_write() as conn:
                return conn.default_channel.queue_declare(
                    app.conf.task_default_queue, passive=True
                ).message_count

        app.control.purge()  # the in-memory transport's queues are shared by the process
        for code in ("c_checkout", "c_checkout", "c_ticket_searched", "c_ticket_searched"):
            with django_capture_on_commit_callbacks(execute=True):
                events_ingest(workspace=workspace, origin="api", events=[event(code, person)])
        assert queued() == 3  # one debounced task for both checkouts, one per search
        app.control.purge()
    cache.delete(outbox.DISPATCH_SLOT_KEY)


def _batch_flow(workspace):
    """Trigger -> branch on a tag -> score / tag -> end: every kind of set-based step."""
    return active(
        workspace,
        spec(
            [
                start(),
                ("is_vip", "branch", {"rules": {"all": [{"tag": "vip"}]}}),
                ("score", "action", {"action": "score_change", "by": 5}),
                ("tag", "action", {"action": "tag_add", "tag": "regular"}),
                END,
                ("end2", "end", {}),
            ],
            [
                ("start", "is_vip"),
                ("is_vip", "score", "yes"),
                ("is_vip", "tag", "no"),
                ("score", "end"),
                ("tag", "end2"),
            ],
        ),
    )


@pytest.mark.parametrize("size", [4, 40])
def test_a_batch_of_runs_moves_in_a_fixed_number_of_statements(
    workspace, catalogue, size, django_capture_on_commit_callbacks
):
    """One ingested batch enters every person and one task moves them all: each person goes
    the way of their own branch answer, and the statements the move takes do not grow with
    the number of runs."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from flows.engine import flow_runs_advance

    flow = _batch_flow(workspace)
    people = [PersonFactory(workspace=workspace) for _ in range(size)]
    vips = {p.pk for p in people[::2]}
    PersonTag.objects.bulk_create(
        [PersonTag(workspace=workspace, person_id=pk, name="vip") for pk in vips]
    )
    with django_capture_on_commit_callbacks(execute=False):  # entry only: steps not run yet
        events_ingest(
            workspace=workspace,
            origin="api",
            events=[event("c_ticket_searched", p) for p in people],
        )
    from cdp.outbox import outbox_dispatch_pending

    with django_capture_on_commit_callbacks(execute=False):
        outbox_dispatch_pending()
    steps = list(FlowRun.objects.filter(flow=flow).values_list("pk", "step_no"))
    assert len(steps) == size
    with (
        CaptureQueriesContext(connection) as queries,
        django_capture_on_commit_callbacks(execute=False),
    ):
        moved = flow_runs_advance(steps=steps)
    assert set(moved.values()) == {"end"}
    runs = FlowRun.objects.filter(flow=flow)
    assert set(runs.values_list("state", flat=True)) == {"finished"}
    scored = set(
        Person.objects.filter(workspace=workspace, score__gte=5).values_list("pk", flat=True)
    )
    assert scored == vips
    assert (
        set(PersonTag.objects.filter(name="regular").values_list("person_id", flat=True))
        == {p.pk for p in people} - vips
    )
    assert Event.objects.filter(definition__definition_id="flowExited").count() == size
    assert FlowStepLog.objects.filter(run__flow=flow).count() == 4 * size
    # trigger, branch, action, end: the same statements for 4 runs as for 40
    assert len(queries) <= 40, [q["sql"][:80] for q in queries]
    # A duplicate of the task finds every run moved on and does nothing.
    with CaptureQueriesContext(connection) as again:
        assert flow_runs_advance(steps=steps) == {}
    assert len(again) <= 3


def test_a_person_triggering_twice_in_one_batch_enters_once(
    workspace, catalogue, person, django_capture_on_commit_callbacks
):
    """Two trigger events of one person in one batch start one run (the first event's)."""
    flow = active(
        workspace,
        chain(start(), ("wait1", "wait", {"duration": {"days": 1}}), END, reentry="recurring"),
    )
    early = timezone.now() - timedelta(minutes=5)
    ingest(
        workspace,
        django_capture_on_commit_callbacks,
        event("c_ticket_searched", person, occurred_at=early, properties={"destination": "Rome"}),
        event(
            "c_ticket_searched",
            person,
            occurred_at=early + timedelta(minutes=1),
            properties={"destination": "Oslo"},
        ),
    )
    run = only_run(flow)
    assert run.context["track_event_data"] == {"destination": "Rome"}
    assert Event.objects.filter(definition__definition_id="flowEntered").count() == 1


def test_a_lost_step_is_taken_on_by_the_periodic_resume(
    workspace, catalogue, person, django_capture_on_commit_callbacks
):
    """A run whose step never ran (its task lost, its worker gone) keeps a lease; once the
    lease is over the periodic resume moves it on, and not before."""
    from flows.engine import STEP_LEASE

    flow = active(
        workspace, chain(start(), ("tag", "action", {"action": "tag_add", "tag": "searched"}), END)
    )
    events_ingest(workspace=workspace, origin="api", events=[event("c_ticket_searched", person)])
    from cdp.outbox import outbox_dispatch_pending

    with django_capture_on_commit_callbacks(execute=False):  # the step is lost
        outbox_dispatch_pending()
    run = only_run(flow)
    assert run.state == FlowRun.State.ACTIVE
    assert run.resume_at is not None
    with django_capture_on_commit_callbacks(execute=True):
        assert flow_runs_resume() == 0  # the lease is still on
    later = timezone.now() + STEP_LEASE + timedelta(seconds=1)
    with django_capture_on_commit_callbacks(execute=True):
        assert flow_runs_resume(now=later) == 1
    run.refresh_from_db()
    assert run.state == FlowRun.State.FINISHED
    assert PersonTag.objects.filter(person=person, name="searched").exists()


def test_flow_tag_action_records_tag_added_when_switched_on(
    workspace, catalogue, person, django_capture_on_commit_callbacks
):
    """The seed's profile-change events from a flow: its tag action records ``tagAdded`` on
    the person (switched on), so a segment or another flow can use it."""
    enable(workspace, "tagAdded")
    active(
        workspace, chain(start(), ("tag", "action", {"action": "tag_add", "tag": "searched"}), END)
    )
    ingest(workspace, django_capture_on_commit_callbacks, event("c_ticket_searched", person))
    added = Event.objects.filter(person=person, definition__definition_id="tagAdded")
    assert [e.properties for e in added] == [{"tagName": "searched"}]
    assert {e.origin for e in added} == {Event.Origin.SYSTEM}
