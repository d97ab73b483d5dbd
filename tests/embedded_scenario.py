"""The data of the embedded default's scheduler test (``tests/test_embedded_beat.py``), made
through the services in a process of its own: ``python -m tests.embedded_scenario`` with the
environment of the install under test (its ``CDP_VAR_DIR``, no ``DATABASE_URL``, no broker),
after ``manage.py migrate``. Prints what the test then watches, as JSON.

- a flow "searched a ticket -> wait 1 minute -> email the person -> tag `mailed` -> end",
  active, and Ann entering it (she waits);
- a dynamic segment, and the segment refresh scheduled every 2 seconds instead of every 15
  minutes (the schedule is a row of django-celery-beat's, as in production);
- a scheduled export running every minute.

``python -m tests.embedded_scenario ingest N`` then ingests N events, one transaction each,
as the web process would while beat works on the same file.
"""

import json
import os
import sys

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cdp.settings")
django.setup()

from django.conf import settings  # noqa: E402
from django_celery_beat.models import IntervalSchedule, PeriodicTask  # noqa: E402

from events.exports.schedules import ScheduleInput, scheduled_export_create  # noqa: E402
from events.ingestion import events_ingest  # noqa: E402
from flows.models import FlowRun  # noqa: E402
from flows.services import flow_activate, flow_create  # noqa: E402
from people.models import Segment  # noqa: E402
from people.segments.services import segment_create  # noqa: E402
from people.workspaces import workspace_create  # noqa: E402
from tests.factories import DefinitionFactory, PersonFactory, event, props  # noqa: E402
from tests.flows.conftest import END, chain, start  # noqa: E402

SUBJECT = "Still going to {{ event.destination }}?"


def main() -> dict:
    workspace = workspace_create(slug="beat", name="Beat")
    DefinitionFactory(
        workspace=workspace, definition_id="c_ticket_searched", properties=props(destination="text")
    )
    flow = flow_activate(
        flow=flow_create(
            workspace=workspace,
            spec=chain(
                start(),
                ("wait", "wait", {"duration": {"minutes": 1}}),
                (
                    "mail",
                    "action",
                    {
                        "action": "email",
                        "to": "person",
                        "subject": SUBJECT,
                        "body": "Hi {{ person.firstName }}, seats to {{ event.destination }} "
                        "are going.",
                    },
                ),
                ("tag", "action", {"action": "tag_add", "tag": "mailed"}),
                END,
                name="Ticket reminder",
            ),
        )
    )
    ann = PersonFactory(
        workspace=workspace,
        external_id="ann",
        standard={"firstName": "Ann"},
        identifiers={"email": "ann@example.com"},
    )
    result = events_ingest(
        workspace=workspace,
        origin="api",
        events=[event("c_ticket_searched", ann, properties={"destination": "Rome"})],
    )
    assert result.rejected == 0, [item.errors for item in result.items]
    run = FlowRun.objects.get(flow=flow, person=ann)
    assert run.state == FlowRun.State.WAITING, run.state
    mail = [path.read_text() for path in settings.CDP_MAIL_DIR.glob("*.log")]
    assert not any("ann@example.com" in text for text in mail), "no mail before the wait"

    segment = segment_create(workspace=workspace, name="VIP", rules={"all": [{"tag": "vip"}]})
    segment = Segment.objects.get(pk=segment.pk)
    every_2s, _ = IntervalSchedule.objects.get_or_create(every=2, period=IntervalSchedule.SECONDS)
    assert PeriodicTask.objects.filter(name="segments-refresh").update(interval=every_2s) == 1

    scheduled = scheduled_export_create(
        workspace=workspace,
        data=ScheduleInput(name="Every minute", minute="*", hour="*", window="last_24_hours"),
    )
    return {
        "run": run.pk,
        "person": ann.pk,
        "resume_at": run.resume_at.isoformat(),
        "segment": segment.pk,
        "segment_refreshed_at": (
            segment.last_refreshed_at.isoformat() if segment.last_refreshed_at else None
        ),
        "scheduled_export": scheduled.pk,
    }


def ingest(count: int) -> dict:
    """Ingest ``count`` events one request at a time (each its own transaction, as the web
    process does) while beat writes to the same file."""
    from people.models import Workspace

    workspace = Workspace.objects.get(slug="beat")
    for n in range(count):
        person = PersonFactory(workspace=workspace, external_id=f"web-{n}")
        result = events_ingest(
            workspace=workspace,
            origin="api",
            events=[event("c_ticket_searched", person, properties={"destination": "Oslo"})],
        )
        assert result.rejected == 0, [item.errors for item in result.items]
    return {"ingested": count}


if __name__ == "__main__":
    if sys.argv[1:2] == ["ingest"]:
        print(json.dumps(ingest(int(sys.argv[2]))))
    else:
        print(json.dumps(main()))
