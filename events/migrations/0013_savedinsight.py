"""Saved insights (named funnels, segmentations and retention tables, pinned to the admin
index's dashboard); the Marketer group may view, add, change and delete them."""

import django.db.models.deletion
from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.conf import settings
from django.db import migrations, models


def marketers_allow(apps, schema_editor):
    using = schema_editor.connection.alias
    create_permissions(global_apps.get_app_config("events"), apps=apps, verbosity=0,
                       using=using)
    group, _ = apps.get_model("auth", "Group").objects.using(using).get_or_create(
        name="Marketer")
    group.permissions.add(*apps.get_model("auth", "Permission").objects.using(using).filter(
        content_type__app_label="events", content_type__model="savedinsight"))


class Migration(migrations.Migration):

    dependencies = [
        ('events', '0012_outbox_to_kernel'),
        ('people', '0009_person_trusted'),
        ('auth', '0012_alter_user_first_name_max_length'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='SavedInsight',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(max_length=200)),
                ('kind', models.CharField(choices=[('funnel', 'funnel'), ('segmentation', 'segmentation'), ('retention', 'retention')], max_length=20)),
                ('query', models.JSONField(help_text="The body of the kind's analytics API.")),
                ('pinned', models.BooleanField(default=False, help_text='Shown on the admin index.')),
                ('position', models.PositiveIntegerField(default=0, help_text='Order on the dashboard.')),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('modified_at', models.DateTimeField(auto_now=True)),
                ('created_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('workspace', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='saved_insights', to='people.workspace')),
            ],
            options={
                'verbose_name': 'saved insight',
                'ordering': ('position', 'pk'),
                'indexes': [models.Index(fields=['workspace', 'pinned', 'position'], name='events_save_workspa_d903bb_idx')],
            },
        ),
        migrations.RunPython(marketers_allow, migrations.RunPython.noop),
    ]
