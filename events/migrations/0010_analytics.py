"""Analytics (§10): the admin entry (a proxy of Event, no table) and its permission, given to
the Marketer group."""

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.db import migrations


def setup(apps, schema_editor):
    using = schema_editor.connection.alias
    create_permissions(global_apps.get_app_config("events"), apps=apps, verbosity=0,
                       using=using)
    group, _ = apps.get_model("auth", "Group").objects.using(using).get_or_create(
        name="Marketer")
    group.permissions.add(*apps.get_model("auth", "Permission").objects.using(using).filter(
        content_type__app_label="events", codename="view_analytics"))


class Migration(migrations.Migration):
    dependencies = [
        ("events", "0009_exports_setup"),
        ("people", "0002_groups"),
    ]

    operations = [
        migrations.CreateModel(
            name="Analytics",
            fields=[],
            options={
                "verbose_name": "analytics",
                "verbose_name_plural": "analytics",
                "proxy": True,
                "default_permissions": ("view",),
                "indexes": [],
                "constraints": [],
            },
            bases=("events.event",),
        ),
        migrations.RunPython(setup, migrations.RunPython.noop),
    ]
