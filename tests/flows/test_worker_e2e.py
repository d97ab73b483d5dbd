"""Flows run end to end by real Celery workers (SPEC §8; PostgreSQL and Redis, skipped
otherwise): events go in through the ingestion API, the outbox hands them to a worker
process over Redis, and the worker enters people, moves their runs step by step, waits,
branches and calls webhooks. Time is advanced by moving a waiting run's ``resume_at`` into
the past and sending the periodic resume task (``flows-resume`` in beat), never by sleeping.

What is checked is what a user sees: runs and their step logs, tags on people, webhook
requests arriving at a local HTTP server. Workers are started per test
(``tests.worker``); the README (Flows, "Worker end-to-end tests") says how to run these.
"""

import hashlib
import hmac
import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.utils import timezone

from events.ingestion import events_ingest
from flows.models import Flow, FlowRun, FlowStepLog
from flows.services import flow_activate, flow_create
from flows.tasks import flow_run_step_task, flow_runs_resume_task
from people.models import PersonTag
from tests.api_helpers import workspace_api
from tests.factories import PersonFactory, event
from tests.flows.conftest import ABANDONED, END, ROUTING, chain, outbound_allow, start
from tests.worker import skip_without_postgres_and_redis, wait_for, workers_for

pytestmark = [pytest.mark.postgres, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

SECRET = "wh-s3cret"
SECONDS = 60  # the longest any step here may take to show


@pytest.fixture(autouse=True)
def _needs_postgres_and_redis():
    skip_without_postgres_and_redis()


@pytest.fixture
def workers(tmp_path):
    """Workers that may call webhooks on loopback, where the tests' receivers listen."""
    with workers_for(tmp_path, CDP_OUTBOUND_ALLOWED_HOSTS="127.0.0.1") as pool:
        yield pool


class Receiver:
    """A local HTTP server (its own threads, loopback) recording each webhook request.

    While ``gate`` is closed a request is recorded, then held without an answer until the
    gate opens (or a minute passes): the sender is then in the middle of its send.
    """

    def __init__(self):
        self.received: list[tuple[dict, bytes]] = []
        self.gate = threading.Event()
        self.gate.set()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append((dict(self.headers), body))
                receiver.gate.wait(timeout=60)
                try:
                    self.send_response(200)
                    self.end_headers()
                    self.wfile.write(b'{"ok": true}')
                except OSError:  # the sender was killed while we held the request
                    pass

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def deliveries(self) -> dict[str, list[tuple[dict, bytes]]]:
        """Requests grouped by their ``X-CDP-Delivery`` id."""
        grouped: dict[str, list] = {}
        for headers, body in self.received:
            grouped.setdefault(headers["X-CDP-Delivery"], []).append((headers, body))
        return grouped


@pytest.fixture
def receiver(settings):
    server = Receiver()
    outbound_allow(settings, server.url)  # the flow is saved in this process
    server.thread.start()
    yield server
    server.gate.set()
    server.server.shutdown()
    server.server.server_close()


def signed(headers: dict, body: bytes) -> bool:
    """Whether ``X-CDP-Signature`` is ``sha256=`` HMAC-SHA256 of the body with the secret."""
    digest = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(headers.get("X-CDP-Signature", ""), f"sha256={digest}")


def active(workspace, flow_spec) -> Flow:
    return flow_activate(flow=flow_create(workspace=workspace, spec=flow_spec))


def ingest(workspace, *items) -> None:
    result = events_ingest(workspace=workspace, origin="api", events=list(items))
    assert result.rejected == 0, [i.errors for i in result.items]


def runs(flow, **filters):
    return FlowRun.objects.filter(flow=flow, **filters)


def run_of(flow, person, state: str) -> FlowRun:
    """Wait until ``person``'s latest run in ``flow`` is in ``state``; return it."""
    return wait_for(
        lambda: runs(flow, person=person, state=state).order_by("-pk").first(),
        SECONDS,
        f"a {state} run of person {person.pk} in {flow.name!r}",
    )


def steps(run: FlowRun) -> list[tuple[str, str]]:
    """The run's step log: ``(element key, outcome)`` in order."""
    return list(
        FlowStepLog.objects.filter(run=run)
        .order_by("step_no", "pk")
        .values_list("element__key", "outcome")
    )


def tags(person) -> set[str]:
    return set(PersonTag.objects.filter(person=person).values_list("name", flat=True))


def advance(run: FlowRun) -> None:
    """Let the run's waiting time pass: its resume time moves into the past, then the
    periodic resume task (what beat sends every few seconds) goes to the workers."""
    FlowRun.objects.filter(pk=run.pk).update(resume_at=timezone.now() - timedelta(seconds=1))
    flow_runs_resume_task.delay()


def test_event_posted_to_the_api_enters_the_person(workspace, catalogue, broker, workers):
    """``POST /api/v1/events`` with the trigger's definition: the worker enters the person,
    runs the tag action and ends the run, logging each step; ``flowEntered`` and
    ``flowExited`` are on the person's timeline."""
    workers.start("entry")
    ann = PersonFactory(workspace=workspace, external_id="ann")
    api = workspace_api(workspace).secret
    created = api.post(
        "/api/v1/flows",
        {
            "name": "Searched",
            "elements": [
                {
                    "key": "start",
                    "kind": "trigger",
                    "config": {"type": "event", "event": "c_ticket_searched"},
                },
                {
                    "key": "tag",
                    "kind": "action",
                    "config": {"action": "tag_add", "tag": "searched"},
                },
                {"key": "end", "kind": "end", "config": {}},
            ],
            "edges": [{"source": "start", "target": "tag"}, {"source": "tag", "target": "end"}],
        },
    )
    assert created.status_code == 201, created.content
    flow_id = created.json()["id"]
    assert api.post(f"/api/v1/flows/{flow_id}/activate").json()["status"] == "active"

    posted = api.post(
        "/api/v1/events",
        {
            "definitionId": "c_ticket_searched",
            "person": {"externalId": "ann"},
            "properties": {"destination": "Rome"},
        },
    )
    assert posted.status_code == 201, posted.content
    flow = Flow.objects.get(pk=flow_id)
    run = run_of(flow, ann, FlowRun.State.FINISHED)
    assert steps(run) == [("start", "entered"), ("tag", "done"), ("end", "end")]
    assert run.context["track_event_data"] == {"destination": "Rome"}
    assert tags(ann) == {"searched"}
    timeline = api.get(f"/api/v1/events?person={ann.pk}").json()
    codes = [e["definitionId"] for e in timeline["results"]]
    assert sorted(codes) == ["c_ticket_searched", "flowEntered", "flowExited"]
    listed = api.get(f"/api/v1/flows/{flow_id}/runs").json()
    assert [(r["personId"], r["state"]) for r in listed["results"]] == [(ann.pk, "finished")]


def test_wait_for_event_met_when_it_arrives_timeout_when_time_passes(
    workspace, catalogue, broker, workers
):
    """Two people wait for ``c_ticket_chosen`` for an hour. Ann's event wakes her run at
    once (met); Bob's run keeps waiting through that, and takes the timeout exit once his
    hour has passed and the periodic resume runs."""
    workers.start("waits")
    flow = active(workspace, ABANDONED)
    ann, bob = (PersonFactory(workspace=workspace, external_id=n) for n in ("ann", "bob"))
    ingest(
        workspace,
        event("c_ticket_searched", ann, occurred_at=timezone.now()),
        event("c_ticket_searched", bob, occurred_at=timezone.now()),
    )
    waiting = {p.pk: run_of(flow, p, FlowRun.State.WAITING) for p in (ann, bob)}
    assert all(r.current_element.key == "wait" for r in waiting.values())
    assert all(
        timedelta(minutes=59) < r.resume_at - timezone.now() <= timedelta(hours=1)
        for r in waiting.values()
    )

    ingest(workspace, event("c_ticket_chosen", ann, occurred_at=timezone.now()))
    met = run_of(flow, ann, FlowRun.State.FINISHED)
    assert steps(met) == [("start", "entered"), ("wait", "met"), ("chosen", "done"), ("end", "end")]
    assert tags(ann) == {"chosen"}
    workers.drain(broker)
    assert runs(flow, person=bob).get().state == FlowRun.State.WAITING

    advance(waiting[bob.pk])
    timed_out = run_of(flow, bob, FlowRun.State.FINISHED)
    assert steps(timed_out) == [
        ("start", "entered"),
        ("wait", "timeout"),
        ("gave_up", "done"),
        ("end2", "end"),
    ]
    assert tags(bob) == {"gave_up"}


def test_branch_routes_by_event_aggregates(workspace, catalogue, broker, workers):
    """PPMessage's routing: a person with more than 8 of both ``c_product_viewed`` and
    ``c_pricing_viewed`` goes to branch A; one with 9 of one and 4 of the other to B."""
    workers.start("branch")
    flow = active(workspace, ROUTING)
    keen, casual = (PersonFactory(workspace=workspace, external_id=n) for n in ("keen", "casual"))
    base = timezone.now() - timedelta(days=1)
    ingest(
        workspace,
        *[
            event(code, who, occurred_at=base + timedelta(minutes=i))
            for who, counts in ((keen, (9, 9)), (casual, (9, 4)))
            for code, n in zip(("c_product_viewed", "c_pricing_viewed"), counts, strict=True)
            for i in range(n)
        ],
    )
    ingest(
        workspace,
        event("c_ticket_searched", keen, occurred_at=timezone.now()),
        event("c_ticket_searched", casual, occurred_at=timezone.now()),
    )
    assert steps(run_of(flow, keen, FlowRun.State.FINISHED)) == [
        ("start", "entered"),
        ("route", "yes"),
        ("a", "done"),
        ("end", "end"),
    ]
    assert steps(run_of(flow, casual, FlowRun.State.FINISHED)) == [
        ("start", "entered"),
        ("route", "no"),
        ("b", "done"),
        ("end2", "end"),
    ]
    assert (tags(keen), tags(casual)) == ({"agent_a"}, {"agent_b"})


def webhook_flow(workspace, url: str) -> Flow:
    return active(
        workspace,
        chain(
            start(),
            (
                "hook",
                "action",
                {
                    "action": "webhook",
                    "url": url,
                    "secret": SECRET,
                    "payload": {"greeting": "Hello {{ person.externalId }}"},
                },
            ),
            END,
            name="Hook",
        ),
    )


def test_webhook_arrives_once_signed_although_its_task_is_duplicated(
    workspace, catalogue, broker, workers, receiver
):
    """Two workers. While one is in the middle of the webhook (the receiver holds the
    request), copies of the same step's task reach the other, which finds the step taken
    and sends nothing; more copies after the run has ended send nothing either. The request
    that arrives is signed with HMAC-SHA256 of its body."""
    workers.start("one")
    workers.start("two")
    flow = webhook_flow(workspace, receiver.url)
    ann = PersonFactory(workspace=workspace, external_id="ann")
    receiver.gate.clear()
    ingest(workspace, event("c_ticket_searched", ann, occurred_at=timezone.now()))
    wait_for(lambda: receiver.received, SECONDS, "the webhook request")
    run = runs(flow, person=ann).get()
    assert run.state in FlowRun.LIVE_STATES
    for _ in range(3):
        flow_run_step_task.delay(run.pk, run.step_no)
    # The worker that is sending cannot answer; the other must have done every copy.
    wait_for(
        lambda: any(workers.idle(broker, [node]) for node in workers.alive()),
        SECONDS,
        "the copies to be done by the free worker",
    )
    assert len(receiver.received) == 1

    receiver.gate.set()
    done = run_of(flow, ann, FlowRun.State.FINISHED)
    for _ in range(2):
        flow_run_step_task.delay(done.pk, run.step_no)
    workers.drain(broker)

    [(headers, body)] = receiver.received
    assert signed(headers, body)
    assert headers["X-CDP-Attempt"] == "1"
    assert json.loads(body)["data"] == {"greeting": "Hello ann"}
    assert json.loads(body)["person"]["externalId"] == "ann"
    assert steps(done) == [("start", "entered"), ("hook", "sent"), ("end", "end")]


def test_worker_killed_mid_webhook_is_replaced_and_resends_under_the_same_delivery_id(
    workspace, catalogue, broker, workers, receiver
):
    """SIGKILL to the worker while its webhook request is held by the receiver: the run is
    left unfinished. Once the send's lease has passed, the periodic resume gives the step to
    a new worker, which sends again with the same ``X-CDP-Delivery`` id (attempt 2) and the
    same signed body, so the receiver can drop the repeat: one delivery in all, and the run
    ends. A late copy of the step's task sends nothing more."""
    first = workers.start("first")
    flow = webhook_flow(workspace, receiver.url)
    ann = PersonFactory(workspace=workspace, external_id="ann")
    receiver.gate.clear()
    ingest(workspace, event("c_ticket_searched", ann, occurred_at=timezone.now()))
    wait_for(lambda: receiver.received, SECONDS, "the webhook request")
    workers.kill(first)
    receiver.gate.set()
    run = runs(flow, person=ann).get()
    assert run.state in FlowRun.LIVE_STATES
    assert ("hook", "sent") not in steps(run)

    workers.start("second")
    workers.drain(broker)
    assert len(receiver.received) == 1  # the lease holds: nothing is sent before it passes
    advance(run)
    done = run_of(flow, ann, FlowRun.State.FINISHED)
    flow_run_step_task.delay(done.pk, run.step_no)
    workers.drain(broker)

    assert len(receiver.received) == 2
    deliveries = receiver.deliveries()
    assert len(deliveries) == 1
    [(killed, body), (replaced, again)] = next(iter(deliveries.values()))
    assert (killed["X-CDP-Attempt"], replaced["X-CDP-Attempt"]) == ("1", "2")
    assert body == again
    assert signed(killed, body)
    assert signed(replaced, again)
    assert steps(done) == [("start", "entered"), ("hook", "sent"), ("end", "end")]
    assert FlowStepLog.objects.get(run=done, outcome="sent").detail["attempts"] == 2


def test_worker_refuses_a_webhook_its_settings_do_not_allow(
    workspace, catalogue, broker, tmp_path, receiver
):
    """The flow was saved where the receiver's host was allowed; the worker's own settings do
    not allow it (as when DNS has moved a name to an internal address since): the worker sends
    nothing, fails the step once with the reason, schedules no retry, and the run ends."""
    flow = webhook_flow(workspace, receiver.url)
    ann = PersonFactory(workspace=workspace, external_id="ann")
    with workers_for(tmp_path, CDP_OUTBOUND_ALLOWED_HOSTS="") as strict:
        strict.start("strict")
        ingest(workspace, event("c_ticket_searched", ann, occurred_at=timezone.now()))
        done = run_of(flow, ann, FlowRun.State.FINISHED)
        strict.drain(broker)
    assert receiver.received == []
    assert steps(done) == [("start", "entered"), ("hook", "failed"), ("end", "end")]
    failed = FlowStepLog.objects.get(run=done, outcome="failed").detail
    assert failed["attempts"] == 1
    assert "127.0.0.1 is a loopback address" in failed["error"]


def test_reentry_once_recurring_and_recurring_after_an_interval(
    workspace, catalogue, broker, workers
):
    """Three flows on the same event. Once: the person enters one time ever. Recurring:
    again with every event after the previous run ended. Recurring with a day between
    entries: not again the same day, again once a day has passed since the last entry."""
    workers.start("reentry")
    once = active(workspace, chain(start(), END, name="Once"))
    always = active(workspace, chain(start(), END, name="Always", reentry="recurring"))
    daily = active(
        workspace,
        chain(start(), END, name="Daily", reentry="recurring", reentry_interval=timedelta(days=1)),
    )
    ann = PersonFactory(workspace=workspace, external_id="ann")

    def search_and_settle(expected_always: int) -> dict[str, int]:
        ingest(workspace, event("c_ticket_searched", ann, occurred_at=timezone.now()))
        wait_for(
            lambda: runs(always, state=FlowRun.State.FINISHED).count() == expected_always,
            SECONDS,
            f"{expected_always} runs of 'Always'",
        )
        workers.drain(broker)
        assert not FlowRun.objects.filter(state__in=FlowRun.LIVE_STATES).exists()
        return {flow.name: runs(flow).count() for flow in (once, always, daily)}

    assert search_and_settle(1) == {"Once": 1, "Always": 1, "Daily": 1}
    assert search_and_settle(2) == {"Once": 1, "Always": 2, "Daily": 1}
    # A day passes since the entries so far.
    FlowRun.objects.filter(person=ann).update(
        entered_at=timezone.now() - timedelta(days=1, minutes=1)
    )
    assert search_and_settle(3) == {"Once": 1, "Always": 3, "Daily": 2}
    assert search_and_settle(4) == {"Once": 1, "Always": 4, "Daily": 2}
