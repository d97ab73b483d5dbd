"""Celery: the periodic task (installed in django-celery-beat by a migration) refreshes every
dynamic segment through ``segment_refresh_task``."""

import pytest
from django_celery_beat.models import PeriodicTask

from people.segments.models import Segment
from people.segments.services import segment_create
from people.tasks import segment_refresh_task, segments_refresh_task
from tests.factories import PersonFactory

pytestmark = pytest.mark.django_db


def test_beat_schedules_the_periodic_refresh():
    """The schedule is in beat's database tables, every 15 minutes, enabled."""
    task = PeriodicTask.objects.get(name="segments-refresh")
    assert task.task == "people.tasks.segments_refresh_task"
    assert (task.interval.every, task.interval.period, task.enabled) == (15, "minutes", True)


def test_periodic_task_refreshes_every_dynamic_segment(workspace, other_workspace):
    """Each dynamic segment of every workspace is refreshed; static ones are left alone."""
    PersonFactory(workspace=workspace, tags=["vip"])
    PersonFactory(workspace=other_workspace, tags=["vip"])
    rules = {"all": [{"tag": "vip"}]}
    ours = segment_create(workspace=workspace, name="VIP", rules=rules)
    theirs = segment_create(workspace=other_workspace, name="VIP", rules=rules)
    segment_create(workspace=workspace, name="List", kind=Segment.Kind.STATIC)
    assert segments_refresh_task.delay().get() == 2
    for segment in (ours, theirs):
        segment.refresh_from_db()
        assert (segment.member_count, segment.refresh_status) == (1, "idle")
    assert segment_refresh_task.delay(10**9).get() is None  # deleted meanwhile: nothing
