"""The outbox moved from the events app to the kernel (``cdp``): its table, rows and the
Celery task names an earlier version wrote into queues and beat's tables carry over."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from cdp import outbox
from cdp.beat import HeartbeatScheduler
from cdp.celery import app
from cdp.models import OutboxMessage
from cdp.outbox import outbox_register
from people.models import Workspace

# People are held at the schema of that time too, so the old models insert what the table takes.
PEOPLE = ("people", "0009_person_trusted")
BEFORE = [("events", "0011_one_person_index"), ("cdp", "0001_heartbeats"), PEOPLE]
AFTER = [("events", "0012_outbox_to_kernel"), ("cdp", "0002_outboxmessage"), PEOPLE]
TOPIC = "tests.moved"


@pytest.mark.django_db(transaction=True)
def test_messages_written_before_the_move_are_read_after_it():
    """A message stored while the events app owned the outbox is read, unchanged, through
    the kernel's model once the migrations have run; migrating back keeps it too."""
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    workspace = old.get_model("people", "Workspace").objects.create(slug="moved", name="Moved")
    message = old.get_model("events", "OutboxMessage").objects.create(
        workspace=workspace, topic=TOPIC, payload={"event_ids": [7]}, attempts=2
    )

    executor = MigrationExecutor(connection)
    executor.migrate(AFTER)
    moved = executor.loader.project_state(AFTER).apps.get_model("cdp", "OutboxMessage")
    assert moved.objects.get(pk=message.pk).payload == {"event_ids": [7]}

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    current = OutboxMessage.objects.get(pk=message.pk)
    assert (current.workspace_id, current.topic, current.attempts) == (workspace.pk, TOPIC, 2)
    assert current.processed_at is None


@pytest.mark.django_db
def test_tasks_under_their_old_names_still_dispatch(request):
    """A task queued by an earlier version under ``events.tasks.outbox_…`` runs the same
    outbox service as the kernel's task."""
    seen: list[int] = []

    def handler(message: OutboxMessage) -> None:
        seen.append(message.pk)

    outbox_register(TOPIC, handler)
    request.addfinalizer(lambda: outbox.HANDLERS[TOPIC].remove(handler))
    workspace = Workspace.objects.create(slug="old-names", name="Old names")
    message = OutboxMessage.objects.create(workspace=workspace, topic=TOPIC, payload={})

    result = app.tasks["events.tasks.outbox_dispatch_task"].apply(args=[[message.pk]])
    assert result.get() == 1
    assert seen == [message.pk]
    assert "events.tasks.outbox_sweep_task" in app.tasks
    assert "events.tasks.outbox_prune_task" in app.tasks
    assert app.tasks["events.tasks.outbox_dispatch_pending_task"].apply().get() == 0


@pytest.mark.django_db(transaction=True)  # the scheduler closes the database connection
def test_beat_renames_its_rows_to_the_kernel_tasks():
    """Beat's database scheduler, starting, points a row installed under the old task name
    at the kernel's task (the schedule comes from CELERY_BEAT_SCHEDULE)."""
    every = IntervalSchedule.objects.create(every=30, period=IntervalSchedule.SECONDS)
    PeriodicTask.objects.create(
        name="outbox-sweep", task="events.tasks.outbox_sweep_task", interval=every
    )
    HeartbeatScheduler(app=app)
    assert PeriodicTask.objects.get(name="outbox-sweep").task == "cdp.tasks.outbox_sweep_task"
    assert PeriodicTask.objects.get(name="outbox-prune").task == "cdp.tasks.outbox_prune_task"
