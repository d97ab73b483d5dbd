"""Complete the built-in catalogue: ``formSubmitted`` gains the page it was submitted on
(``pageTitle``, ``url``, ``path``), which the web SDK's form tracking sends."""

from django.db import migrations

from events.catalogue import load_catalogue


class Migration(migrations.Migration):
    dependencies = [("events", "0013_savedinsight")]

    operations = [migrations.RunPython(load_catalogue, migrations.RunPython.noop)]
