"""Segments (§7): let marketers manage them in the admin, and refresh every dynamic segment
every 15 minutes through django-celery-beat (time windows move even when nothing happens)."""

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.db import migrations

TASK_NAME = "segments-refresh"
TASK = "people.tasks.segments_refresh_task"
EVERY_MINUTES = 15


def setup(apps, schema_editor):
    using = schema_editor.connection.alias
    create_permissions(global_apps.get_app_config("people"), apps=apps, verbosity=0,
                       using=using)
    group, _ = apps.get_model("auth", "Group").objects.using(using).get_or_create(
        name="Marketer")
    permission_model = apps.get_model("auth", "Permission")
    group.permissions.add(*permission_model.objects.using(using).filter(
        content_type__app_label="people",
        codename__in=["view_segment", "add_segment", "change_segment", "delete_segment",
                      "view_segmentmembership"]))
    interval_model = apps.get_model("django_celery_beat", "IntervalSchedule")
    interval, _ = interval_model.objects.using(using).get_or_create(every=EVERY_MINUTES,
                                                                    period="minutes")
    apps.get_model("django_celery_beat", "PeriodicTask").objects.using(using).get_or_create(
        name=TASK_NAME, defaults={"task": TASK, "interval": interval, "enabled": True})


def teardown(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.using(
        schema_editor.connection.alias).filter(name=TASK_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("people", "0004_segments"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(setup, teardown)]
