"""The GDPR erasure audit log (§3); marketers may read it, erasing needs "Can delete person"."""

import django.db.models.deletion
from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.db import migrations, models


def grant_view(apps, schema_editor):
    using = schema_editor.connection.alias
    create_permissions(global_apps.get_app_config("people"), apps=apps, verbosity=0,
                       using=using)
    group = apps.get_model("auth", "Group").objects.using(using).filter(name="Marketer").first()
    if group is not None:
        group.permissions.add(*apps.get_model("auth", "Permission").objects.using(using).filter(
            content_type__app_label="people", codename="view_erasurerecord"))


class Migration(migrations.Migration):

    dependencies = [
        ('people', '0002_groups'),
    ]

    operations = [
        migrations.CreateModel(
            name='ErasureRecord',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('erased_person_id', models.BigIntegerField(help_text='The internal id the person had.', verbose_name='erased person id')),
                ('events_deleted', models.PositiveIntegerField(default=0)),
                ('identifiers_deleted', models.PositiveIntegerField(default=0)),
                ('tags_deleted', models.PositiveIntegerField(default=0)),
                ('log_entries_deleted', models.PositiveIntegerField(default=0, help_text="Rejected payloads that mentioned one of the person's identifiers.", verbose_name='ingestion log entries deleted')),
                ('requested_by', models.CharField(help_text='Who asked for the erasure (user or API key).', max_length=200)),
                ('reason', models.TextField(blank=True, help_text='Ticket or request reference.')),
                ('erased_at', models.DateTimeField(auto_now_add=True)),
                ('workspace', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='people.workspace')),
            ],
            options={
                'verbose_name': 'erasure record',
                'ordering': ['-erased_at', '-id'],
                'indexes': [models.Index(fields=['workspace', 'erased_at'], name='erasure_ws_time_idx')],
            },
        ),
        migrations.RunPython(grant_view, migrations.RunPython.noop),
    ]
