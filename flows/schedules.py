"""Schedule triggers through django-celery-beat: a periodic task per flow enters the members
of the trigger's segment at each time.

``flow_schedule_sync`` keeps a flow's ``PeriodicTask`` (named ``flow-<id>-schedule``) in step
with its status: enabled while the flow is active, disabled when paused or finished, gone
with the flow. ``at`` becomes a one-off clocked task, ``every`` an interval, ``cron`` a
crontab (UTC). Beat runs ``flow_schedule_fire_task(flow_id)``, which calls
``flow_schedule_fire``: every current member of the segment enters, under the flow's usual
rules (dates, re-entry, exit segment).
"""

import json
from datetime import datetime

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django_celery_beat.models import (
    ClockedSchedule,
    CrontabSchedule,
    IntervalSchedule,
    PeriodicTask,
)

from flows.elements.common import duration
from flows.entry import flows_enter
from flows.models import Flow, FlowElement
from people.segments.models import SegmentMembership

TASK = "flows.tasks.flow_schedule_fire_task"


def _name(flow_id: int) -> str:
    return f"flow-{flow_id}-schedule"


def _trigger(flow: Flow) -> FlowElement | None:
    return flow.elements.filter(kind=FlowElement.Kind.TRIGGER, config__type="schedule").first()


def _schedule(config: dict) -> dict:
    if "at" in config:
        at = parse_datetime(config["at"])
        clocked, _ = ClockedSchedule.objects.get_or_create(clocked_time=at)
        return {"clocked": clocked, "one_off": True}
    if "every" in config:
        seconds = int(duration(config["every"], "every", min_minutes=15).total_seconds())
        interval, _ = IntervalSchedule.objects.get_or_create(
            every=seconds, period=IntervalSchedule.SECONDS
        )
        return {"interval": interval}
    minute, hour, day_of_month, month, day_of_week = config["cron"].split()
    cron, _ = CrontabSchedule.objects.get_or_create(
        minute=minute,
        hour=hour,
        day_of_month=day_of_month,
        month_of_year=month,
        day_of_week=day_of_week,
        timezone="UTC",
    )
    return {"crontab": cron}


def flow_schedule_sync(*, flow: Flow) -> None:
    """Create, update, enable or disable the flow's periodic task to match it."""
    trigger = _trigger(flow)
    if trigger is None:
        PeriodicTask.objects.filter(name=_name(flow.pk)).delete()
        return
    fields = {
        "task": TASK,
        "args": json.dumps([flow.pk]),
        "interval": None,
        "crontab": None,
        "clocked": None,
        "one_off": False,
        **_schedule(trigger.config),
        "enabled": flow.status == Flow.Status.ACTIVE,
    }
    PeriodicTask.objects.update_or_create(name=_name(flow.pk), defaults=fields)


def flow_schedule_forget(*, flow_id: int) -> None:
    PeriodicTask.objects.filter(name=_name(flow_id)).delete()


def flow_schedule_fire(*, flow_id: int, now: datetime | None = None) -> int:
    """Enter the current members of the trigger segment; return how many entered."""
    now = now or timezone.now()
    flow = Flow.objects.select_related("workspace").filter(pk=flow_id).first()
    trigger = _trigger(flow) if flow is not None else None
    if trigger is None or flow.status != Flow.Status.ACTIVE:
        return 0
    members = (
        SegmentMembership.objects.filter(
            segment_id=trigger.config["segment"], exited_at__isnull=True
        )
        .order_by("person_id")
        .values_list("person_id", flat=True)
    )
    entered = 0
    context = {
        "trigger": "schedule",
        "segmentId": trigger.config["segment"],
        "firedTime": now.isoformat(),
    }
    chunk: list[int] = []
    for person_id in [*members.iterator(chunk_size=2000), None]:
        if person_id is not None:
            chunk.append(person_id)
        if chunk and (person_id is None or len(chunk) == 2000):
            entered += len(
                flows_enter(
                    flow=flow, trigger=trigger, now=now, entries=[(pk, context) for pk in chunk]
                )
            )
            chunk = []
    return entered
