"""The outbox moves from the events app to the kernel: only Django's idea of which app owns
the model changes. The table (``events_outboxmessage``), its rows, index and foreign key stay
as they are (``Meta.db_table``), so nothing is copied and no message is lost."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('cdp', '0001_heartbeats'),
        ('people', '0009_person_trusted'),
        # The table is created by the events app's first migration.
        ('events', '0011_one_person_index'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='OutboxMessage',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('topic', models.CharField(max_length=32)),
                        ('payload', models.JSONField(default=dict)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('processed_at', models.DateTimeField(blank=True, null=True)),
                        ('attempts', models.PositiveSmallIntegerField(default=0)),
                        ('workspace', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='people.workspace')),
                    ],
                    options={
                        'db_table': 'events_outboxmessage',
                        'indexes': [models.Index(condition=models.Q(('processed_at__isnull', True)), fields=['created_at'], name='outbox_pending_idx')],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
