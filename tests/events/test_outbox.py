"""The transactional outbox (SPEC §5): one message per ingested batch, written with the events
and handed to Celery after commit; handlers see the payload; failures are retried."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from cdp import outbox
from cdp.models import OutboxMessage
from cdp.outbox import (
    outbox_dispatch,
    outbox_prune,
    outbox_register,
    outbox_sweep,
    outbox_write,
)
from events.ingestion import events_ingest
from events.models import Event
from people.inputs import PersonRef
from tests.factories import (
    DefinitionFactory,
    PersonFactory,
    at,
    broker_at,
    event,
    unreachable_broker,
)

pytestmark = pytest.mark.django_db
TOPIC = "events.ingested"


@pytest.fixture
def received():
    """Register a handler for ingested batches; unregister it afterwards."""
    messages: list[dict] = []

    def handler(message: OutboxMessage) -> None:
        messages.append({"id": message.pk, "topic": message.topic, **message.payload})

    outbox_register(TOPIC, handler)
    yield messages
    outbox.HANDLERS[TOPIC].remove(handler)


@pytest.fixture
def failing():
    """Register a handler that raises while ``state["fail"]`` is true."""
    state = {"fail": True, "calls": 0}

    def handler(message: OutboxMessage) -> None:
        state["calls"] += 1
        if state["fail"]:
            raise RuntimeError("downstream is down")

    outbox_register(TOPIC, handler)
    yield state
    outbox.HANDLERS[TOPIC].remove(handler)


@pytest.fixture
def visit(workspace):
    return DefinitionFactory(workspace=workspace, definition_id="c_visit")


def test_one_message_per_batch_processed_after_commit(
    workspace, visit, received, django_capture_on_commit_callbacks
):
    """A batch writes one outbox message naming its events, people and definitions; after
    commit the eager task runs the handlers and marks the message processed."""
    ann = PersonFactory(workspace=workspace)
    bob = PersonFactory(workspace=workspace)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        result = events_ingest(
            workspace=workspace,
            origin="api",
            events=[
                event("c_visit", ann),
                event("c_visit", bob),
                event("c_visit", ann),
                event("c_missing", ann),
            ],
        )
        assert OutboxMessage.objects.get().processed_at is None  # not before commit
        assert received == []
    assert len(callbacks) == 1
    message = OutboxMessage.objects.get()
    assert message.topic == TOPIC
    assert message.workspace_id == workspace.pk
    assert message.processed_at is not None
    assert message.attempts == 0
    ids = [r.event_id for r in result.items if r.status == "accepted"]
    assert len(ids) == 3
    assert sorted(ids) == sorted(Event.objects.values_list("id", flat=True))
    assert message.payload == {
        "event_ids": ids,
        "person_ids": sorted([ann.pk, bob.pk]),
        "definition_ids": [visit.pk],
        "touched_person_ids": [],
    }
    assert received == [{"id": message.pk, "topic": TOPIC, **message.payload}]


def test_two_batches_write_two_messages(
    workspace, visit, received, django_capture_on_commit_callbacks
):
    """Each batch has its own message; a batch of only duplicates writes none."""
    ann = PersonFactory(workspace=workspace)
    with django_capture_on_commit_callbacks(execute=True):
        first = events_ingest(
            workspace=workspace, origin="api", events=[event("c_visit", ann, external_id="v1")]
        )
    with django_capture_on_commit_callbacks(execute=True):
        events_ingest(
            workspace=workspace, origin="api", events=[event("c_visit", ann, external_id="v2")]
        )
    with django_capture_on_commit_callbacks(execute=True):
        again = events_ingest(
            workspace=workspace, origin="api", events=[event("c_visit", ann, external_id="v1")]
        )
    assert again.items[0].status == "duplicate"
    assert OutboxMessage.objects.count() == 2
    assert received[0]["event_ids"] == [first.items[0].event_id]
    assert len(received) == 2
    assert not OutboxMessage.objects.filter(processed_at__isnull=True).exists()


def test_rolled_back_batch_sends_nothing(
    workspace, visit, received, django_capture_on_commit_callbacks
):
    """When the surrounding transaction rolls back, neither events nor the message remain and
    no handler runs."""
    ann = PersonFactory(workspace=workspace)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        try:
            with transaction.atomic():
                events_ingest(workspace=workspace, origin="api", events=[event("c_visit", ann)])
                raise RuntimeError("caller failed")
        except RuntimeError:
            pass
    assert callbacks == []
    assert not OutboxMessage.objects.exists()
    assert not Event.objects.exists()
    assert received == []


def test_failing_handler_is_retried_by_the_sweep(
    workspace, visit, failing, django_capture_on_commit_callbacks
):
    """A handler error leaves the message pending with one attempt; the periodic sweep
    processes it once the handler works."""
    ann = PersonFactory(workspace=workspace)
    with django_capture_on_commit_callbacks(execute=True):
        events_ingest(workspace=workspace, origin="api", events=[event("c_visit", ann)])
    message = OutboxMessage.objects.get()
    assert (message.processed_at, message.attempts, failing["calls"]) == (None, 1, 1)

    assert outbox_sweep() == 0  # too recent for the sweep
    OutboxMessage.objects.filter(pk=message.pk).update(
        created_at=timezone.now() - timedelta(minutes=5)
    )
    failing["fail"] = False
    assert outbox_sweep() == 1
    message.refresh_from_db()
    assert message.processed_at is not None
    assert failing["calls"] == 2
    assert outbox_dispatch(message_ids=[message.pk]) == 0  # processed once only
    assert failing["calls"] == 2


def test_message_gives_up_after_max_attempts(workspace, failing):
    """After MAX_ATTEMPTS failures a message is closed instead of retried forever."""
    message = outbox_write(workspace=workspace, topic=TOPIC, payload={})
    OutboxMessage.objects.filter(pk=message.pk).update(attempts=outbox.MAX_ATTEMPTS - 1)
    assert outbox_dispatch(message_ids=[message.pk]) == 0
    message.refresh_from_db()
    assert message.attempts == outbox.MAX_ATTEMPTS
    assert message.processed_at is not None


def test_broker_down_leaves_the_message_for_the_sweep(
    workspace, visit, received, caplog, django_capture_on_commit_callbacks
):
    """When the broker cannot take the task the events are still stored and the message stays
    pending until the sweep runs it."""
    ann = PersonFactory(workspace=workspace)
    with unreachable_broker(), django_capture_on_commit_callbacks(execute=True):
        result = events_ingest(
            workspace=workspace, origin="api", events=[event("c_visit", PersonRef(id=ann.pk))]
        )
    assert result.accepted == 1
    assert Event.objects.filter(pk=result.items[0].event_id).exists()
    message = OutboxMessage.objects.get()
    assert f"outbox message {message.pk} not enqueued" in caplog.text
    assert message.processed_at is None
    assert received == []
    OutboxMessage.objects.filter(pk=message.pk).update(
        created_at=timezone.now() - timedelta(minutes=1)
    )
    assert outbox_sweep() == 1
    assert received[0]["event_ids"] == [result.items[0].event_id]
    message.refresh_from_db()
    assert message.processed_at is not None


def test_prune_deletes_old_processed_messages_only(workspace):
    """Pruning removes processed messages older than the cut-off and keeps the rest."""
    now = timezone.now()
    old_done, new_done, pending = (
        outbox_write(workspace=workspace, topic=TOPIC, payload={}) for _ in range(3)
    )
    OutboxMessage.objects.filter(pk=old_done.pk).update(processed_at=now - timedelta(days=8))
    OutboxMessage.objects.filter(pk=new_done.pk).update(processed_at=now - timedelta(hours=1))
    assert outbox_prune() == 1
    assert set(OutboxMessage.objects.values_list("pk", flat=True)) == {new_done.pk, pending.pk}
    assert not OutboxMessage.objects.filter(pk=old_done.pk).exists()


@pytest.fixture
def memory_broker():
    """Publish to Celery's in-memory transport (not eagerly) and expose the queue's size."""
    from django.core.cache import cache

    cache.delete(outbox.DISPATCH_SLOT_KEY)
    with broker_at("memory://outbox-test/") as app:
        app.control.purge()  # the in-memory transport's queues are shared by the process

        def queued() -> int:
            with app.connection_for_write() as conn:
                return conn.default_channel.queue_declare(
                    app.conf.task_default_queue, passive=True
                ).message_count

        yield queued
    cache.delete(outbox.DISPATCH_SLOT_KEY)


def test_a_burst_of_commits_enqueues_one_dispatch_task(
    workspace, visit, memory_broker, django_capture_on_commit_callbacks
):
    """Single-event requests must not cost a Celery task each: commits within the dispatch
    window share one delayed task, which then dispatches every pending message."""
    ann = PersonFactory(workspace=workspace)
    for minute in range(5):
        with django_capture_on_commit_callbacks(execute=True):
            events_ingest(
                workspace=workspace,
                origin="api",
                events=[event("c_visit", PersonRef(id=ann.pk), occurred_at=at(minute))],
            )
    assert OutboxMessage.objects.filter(processed_at__isnull=True).count() == 5
    assert memory_broker() == 1
    assert outbox.outbox_dispatch_pending() == 5
    assert not OutboxMessage.objects.filter(processed_at__isnull=True).exists()
