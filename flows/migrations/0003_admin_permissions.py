"""Flows admin: let marketers manage flows and read runs and their step logs."""

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.db import migrations

CODENAMES = ["view_flow", "add_flow", "change_flow", "delete_flow", "view_flowrun",
             "view_flowsteplog"]


def setup(apps, schema_editor):
    using = schema_editor.connection.alias
    create_permissions(global_apps.get_app_config("flows"), apps=apps, verbosity=0,
                       using=using)
    group, _ = apps.get_model("auth", "Group").objects.using(using).get_or_create(
        name="Marketer")
    group.permissions.add(*apps.get_model("auth", "Permission").objects.using(using).filter(
        content_type__app_label="flows", codename__in=CODENAMES))


def teardown(apps, schema_editor):
    using = schema_editor.connection.alias
    group = apps.get_model("auth", "Group").objects.using(using).filter(name="Marketer").first()
    if group is not None:
        group.permissions.remove(*apps.get_model("auth", "Permission").objects.using(
            using).filter(content_type__app_label="flows", codename__in=CODENAMES))


class Migration(migrations.Migration):
    dependencies = [
        ("flows", "0002_runtime_setup"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(setup, teardown)]
