"""Where a batch's time goes: the service's statements, ``COPY`` and commit timed one by one,
against a raw ``COPY`` of the same kind of rows.

    .venv/bin/python bench/ingest_split.py [--events 50000]

Needs PostgreSQL, like ``bench/ingest.py``. It warms up with 30 batches, then ingests
``--events`` events in batches of 1,000 and prints, per batch, the wall time of the service
and of each kind of statement it ran (psycopg's ``execute``, ``copy`` and ``commit`` are
timed); the rest is Python. Then the same for a raw ``COPY`` into the events table.
"""

import argparse
import contextlib
import time
from collections import Counter, defaultdict

from _ingest_common import bench_workspace, copy_steps, make_rows, service_steps
from _setup import broker_purge, django_setup, machine_reference


def _label(query) -> str:
    text = " ".join((query if isinstance(query, str) else str(query)).split())
    return text[:70]


def instrument(seconds: dict, counts: Counter) -> None:
    """Time psycopg's execute, copy and commit into ``seconds`` / ``counts`` by statement."""
    from psycopg import Connection, Cursor

    execute, copy, commit = Cursor.execute, Cursor.copy, Connection.commit

    def timed_execute(self, query, params=None, **kwargs):
        started = time.perf_counter()
        try:
            return execute(self, query, params, **kwargs)
        finally:
            seconds[_label(query)] += time.perf_counter() - started
            counts[_label(query)] += 1

    @contextlib.contextmanager
    def timed_copy(self, statement, *args, **kwargs):
        started = time.perf_counter()
        with copy(self, statement, *args, **kwargs) as stream:
            yield stream
        seconds[_label(statement)] += time.perf_counter() - started
        counts[_label(statement)] += 1

    def timed_commit(self):
        started = time.perf_counter()
        try:
            return commit(self)
        finally:
            seconds["COMMIT"] += time.perf_counter() - started
            counts["COMMIT"] += 1

    Cursor.execute, Cursor.copy, Connection.commit = timed_execute, timed_copy, timed_commit


def report(title: str, total: float, batches: int, seconds: dict, counts: Counter) -> None:
    print(f"{title}: {total / batches * 1000:.1f} ms per batch")
    for label, spent in sorted(seconds.items(), key=lambda item: -item[1]):
        print(f"  {spent / batches * 1000:6.2f} ms  ×{counts[label] / batches:.1f}  {label}")
    rest = total - sum(seconds.values())
    print(f"  {rest / batches * 1000:6.2f} ms  Python and the rest")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--people", type=int, default=10_000)
    args = parser.parse_args()
    batch = 1_000
    django_setup()
    bench = bench_workspace(args.people)
    print(machine_reference())
    for _ in service_steps(bench, make_rows(bench, 30 * batch, "warm", seed=1), batch):
        pass
    seconds: dict[str, float] = defaultdict(float)
    counts: Counter = Counter()
    instrument(seconds, counts)
    batches = -(-args.events // batch)
    total = sum(service_steps(bench, make_rows(bench, args.events, "split", seed=2), batch))
    report("service", total, batches, seconds, counts)
    seconds.clear()
    counts.clear()
    total = sum(copy_steps(bench, make_rows(bench, args.events, "rawsplit", seed=3), batch))
    report("raw COPY", total, batches, seconds, counts)
    broker_purge()


if __name__ == "__main__":
    main()
