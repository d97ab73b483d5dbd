"""Create the admin groups of §2: "Marketer" and "Developer", with their model permissions.

Permissions normally appear after migrations (post_migrate); they are created here first so the
groups are complete on a fresh database too. Segments, flows, exports and the ingestion log add
their permissions to these groups in their own migrations.
"""

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.db import migrations

GROUPS = {
    "Marketer": {
        "people": {
            "workspace": ["view"],
            "lifecyclestage": ["view"],
            "person": ["view", "add", "change"],
            "identifier": ["view", "add"],
            "persontag": ["view", "add", "delete"],
            "attributedefinition": ["view", "add"],
        },
        "events": {
            "channel": ["view"],
            "eventdefinition": ["view", "add", "change", "delete"],
            "propertydefinition": ["view", "add", "change"],
            # "add" on events means: may send test events from the "try it" page.
            "event": ["view", "add"],
            "eventaggregate": ["view"],
        },
    },
    "Developer": {
        "people": {
            "workspace": ["view"],
            # "change" on keys means: may revoke them (keys are never edited).
            "apikey": ["view", "add", "change"],
        },
        "events": {
            "channel": ["view", "add", "change", "delete"],
            "eventdefinition": ["view"],
            "propertydefinition": ["view"],
        },
    },
}


def create_groups(apps, schema_editor):
    using = schema_editor.connection.alias
    for label in ("people", "events"):
        create_permissions(global_apps.get_app_config(label), apps=apps, verbosity=0,
                           using=using)
    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")
    for name, app_models in GROUPS.items():
        group, _ = group_model.objects.using(using).get_or_create(name=name)
        for app_label, models in app_models.items():
            for model, actions in models.items():
                codenames = [f"{action}_{model}" for action in actions]
                permissions = permission_model.objects.using(using).filter(
                    content_type__app_label=app_label, content_type__model=model,
                    codename__in=codenames)
                group.permissions.add(*permissions)


def remove_groups(apps, schema_editor):
    group_model = apps.get_model("auth", "Group")
    group_model.objects.using(schema_editor.connection.alias).filter(
        name__in=list(GROUPS)).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("people", "0001_initial"),
        ("events", "0002_builtin_catalogue"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_groups, remove_groups)]
