"""Ingestion over HTTP: the app under gunicorn (2 workers) on loopback, measured in one run with
the in-process service rate and a raw ``COPY`` of the same kind of rows.

    make bench            # or: .venv/bin/python bench/ingest_http.py [--events 100000] [--rate 200]

Needs PostgreSQL (``BENCH_DATABASE_URL``, default postgres://postgres@127.0.0.1:5432/cdp_bench)
and Redis (the outbox hands after-commit work to db 15, purged afterwards). Phases:

1. batches: ``POST /api/v1/events/batch`` with 1,000 events per request from ``--clients``
   concurrent connections; prints events/s over HTTP (target >= 15,000 on 2 cores);
2. single events: ``POST /api/v1/events`` at a fixed rate (``--rate``, default 200/s) for
   ``--seconds``; prints p50/p99/max latency (targets p50 <= 5 ms, p99 <= 20 ms);
3. the service in-process and a raw ``COPY``, same row shape, for the ratios.

The load generator shares the machine with gunicorn and PostgreSQL, so figures are lower
bounds; compare the ratios printed in one run rather than absolute numbers across runs.
"""

import argparse
import http.client
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from _ingest_common import bench_workspace, make_rows, row_json, run_copy, run_service
from _setup import ROOT, broker_purge, django_setup


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(port: int, path: str, body: bytes, key: str) -> tuple[int, bytes, float]:
    """POST ``body``; return status, response body and seconds from connect to last byte."""
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        conn.request(
            "POST", path, body, {"Authorization": f"App {key}", "Content-Type": "application/json"}
        )
        response = conn.getresponse()
        data = response.read()
        return response.status, data, time.perf_counter() - started
    finally:
        conn.close()


def start_gunicorn(port: int, workers: int) -> subprocess.Popen:
    env = dict(
        os.environ,
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(32),
        DJANGO_SECURE_SSL_REDIRECT="0",  # plain HTTP on 127.0.0.1
        CDP_RATE_LIMIT="",
        CDP_LOG_LEVEL="WARNING",
    )
    gunicorn = Path(sys.executable).with_name("gunicorn")
    process = subprocess.Popen(
        [
            str(gunicorn),
            "cdp.wsgi",
            "--workers",
            str(workers),
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            "--timeout",
            "120",
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return process
        except OSError:
            if process.poll() is not None:
                raise SystemExit("gunicorn exited during start-up") from None
            time.sleep(0.2)
    raise SystemExit("gunicorn did not start in 60 s")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def batch_phase(port, key, bodies, clients) -> tuple[float, int]:
    """Send every body from ``clients`` connections; return seconds and events accepted."""
    import orjson

    accepted = 0
    lock = threading.Lock()

    def send(body):
        nonlocal accepted
        status, data, _ = post(port, "/api/v1/events/batch", body, key)
        if status != 200:
            raise SystemExit(f"batch answered {status}: {data[:300]!r}")
        with lock:
            accepted += orjson.loads(data)["accepted"]

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        list(pool.map(send, bodies))
    return time.perf_counter() - started, accepted


def single_phase(port, key, bodies, rate) -> tuple[list[float], int, float]:
    """Send one body every 1/rate s (open loop); return latencies, errors, worst start lag."""
    latencies: list[float] = []
    errors = 0
    worst_lag = 0.0
    lock = threading.Lock()

    def send(body):
        nonlocal errors
        status, _, seconds = post(port, "/api/v1/events", body, key)
        with lock:
            latencies.append(seconds)
            if status not in (200, 201):
                errors += 1

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=32) as pool:
        for i, body in enumerate(bodies):
            due = start + i / rate
            pause = due - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            worst_lag = max(worst_lag, time.perf_counter() - due)
            pool.submit(send, body)
    return latencies, errors, worst_lag


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000, help="events sent in batches")
    parser.add_argument("--batch", type=int, default=1_000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rate", type=int, default=200, help="single events per second")
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--people", type=int, default=10_000)
    args = parser.parse_args()
    django_setup()
    import orjson

    from people.models import ApiKey
    from people.workspaces import api_key_create

    bench = bench_workspace(args.people)
    key = api_key_create(workspace=bench.workspace, kind=ApiKey.Kind.SECRET).raw_key
    rows = make_rows(bench, args.events, "http", seed=1)
    bodies = [
        orjson.dumps({"events": [row_json(r) for r in rows[i : i + args.batch]]})
        for i in range(0, len(rows), args.batch)
    ]
    singles = [
        orjson.dumps(row_json(r))
        for r in make_rows(bench, args.rate * args.seconds, "single", seed=2)
    ]
    warm = [orjson.dumps(row_json(r)) for r in make_rows(bench, 50, "warm", seed=3)]

    port = free_port()
    server = start_gunicorn(port, args.workers)
    try:
        for body in warm:  # imports, database connections, definition caches in each worker
            post(port, "/api/v1/events", body, key)
        seconds, accepted = batch_phase(port, key, bodies, args.clients)
        if accepted != len(rows):
            raise SystemExit(f"only {accepted} of {len(rows)} batch events were accepted")
        http_rate = accepted / seconds
        latencies, errors, lag = single_phase(port, key, singles, args.rate)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)

    service_rows = make_rows(bench, args.events // 2, "svc", seed=4)
    copy_rows = make_rows(bench, args.events // 2, "raw", seed=5)
    service_rate = len(service_rows) / run_service(bench, service_rows, args.batch)
    copy_rate = len(copy_rows) / run_copy(bench, copy_rows, args.batch)
    broker_purge()

    ms = [s * 1000 for s in latencies]
    print(
        f"gunicorn {args.workers} sync workers, {args.clients} batch clients, "
        f"{os.cpu_count()} CPUs, load generator on the same machine"
    )
    print(
        f"HTTP batch   {accepted:,} events in {seconds:.1f} s: {http_rate:,.0f} events/s "
        f"(target >= 15,000)"
    )
    print(f"service      in-process, same rows: {service_rate:,.0f} events/s")
    print(f"raw COPY     same table:            {copy_rate:,.0f} events/s")
    print(
        f"ratios       HTTP/service {http_rate / service_rate:.2f}, "
        f"HTTP/COPY {http_rate / copy_rate:.2f}, service/COPY {service_rate / copy_rate:.2f}"
    )
    print(
        f"single       {len(ms):,} events at {args.rate}/s: p50 {statistics.median(ms):.1f} ms, "
        f"p99 {percentile(ms, 0.99):.1f} ms, max {max(ms):.1f} ms, errors {errors}, "
        f"worst send lag {lag * 1000:.1f} ms (targets p50 <= 5 ms, p99 <= 20 ms)"
    )


if __name__ == "__main__":
    main()
