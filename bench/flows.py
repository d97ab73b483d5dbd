"""Flow runtime under load: event-to-first-action latency and runs/s with a real worker.

    make bench            # or: .venv/bin/python bench/flows.py [--events 10000 --batch 100]

Needs PostgreSQL (``BENCH_DATABASE_URL``, default postgres://postgres@127.0.0.1:5432/
cdp_bench_flows) and Redis (broker db 14). Starts one Celery worker (``--concurrency``
processes, default 2) on that database, activates a flow "c_bench_trigger → tag → end", then
ingests ``--events`` trigger events for distinct people in batches, paced at ``--rate``
events/s. It prints, per run, the time from the batch's commit to the action (the tag row's
insert, stamped by the database write): p50 / p95 / p99, and the runs finished per second
over the whole load.
"""

import argparse
import os
import secrets
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime

from _setup import ROOT, django_setup

BROKER = "redis://127.0.0.1:6379/14"


def _worker(concurrency: int) -> subprocess.Popen:
    # As deployed: DEBUG off (with it on, Django keeps every query of the process).
    env = {
        **os.environ,
        "CELERY_BROKER_URL": BROKER,
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(32),
    }
    return subprocess.Popen(
        [
            str(ROOT / ".venv/bin/celery"),
            "-A",
            "cdp",
            "worker",
            "--loglevel=" + os.environ.get("BENCH_WORKER_LOGLEVEL", "WARNING"),
            f"--concurrency={concurrency}",
            "--without-heartbeat",
            "--without-mingle",
            "--without-gossip",
        ],
        cwd=ROOT,
        env=env,
    )


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--rate", type=int, default=1_000, help="events per second offered")
    parser.add_argument("--concurrency", type=int, default=2)
    args = parser.parse_args()
    os.environ.setdefault(
        "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/cdp_bench_flows"
    )
    os.environ["CELERY_BROKER_URL"] = BROKER
    django_setup()
    from tqdm import tqdm

    from cdp.celery import app
    from events.ingestion import events_ingest
    from events.inputs import EventInput
    from events.services import definition_create
    from flows.inputs import EdgeInput, ElementInput, FlowSpec
    from flows.models import FlowRun
    from flows.services import flow_activate, flow_create
    from people.inputs import PersonRef
    from people.models import PersonTag
    from people.workspaces import workspace_create

    app.control.purge()
    stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S%f")
    workspace = workspace_create(slug=f"bench-flows-{stamp}")
    definition_create(workspace=workspace, definition_id="c_bench_trigger", name="Trigger")
    flow = flow_activate(
        flow=flow_create(
            workspace=workspace,
            spec=FlowSpec(
                name="Bench",
                reentry="recurring",
                elements=(
                    ElementInput("start", "trigger", {"type": "event", "event": "c_bench_trigger"}),
                    ElementInput("tag", "action", {"action": "tag_add", "tag": "benched"}),
                    ElementInput("end", "end", {}),
                ),
                edges=(EdgeInput("start", "tag"), EdgeInput("tag", "end")),
            ),
        )
    )
    worker = _worker(args.concurrency)
    try:
        time.sleep(3)  # the worker connects
        committed: dict[str, float] = {}
        started = time.perf_counter()
        with tqdm(total=args.events, desc="ingest", unit="ev") as bar:
            for start in range(0, args.events, args.batch):
                people = [
                    f"B{stamp}-{i}" for i in range(start, min(start + args.batch, args.events))
                ]
                events_ingest(
                    workspace=workspace,
                    origin="api",
                    events=[
                        EventInput(definition_id="c_bench_trigger", person=PersonRef(external_id=p))
                        for p in people
                    ],
                )
                now = time.time()
                committed.update(dict.fromkeys(people, now))
                bar.update(len(people))
                ahead = (start + args.batch) / args.rate - (time.perf_counter() - started)
                if ahead > 0:
                    time.sleep(ahead)
        deadline = time.time() + 120
        with tqdm(total=args.events, desc="runs finished", unit="run") as bar:
            done = 0
            while done < args.events and time.time() < deadline:
                time.sleep(0.5)
                now_done = FlowRun.objects.filter(flow=flow, state="finished").count()
                bar.update(now_done - done)
                done = now_done
        wall = time.perf_counter() - started
        # The action's own write: the tag row, stamped when it is inserted.
        acted = PersonTag.objects.filter(workspace=workspace, name="benched").values_list(
            "person__external_id", "created_at"
        )
        latencies = [
            (at.timestamp() - committed[ext]) * 1000 for ext, at in acted if ext in committed
        ]
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        app.control.purge()
    if not latencies:
        sys.exit("no run reached its action: is the worker able to reach Redis and PostgreSQL?")
    print(
        f"\n{args.events:,} trigger events in batches of {args.batch} at up to "
        f"{args.rate:,}/s; worker concurrency {args.concurrency}"
    )
    print(
        f"event-to-first-action latency: p50 {_percentile(latencies, 0.5):.0f} ms, "
        f"p95 {_percentile(latencies, 0.95):.0f} ms, p99 {_percentile(latencies, 0.99):.0f} ms "
        f"(targets: p50 < 100 ms, p99 < 1 s; mean {statistics.mean(latencies):.0f} ms)"
    )
    print(
        f"runs finished: {done:,} in {wall:.1f} s = {done / wall:,.0f} runs/s "
        f"(target >= 500 runs/s)"
    )


if __name__ == "__main__":
    main()
