"""Exports (§9): let marketers request and schedule exports in the admin, and install the
beat task that resumes exports whose worker died (every minute)."""

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.db import migrations

TASK_NAME = "exports-requeue-stale"
TASK = "events.exports.tasks.exports_requeue_stale_task"
MARKETER = {
    "exportrequest": ["view", "add", "change"],  # "change" means: may cancel
    "exportfile": ["view"],
    "scheduledexport": ["view", "add", "change", "delete"],
}


def setup(apps, schema_editor):
    using = schema_editor.connection.alias
    create_permissions(global_apps.get_app_config("events"), apps=apps, verbosity=0,
                       using=using)
    group, _ = apps.get_model("auth", "Group").objects.using(using).get_or_create(
        name="Marketer")
    permission_model = apps.get_model("auth", "Permission")
    for model, actions in MARKETER.items():
        group.permissions.add(*permission_model.objects.using(using).filter(
            content_type__app_label="events", content_type__model=model,
            codename__in=[f"{action}_{model}" for action in actions]))
    interval, _ = apps.get_model("django_celery_beat", "IntervalSchedule").objects.using(
        using).get_or_create(every=1, period="minutes")
    apps.get_model("django_celery_beat", "PeriodicTask").objects.using(using).get_or_create(
        name=TASK_NAME, defaults={"task": TASK, "interval": interval, "enabled": True})


def teardown(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.using(
        schema_editor.connection.alias).filter(name=TASK_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("events", "0008_exports"),
        ("people", "0002_groups"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(setup, teardown)]
