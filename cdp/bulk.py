"""Set-based writes the ORM does slowly.

``rows_update`` writes changed fields of many rows: on PostgreSQL one ``UPDATE … FROM
unnest(…)`` with a typed array per field (Django's ``bulk_update`` builds a ``CASE WHEN`` per
row and field, which costs more in Python than the statement costs in the database: 170 ms
against 6 ms for 100 flow runs of 7 fields); elsewhere ``bulk_update``.
"""

from collections.abc import Sequence

from django.db import connection, models


def rows_update(
    model: type[models.Model], objs: Sequence[models.Model], fields: Sequence[str]
) -> int:
    """Write ``fields`` of ``objs`` (saved rows of ``model``); return how many were given."""
    if not objs:
        return 0
    if connection.vendor != "postgresql":
        model.objects.bulk_update(objs, list(fields), batch_size=500)
        return len(objs)
    meta = model._meta
    columns = [meta.pk, *(meta.get_field(name) for name in fields)]
    arrays, names, sets = [], [], []
    for i, field in enumerate(columns):
        values = [field.get_db_prep_save(getattr(obj, field.attname), connection) for obj in objs]
        arrays.append(values)
        names.append(f"c{i}")
        if i:
            sets.append(f'"{field.column}" = v.c{i}')
    casts = ", ".join(f"%s::{field.cast_db_type(connection)}[]" for field in columns)
    sql = (
        f'UPDATE "{meta.db_table}" t SET {", ".join(sets)} '
        f'FROM unnest({casts}) AS v({", ".join(names)}) WHERE t."{meta.pk.column}" = v.c0'
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, arrays)
    return len(objs)
