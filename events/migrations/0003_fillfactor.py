"""Leave room on PostgreSQL pages for in-place (HOT) updates of rows that every ingested batch
updates: per person × definition aggregates and people (score, first/last seen)."""

from django.db import migrations

TABLES = {"events_eventaggregate": 75, "people_person": 80}


def set_fillfactor(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table, factor in TABLES.items():
        schema_editor.execute(f"ALTER TABLE {table} SET (fillfactor = {factor})")


def reset_fillfactor(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in TABLES:
        schema_editor.execute(f"ALTER TABLE {table} RESET (fillfactor)")


class Migration(migrations.Migration):
    dependencies = [("events", "0002_builtin_catalogue"), ("people", "0001_initial")]

    operations = [migrations.RunPython(set_fillfactor, reset_fillfactor)]
