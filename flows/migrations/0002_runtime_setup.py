"""Flows runtime: resume waiting runs every 10 seconds through django-celery-beat (waits are
stored with their resume time; no worker sleeps)."""

from django.db import migrations

TASK_NAME = "flows-resume"
TASK = "flows.tasks.flow_runs_resume_task"
EVERY_SECONDS = 10


def setup(apps, schema_editor):
    using = schema_editor.connection.alias
    interval, _ = apps.get_model("django_celery_beat", "IntervalSchedule").objects.using(
        using).get_or_create(every=EVERY_SECONDS, period="seconds")
    apps.get_model("django_celery_beat", "PeriodicTask").objects.using(using).get_or_create(
        name=TASK_NAME, defaults={"task": TASK, "interval": interval, "enabled": True})


def teardown(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.using(
        schema_editor.connection.alias).filter(name=TASK_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("flows", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(setup, teardown)]
