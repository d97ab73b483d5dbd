"""Pieces shared by the ingestion benchmarks: a bench workspace with people and definitions,
generated events, the service path and a raw ``COPY`` of the same rows."""

import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta


@dataclass
class BenchWorkspace:
    workspace: object
    definition_pks: list[int]
    person_ids: dict[str, int]
    stamp: str


def bench_workspace(people: int) -> BenchWorkspace:
    """A fresh workspace with 5 custom definitions (3 properties each) and ``people`` people."""
    from events.services import PropertyInput, definition_create
    from people.models import Person
    from people.workspaces import workspace_create

    stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S%f")
    workspace = workspace_create(slug=f"bench-{stamp}")
    definitions = [
        definition_create(
            workspace=workspace,
            definition_id=f"c_bench_{i}",
            name=f"Bench {i}",
            properties=[
                PropertyInput("path"),
                PropertyInput("amount", type="number"),
                PropertyInput("ok", type="boolean"),
            ],
        )
        for i in range(5)
    ]
    Person.objects.bulk_create(
        [Person(workspace=workspace, external_id=f"P{i}") for i in range(people)], batch_size=5_000
    )
    person_ids = dict(Person.objects.filter(workspace=workspace).values_list("external_id", "pk"))
    return BenchWorkspace(
        workspace=workspace,
        definition_pks=[d.pk for d in definitions],
        person_ids=person_ids,
        stamp=stamp,
    )


def make_rows(bench: BenchWorkspace, count: int, label: str, seed: int = 7) -> list[dict]:
    """``count`` events over 30 days, random people and definitions, unique external ids."""
    rng = random.Random(seed)
    base = datetime.now(UTC) - timedelta(days=30)
    people = len(bench.person_ids)
    rows = []
    for i in range(count):
        d = rng.randrange(5)
        rows.append(
            {
                "code": f"c_bench_{d}",
                "definition_pk": bench.definition_pks[d],
                "person": f"P{rng.randrange(people)}",
                "occurred": base + timedelta(milliseconds=rng.randrange(30 * 86_400_000)),
                "external_id": f"{label}-{bench.stamp}-{i}",
                "properties": {
                    "path": f"/p/{rng.randrange(100)}",
                    "amount": rng.randrange(1000),
                    "ok": bool(i % 2),
                },
            }
        )
    return rows


def row_json(row: dict) -> dict:
    """The native API's JSON for a generated row."""
    return {
        "definitionId": row["code"],
        "person": {"externalId": row["person"]},
        "occurredTime": row["occurred"].isoformat(),
        "properties": row["properties"],
        "externalId": row["external_id"],
        "sessionId": "s1",
    }


def freeze_inputs() -> None:
    """Keep the objects made so far (Django's, and the bench's generated rows and inputs) out
    of the cyclic collector, as a server process keeps its start-up objects (``cdp.wsgi``,
    ``cdp.celery``). A server holds a batch only while it handles the request; without this,
    each full collection during the timed loop would also scan the 100,000 pre-generated
    inputs (about 300,000 objects) that the bench, not the service, keeps alive."""
    import gc

    gc.freeze()


def service_steps(bench: BenchWorkspace, rows: list[dict], batch: int) -> Iterator[float]:
    """Ingest ``rows`` through ``events_ingest`` in batches, yielding each batch's seconds."""
    from events.ingestion import events_ingest
    from events.inputs import EventInput
    from people.inputs import PersonRef

    inputs = [
        EventInput(
            definition_id=r["code"],
            person=PersonRef(external_id=r["person"]),
            occurred_at=r["occurred"],
            properties=r["properties"],
            external_id=r["external_id"],
            session_id="s1",
        )
        for r in rows
    ]
    freeze_inputs()
    for start in range(0, len(inputs), batch):
        part = inputs[start : start + batch]
        started = time.perf_counter()
        result = events_ingest(workspace=bench.workspace, events=part, origin="api")
        elapsed = time.perf_counter() - started
        assert result.accepted == len(part), result.items[:3]
        yield elapsed


def run_service(bench: BenchWorkspace, rows: list[dict], batch: int, desc: str = "service"):
    """Ingest ``rows`` through ``events_ingest`` in batches; return seconds taken."""
    from tqdm import tqdm

    taken = 0.0
    with tqdm(total=len(rows), desc=desc, unit="ev", leave=False) as bar:
        for elapsed in service_steps(bench, rows, batch):
            taken += elapsed
            bar.update(min(batch, bar.total - bar.n))
    return taken


COLUMNS = (
    "workspace_id, definition_id, person_id, occurred_at, received_at, session_id, "
    "external_id, target_id, target_name, source, content_name, score, tags, "
    "campaign_code, campaign_name, summary, properties, origin"
)


def copy_steps(bench: BenchWorkspace, rows: list[dict], batch: int) -> Iterator[float]:
    """``COPY`` equivalent rows straight into the events table, one transaction per batch,
    yielding each batch's seconds."""
    import orjson
    from django.db import connection, transaction

    from events.models import Event

    now = datetime.now(UTC)
    sql = f"COPY {Event._meta.db_table} ({COLUMNS}) FROM STDIN"
    freeze_inputs()
    for start in range(0, len(rows), batch):
        started = time.perf_counter()
        with transaction.atomic(), connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
            for r in rows[start : start + batch]:
                copy.write_row(
                    (
                        bench.workspace.pk,
                        r["definition_pk"],
                        bench.person_ids[r["person"]],
                        r["occurred"],
                        now,
                        "s1",
                        r["external_id"],
                        "",
                        "",
                        "",
                        "",
                        None,
                        "",
                        "",
                        "",
                        "",
                        orjson.dumps(r["properties"]).decode(),
                        "api",
                    )
                )
        yield time.perf_counter() - started


def run_copy(bench: BenchWorkspace, rows: list[dict], batch: int) -> float:
    """``COPY`` equivalent rows straight into the events table; return seconds taken."""
    return sum(copy_steps(bench, rows, batch))


def events_indexes() -> int:
    from django.db import connection

    from events.models import Event

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_indexes WHERE tablename = %s", [Event._meta.db_table]
        )
        return cursor.fetchone()[0]
