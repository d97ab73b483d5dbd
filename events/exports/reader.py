"""Read an export's events, file after file, in chunks, with bounded memory.

Rows come from ``selectors.export_rows`` (the events table alone, in (occurred time, id)
order, the time and JSON columns as text). People's external ids are looked up here rather
than joined: a join cost PostgreSQL an index lookup in the people table per event, most of
an export's database time. Instead each chunk asks once for the people it has not seen yet,
kept in a bounded cache (people recur across a day's events), and travels with a map of its
own people's external ids (JSON text) to the writer.

PostgreSQL: one server-side cursor from the resume point to the end, on a connection of its
own, read by a thread a few chunks ahead into a short queue and cut into files there: the
database and the people lookups work while this thread turns earlier chunks into lines, and
the run's bookkeeping goes over Django's connection meanwhile. Only committed rows are seen,
as by any other worker. SQLite: the same chunks, one query per file on Django's connection.
Both give the same files, since both read in the same order.
"""

import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from itertools import islice

import orjson
import psycopg
from django.conf import settings
from django.db import connection

from events.exports.models import ExportRequest
from events.exports.selectors import (
    PEOPLE_SQL,
    export_codes,
    export_rows,
    person_external_ids,
)

CHUNK_ROWS = 5000
QUEUED_CHUNKS = 4
MAX_CACHED_PEOPLE = 200_000  # about 25 MB of ids and external ids

Keyset = tuple[datetime, int]
Chunk = tuple[list[tuple], dict[int, str]]  # rows, and person id → external id as JSON text
_FILE_END = object()
_END = object()


class PeopleCache:
    """Person id → external id as JSON text (``null`` for none), bounded.

    Entries are only ever added to a map; when it is full a new map replaces it, so a chunk
    handed out with the map that knew its people can still be written while later chunks
    fill the next one (at most two maps are alive).
    """

    def __init__(self, lookup):
        self.lookup = lookup  # person ids → {person id: external id}
        self.known: dict[int, str] = {}

    def chunk(self, rows: list[tuple]) -> Chunk:
        """Return ``rows`` with a map of their people, looking up those not seen yet."""
        known = self.known
        missing = {row[2] for row in rows if row[2] not in known}
        if missing:
            if len(known) + len(missing) > MAX_CACHED_PEOPLE:
                known = self.known = {}
                missing = {row[2] for row in rows}
            known.update(dict.fromkeys(missing, "null"))
            known.update(
                (pk, orjson.dumps(external).decode())
                for pk, external in self.lookup(missing).items()
                if external is not None
            )
        return rows, known


def _file_chunks(fetch, people: PeopleCache, lines: int) -> Iterator[Chunk]:
    """The next file's rows (``lines`` at most) in chunks; ``fetch(n)`` returns up to ``n``
    rows, an empty list at the end."""
    left = lines
    while left and (batch := fetch(min(CHUNK_ROWS, left))):
        left -= len(batch)
        yield people.chunk(batch)


class _Prefetch:
    """Read a query's rows on a thread with a connection of its own, a few chunks ahead, with
    a marker after every ``lines`` rows."""

    def __init__(self, sql: str, params, connect: dict, lines: int):
        self._queue: queue.Queue = queue.Queue(maxsize=QUEUED_CHUNKS)
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run,
            args=(sql, params, connect, lines),
            name="cdp-export-reader",
            daemon=True,
        )
        self._thread.start()

    def _put(self, item) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.5)
                return True
            except queue.Full:
                continue
        return False

    def _run(self, sql: str, params, connect: dict, lines: int) -> None:
        try:
            with psycopg.connect(**connect) as database:

                def lookup(ids):
                    # Server-side binding: the ids travel as one binary array.
                    return dict(psycopg.Cursor(database).execute(PEOPLE_SQL, [list(ids)]))

                people = PeopleCache(lookup)
                # Compiling the plan (JIT) costs more than it saves on these expressions.
                database.execute("SET jit = off")
                cursor = database.cursor(name="cdp_export", binary=True)
                cursor.execute(sql, params)
                while True:
                    count = 0
                    for chunk in _file_chunks(cursor.fetchmany, people, lines):
                        count += len(chunk[0])
                        if not self._put(chunk):
                            return
                    if count < lines:
                        break
                    if not self._put(_FILE_END):
                        return
            self._put(_END)
        except BaseException as exc:  # handed to the consuming thread, which raises it
            self._put(exc)

    def next_file(self) -> Iterator[Chunk]:
        while (item := self._queue.get()) is not _FILE_END:
            if item is _END:
                self._put(_END)  # every later file is empty too
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)


class ExportReader:
    """The definition codes of an export and the chunks of each of its files."""

    def __init__(self, export: ExportRequest, after: Keyset | None):
        self.export = export
        self.codes = export_codes(export=export)
        self.lines = settings.CDP_EXPORT_FILE_LINES
        self._prefetch: _Prefetch | None = None
        if connection.vendor == "postgresql":
            sql, params = export_rows(export=export, after=after).query.sql_with_params()
            self._prefetch = _Prefetch(sql, params, connection.get_connection_params(), self.lines)
        else:
            self._people = PeopleCache(lambda ids: person_external_ids(person_ids=ids))

    def next_file(self, after: Keyset | None) -> Iterator[Chunk]:
        """The chunks of the next file: at most ``CDP_EXPORT_FILE_LINES`` rows after the
        keyset ``after``, where the previous file ended."""
        if self._prefetch is not None:
            return self._prefetch.next_file()
        rows = export_rows(export=self.export, after=after)[: self.lines].iterator(
            chunk_size=CHUNK_ROWS
        )
        return _file_chunks(lambda n: list(islice(rows, n)), self._people, self.lines)

    def close(self) -> None:
        if self._prefetch is not None:
            self._prefetch.close()


@contextmanager
def export_reader(export: ExportRequest, after: Keyset | None) -> Iterator[ExportReader]:
    """An ``ExportReader`` from the keyset ``after`` on, closed on exit."""
    reader = ExportReader(export, after)
    try:
        yield reader
    finally:
        reader.close()
