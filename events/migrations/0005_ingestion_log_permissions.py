"""Let the "Developer" group read the ingestion log (§2)."""

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.db import migrations


def grant(apps, schema_editor):
    using = schema_editor.connection.alias
    create_permissions(global_apps.get_app_config("events"), apps=apps, verbosity=0,
                       using=using)
    group, _ = apps.get_model("auth", "Group").objects.using(using).get_or_create(
        name="Developer")
    permission = apps.get_model("auth", "Permission").objects.using(using).filter(
        content_type__app_label="events", codename="view_ingestionlogentry").first()
    if permission is not None:
        group.permissions.add(permission)


class Migration(migrations.Migration):
    dependencies = [("events", "0004_ingestion_log"), ("people", "0002_groups")]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
