"""The outbox model now belongs to the kernel (``cdp.OutboxMessage``, migration
``cdp.0002_outboxmessage``): the events app forgets it, its table stays for the kernel."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('events', '0011_one_person_index'),
        ('cdp', '0002_outboxmessage'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name='OutboxMessage')],
            database_operations=[],
        ),
    ]
