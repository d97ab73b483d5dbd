"""Set-based writes of the ingestion service: events, their aggregates and person counters.

``events_write`` inserts a batch and, for the events actually inserted (duplicates skipped),
upserts the per person × definition aggregates and adds score / widens first and last seen on
the people concerned.

PostgreSQL: a batch is ``COPY``-ed straight into the events table (ids drawn from its sequence
first), betting that no row repeats a stored event; one statement then aggregates what it
stored and updates the people. When a unique index refuses a row (a client resending, or a
concurrent writer), the batch rolls back to a savepoint taken before the ``COPY`` and goes
through a temporary staging table instead: one statement with data-modifying CTEs moves the
rows into the events table (``ON CONFLICT DO NOTHING``: the unique indexes skip duplicates),
aggregates what it inserted and updates the people. Either way no per-row parameters cross the
wire except through ``COPY``; batches of up to ``SMALL_BATCH`` rows take the staging statement
with the rows as ``VALUES``, one round trip.

SQLite: the transaction holds the write lock from its start (``IMMEDIATE``), so a pre-check
query followed by one bulk insert is race-free; aggregates and counters are computed in Python
and written with one upsert and one update.
"""

from collections.abc import Mapping, Sequence
from datetime import datetime
from operator import itemgetter

import orjson
from django.db import IntegrityError, connection
from psycopg.errors import UniqueViolation

from events.models import Event, EventAggregate, EventDefinition
from people.models import Person

EVENT_COLUMNS = [
    "id",
    "workspace_id",
    "definition_id",
    "person_id",
    "occurred_at",
    "received_at",
    "session_id",
    "external_id",
    "target_id",
    "target_name",
    "source",
    "content_name",
    "score",
    "tags",
    "campaign_code",
    "campaign_name",
    "summary",
    "properties",
    "origin",
    "flow_cause",
]
EVENT_TABLE = Event._meta.db_table
AGGREGATE_TABLE = EventAggregate._meta.db_table
PERSON_TABLE = Person._meta.db_table
DEFINITION_TABLE = EventDefinition._meta.db_table
STAGING_TABLE = "cdp_event_staging"


def events_write(
    rows: Sequence[dict], *, default_scores: Mapping[int, int], now: datetime
) -> list[int | None]:
    """Insert event rows with their side effects; return each row's new id, or None where a
    unique index said it repeats a stored event."""
    if not rows:
        return []
    if connection.vendor == "postgresql":
        return _write_postgres(rows, now)
    ids = _insert_portable(rows)
    inserted = [row for row, new_id in zip(rows, ids, strict=True) if new_id is not None]
    _counters_portable(inserted, default_scores, now)
    return ids


# PostgreSQL ----------------------------------------------------------------------------------

_COLUMNS = ", ".join(EVENT_COLUMNS)
_DATA_COLUMNS = ", ".join(EVENT_COLUMNS[1:])  # all but id: staging draws it from the sequence
# Up to this many rows travel as one VALUES list instead of a COPY into staging: for a single
# event that saves two round trips (staging check and COPY), most of its write time.
SMALL_BATCH = 20


# The inserted rows' columns the counters read.
_COUNTED = "id, workspace_id, person_id, definition_id, occurred_at, score, properties"


def _write_sql(source: str, prefix: str = "", cleanup: str = "", selected: str = _COLUMNS) -> str:
    """The one statement that moves rows from ``source`` (staging table or CTE) into the events
    table, aggregates what it inserted, updates the people and answers per row.
    ``selected`` is what the insert reads for each of ``EVENT_COLUMNS``."""
    return f"""
WITH {prefix}ins AS (
    INSERT INTO {EVENT_TABLE} ({_COLUMNS})
    SELECT {selected} FROM {source}
    -- one order for every writer, so concurrent batches take unique-index locks alike
    ORDER BY external_id, person_id, definition_id, occurred_at
    ON CONFLICT DO NOTHING
    RETURNING {_COUNTED}
){_COUNTERS_SQL}{cleanup}
)
SELECT s.ord, s.id, ins.id IS NOT NULL FROM {source} s LEFT JOIN ins ON ins.id = s.id
"""


# Aggregates and people from the inserted rows (``ins``), as CTEs following it.
_COUNTERS_SQL = f""", agg AS (
    INSERT INTO {AGGREGATE_TABLE}
        (workspace_id, person_id, definition_id, count, first_at, last_at, last_data)
    SELECT workspace_id, person_id, definition_id, count(*), min(occurred_at),
           max(occurred_at), (array_agg(properties ORDER BY occurred_at DESC, id DESC))[1]
    FROM ins GROUP BY workspace_id, person_id, definition_id
    ORDER BY person_id, definition_id
    ON CONFLICT (person_id, definition_id) DO UPDATE SET
        count = {AGGREGATE_TABLE}.count + excluded.count,
        first_at = LEAST({AGGREGATE_TABLE}.first_at, excluded.first_at),
        last_at = GREATEST({AGGREGATE_TABLE}.last_at, excluded.last_at),
        last_data = CASE WHEN excluded.last_at >= {AGGREGATE_TABLE}.last_at
                         THEN excluded.last_data ELSE {AGGREGATE_TABLE}.last_data END
), per AS (
    UPDATE {PERSON_TABLE} p SET
        score = p.score + v.score,
        first_seen_at = LEAST(p.first_seen_at, v.first_at),
        last_seen_at = GREATEST(p.last_seen_at, v.last_at),
        modified_at = %s
    FROM (
        SELECT ins.person_id AS id, sum(COALESCE(ins.score, d.default_score)) AS score,
               min(ins.occurred_at) AS first_at, max(ins.occurred_at) AS last_at
        FROM ins JOIN {DEFINITION_TABLE} d ON d.id = ins.definition_id
        GROUP BY ins.person_id
    ) v
    WHERE p.id = v.id AND (v.score <> 0 OR p.last_seen_at IS NULL OR v.last_at > p.last_seen_at
                           OR v.first_at < p.first_seen_at)"""
# After a direct ``COPY``: the counters read the rows it stored, by id. The ids come through a
# sub-select so that the planner, not counting them, estimates a few rows and reads the people
# concerned by index, as it does after the staging path's insert: with an exact count, a full
# scan of a mid-sized people table can look cheaper than a thousand index probes.
_COUNTERS_AFTER_COPY = f"""
WITH ins AS (SELECT {_COUNTED} FROM {EVENT_TABLE} WHERE id = ANY((SELECT %s::bigint[])::bigint[])){
    _COUNTERS_SQL
}
)
SELECT 1
"""


# Staging: the rows are read from the statement's snapshot; the last CTE leaves it empty.
_CLEANUP = f"""
), cleared AS (
    DELETE FROM {STAGING_TABLE}"""
# Small batches: typed VALUES, ids drawn once per row (a CTE read twice is computed once).
_CASTS = {
    "workspace_id": "bigint",
    "definition_id": "bigint",
    "person_id": "bigint",
    "occurred_at": "timestamptz",
    "received_at": "timestamptz",
    "score": "integer",
    "properties": "jsonb",
    "flow_cause": "jsonb",
}
_VALUE_ROW = (
    "(" + ", ".join(f"%s::{_CASTS.get(c, 'text')}" for c in EVENT_COLUMNS[1:]) + ", %s::integer)"
)


def _values_sql(count: int) -> str:
    rows = ", ".join([_VALUE_ROW] * count)
    return _write_sql(
        "staged",
        prefix=(
            f"src ({_DATA_COLUMNS}, ord) AS (VALUES {rows}), "
            f"staged AS MATERIALIZED (SELECT nextval(pg_get_serial_sequence('{EVENT_TABLE}', 'id'))"
            f" AS id, src.* FROM src), "
        ),
    )


# Columns that often hold one value for a whole batch (the workspace, the receiving time and
# origin always do; optional core fields are often empty for all): such a column travels once,
# as a parameter of the insert, instead of in every ``COPY`` row.
_SHAREABLE = [
    c
    for c in EVENT_COLUMNS[1:]
    if c not in {"person_id", "occurred_at", "external_id", "properties"}
]
# The staging table: the events table's columns (ids drawn from its sequence), where a column
# shared by the batch may stay empty.
_STAGING_SQL = f"""
DO $$ BEGIN
  IF to_regclass('pg_temp.{STAGING_TABLE}') IS NULL THEN
    CREATE TEMP TABLE {STAGING_TABLE}
        (LIKE {EVENT_TABLE} INCLUDING DEFAULTS, ord integer) ON COMMIT DELETE ROWS;
    ALTER TABLE {STAGING_TABLE} ALTER COLUMN id
        SET DEFAULT nextval(pg_get_serial_sequence('{EVENT_TABLE}', 'id')),
        {", ".join(f"ALTER COLUMN {c} DROP NOT NULL" for c in _SHAREABLE)};
  END IF;
END $$
"""
_JSON_COLUMNS = ("properties", "flow_cause")
_staging_sql_cache: dict[tuple[str, ...], tuple[str, str, list[str], list[str]]] = {}


def _staging_sql(shared: tuple[str, ...]) -> tuple[str, str, list[str], list[str]]:
    """For a batch whose ``shared`` columns hold one value each: the ``COPY``, the write
    statement, and the plain and JSON columns each copied row carries (in that order)."""
    if shared not in _staging_sql_cache:
        plain = [c for c in EVENT_COLUMNS[1:] if c not in shared and c not in _JSON_COLUMNS]
        json = [c for c in _JSON_COLUMNS if c not in shared]
        selected = ", ".join(
            f"%s::{_CASTS.get(c, 'text')}" if c in shared else c for c in EVENT_COLUMNS
        )
        _staging_sql_cache[shared] = (
            f"COPY {STAGING_TABLE} ({', '.join([*plain, *json])}, ord) FROM STDIN",
            _write_sql(STAGING_TABLE, cleanup=_CLEANUP, selected=selected),
            plain,
            json,
        )
    return _staging_sql_cache[shared]


def _json(value) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


def _row_values(row: dict, ord_: int) -> tuple:
    return (
        row["workspace_id"],
        row["definition_id"],
        row["person_id"],
        row["occurred_at"],
        row["received_at"],
        row["session_id"],
        row["external_id"],
        row["target_id"],
        row["target_name"],
        row["source"],
        row["content_name"],
        row["score"],
        row["tags"],
        row["campaign_code"],
        row["campaign_name"],
        row["summary"],
        _json(row["properties"]),
        row["origin"],
        _json(row["flow_cause"]),
        ord_,
    )


_DIRECT_SAVEPOINT = "cdp_events_copy"
_DIRECT_COPY = f"COPY {EVENT_TABLE} ({_COLUMNS}) FROM STDIN"
# The sequence is looked up once: ``pg_get_serial_sequence`` in the select list would run per
# row (it is only stable), five times the cost of the ``nextval`` calls.
_DIRECT_IDS = (
    f"SAVEPOINT {_DIRECT_SAVEPOINT}; WITH s AS MATERIALIZED (SELECT "
    f"pg_get_serial_sequence('{EVENT_TABLE}', 'id')::regclass AS seq) "
    f"SELECT nextval(s.seq) FROM s, generate_series(1, %d)"
)


def _direct_order(row: dict) -> tuple:
    external = row["external_id"]
    return (
        external is None,
        external or "",
        row["person_id"],
        row["definition_id"],
        row["occurred_at"],
    )


def _copy_direct(cursor, rows: Sequence[dict], now: datetime) -> list[int] | None:
    """``COPY`` the rows straight into the events table, betting that none repeats a stored
    event, then write the counters; answer their new ids. If a unique index says a row does
    repeat one (a client resending, or a concurrent writer), roll back to the savepoint taken
    first and answer None: the staging path, whose insert skips duplicates, takes the batch.

    Two round trips besides the ``COPY`` (savepoint with ids drawn from the events sequence;
    the counters), against the staging path's ``COPY`` into staging followed by an insert that
    checks each unique index before writing to it."""
    cursor.execute(_DIRECT_IDS % len(rows))
    cursor.nextset()  # past the savepoint's result
    ids = sorted(new_id for (new_id,) in cursor.fetchall())
    order = sorted(range(len(rows)), key=lambda i: _direct_order(rows[i]))
    try:
        # Django's error classes, as for any statement: a deadlock or lock timeout while the
        # COPY waits on a concurrent writer is an OperationalError the service retries.
        with connection.wrap_database_errors, cursor.cursor.copy(_DIRECT_COPY) as copy:
            for i in order:  # one order for every writer, as in the staging path
                copy.write_row((ids[i], *_row_values(rows[i], 0)[:-1]))
    except IntegrityError as error:
        if not isinstance(error.__cause__, UniqueViolation):
            raise
        cursor.execute(f"ROLLBACK TO SAVEPOINT {_DIRECT_SAVEPOINT}")
        return None
    # The ids as an array literal: 0.26 ms a batch against 0.71 for psycopg adapting the list.
    cursor.execute(_COUNTERS_AFTER_COPY, ["{" + ",".join(map(str, ids)) + "}", now])
    return ids


def _write_postgres(rows: Sequence[dict], now: datetime) -> list[int | None]:
    """Small batches: one round trip with the rows as VALUES. Others: ``COPY`` into the events
    table (``_copy_direct``), or where a row repeats a stored event, three round trips more:
    ``COPY`` into staging (ids from the events sequence), then one statement that inserts what
    is new, aggregates, updates people, empties staging and answers."""
    with connection.cursor() as cursor:
        if len(rows) <= SMALL_BATCH:
            params = [value for ord_, row in enumerate(rows) for value in _row_values(row, ord_)]
            cursor.execute(_values_sql(len(rows)), [*params, now])
        else:
            ids = _copy_direct(cursor, rows, now)
            if ids is not None:
                return ids
            cursor.execute(_STAGING_SQL)
            first = rows[0]
            shared = tuple(
                c for c in _SHAREABLE if list(map(itemgetter(c), rows)).count(first[c]) == len(rows)
            )
            copy_sql, write_sql, plain, json = _staging_sql(shared)
            values = itemgetter(*plain)
            with connection.wrap_database_errors, cursor.cursor.copy(copy_sql) as copy:
                if json == ["properties"]:
                    for ord_, row in enumerate(rows):
                        copy.write_row((*values(row), _json(row["properties"]), ord_))
                else:
                    for ord_, row in enumerate(rows):
                        copy.write_row((*values(row), *(_json(row[c]) for c in json), ord_))
            cursor.execute(
                write_sql,
                [_json(first[c]) if c in _JSON_COLUMNS else first[c] for c in shared] + [now],
            )
        result: list[int | None] = [None] * len(rows)
        for ord_, new_id, inserted in cursor.fetchall():
            if inserted:
                result[ord_] = new_id
    return result


# Portable (SQLite) ---------------------------------------------------------------------------


def _insert_portable(rows: Sequence[dict]) -> list[int | None]:
    workspace_id = rows[0]["workspace_id"]
    external = {r["external_id"] for r in rows if r["external_id"]}
    taken_external = (
        set(
            Event.objects.filter(workspace_id=workspace_id, external_id__in=external).values_list(
                "external_id", flat=True
            )
        )
        if external
        else set()
    )
    plain = [r for r in rows if not r["external_id"]]
    taken_plain = set()
    if plain:
        taken_plain = set(
            Event.objects.filter(
                person_id__in={r["person_id"] for r in plain},
                occurred_at__in={r["occurred_at"] for r in plain},
                external_id__isnull=True,
            ).values_list("person_id", "definition_id", "occurred_at")
        )
    fresh, positions = [], []
    for i, r in enumerate(rows):
        if r["external_id"]:
            if r["external_id"] in taken_external:
                continue
        elif (r["person_id"], r["definition_id"], r["occurred_at"]) in taken_plain:
            continue
        fresh.append(Event(**r))
        positions.append(i)
    Event.objects.bulk_create(fresh)
    result: list[int | None] = [None] * len(rows)
    for i, event in zip(positions, fresh, strict=True):
        result[i] = event.pk
    return result


def _counters_portable(
    rows: Sequence[dict], default_scores: Mapping[int, int], now: datetime
) -> None:
    aggregates: dict[tuple[int, int], list] = {}
    people: dict[int, list] = {}
    for row in rows:
        key = (row["person_id"], row["definition_id"])
        occurred = row["occurred_at"]
        agg = aggregates.get(key)
        if agg is None:
            aggregates[key] = [1, occurred, occurred, row["properties"]]
        else:
            agg[0] += 1
            agg[1] = min(agg[1], occurred)
            if occurred >= agg[2]:
                agg[2], agg[3] = occurred, row["properties"]
        score = row["score"] if row["score"] is not None else default_scores[row["definition_id"]]
        person = people.setdefault(row["person_id"], [0, occurred, occurred])
        person[0] += score
        person[1] = min(person[1], occurred)
        person[2] = max(person[2], occurred)
    workspace_id = rows[0]["workspace_id"] if rows else None
    _aggregates_upsert([(workspace_id, p, d, *agg) for (p, d), agg in sorted(aggregates.items())])
    _people_touch([(pid, *v) for pid, v in sorted(people.items())], now)


def _time(value: datetime):
    return connection.ops.adapt_datetimefield_value(value)


def _aggregates_upsert(rows) -> None:
    if not rows:
        return
    table = AGGREGATE_TABLE
    params: list = []
    for ws, person, definition, count, first, last, data in rows:
        params += [
            ws,
            person,
            definition,
            count,
            _time(first),
            _time(last),
            orjson.dumps(data).decode(),
        ]
    values = ", ".join(["(%s, %s, %s, %s, %s, %s, %s)"] * len(rows))
    sql = (
        f"INSERT INTO {table} (workspace_id, person_id, definition_id, count, first_at, "
        f"last_at, last_data) VALUES {values} "
        f"ON CONFLICT (person_id, definition_id) DO UPDATE SET "
        f"count = {table}.count + excluded.count, "
        f"first_at = MIN({table}.first_at, excluded.first_at), "
        f"last_at = MAX({table}.last_at, excluded.last_at), "
        f"last_data = CASE WHEN excluded.last_at >= {table}.last_at "
        f"THEN excluded.last_data ELSE {table}.last_data END"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _people_touch(rows, now: datetime) -> None:
    if not rows:
        return
    table = PERSON_TABLE
    params: list = []
    for pid, score, first, last in rows:
        params += [pid, score, _time(first), _time(last)]
    values = ", ".join(["(%s, %s, %s, %s)"] * len(rows))
    sql = (
        f"WITH v(id, score, first_at, last_at) AS (VALUES {values}) "
        f"UPDATE {table} SET score = {table}.score + v.score, "
        f"first_seen_at = MIN(COALESCE({table}.first_seen_at, v.first_at), v.first_at), "
        f"last_seen_at = MAX(COALESCE({table}.last_seen_at, v.last_at), v.last_at), "
        f"modified_at = %s FROM v WHERE {table}.id = v.id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, _time(now)])


def existing_event_ids(workspace_id: int, rows: Sequence[dict]) -> list[int | None]:
    """Find the stored event each duplicate row repeats."""
    external = [r["external_id"] for r in rows if r["external_id"]]
    by_external = (
        dict(
            Event.objects.filter(workspace_id=workspace_id, external_id__in=external).values_list(
                "external_id", "id"
            )
        )
        if external
        else {}
    )
    plain = [r for r in rows if not r["external_id"]]
    by_key = {}
    if plain:
        for pid, did, occurred, eid in Event.objects.filter(
            person_id__in={r["person_id"] for r in plain},
            occurred_at__in={r["occurred_at"] for r in plain},
            external_id__isnull=True,
        ).values_list("person_id", "definition_id", "occurred_at", "id"):
            by_key[(pid, did, occurred)] = eid
    return [
        by_external.get(r["external_id"])
        if r["external_id"]
        else by_key.get((r["person_id"], r["definition_id"], r["occurred_at"]))
        for r in rows
    ]
