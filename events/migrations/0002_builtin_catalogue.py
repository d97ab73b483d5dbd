"""Load the built-in catalogue of §4 (templates, standard person/channel/product events)."""

from django.db import migrations

from events.catalogue import load_catalogue


class Migration(migrations.Migration):
    dependencies = [("events", "0001_initial")]

    operations = [migrations.RunPython(load_catalogue, migrations.RunPython.noop)]
