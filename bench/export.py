"""Export of 1,000,000 events to S3 (moto's server over HTTP): events/s, wall time, peak memory.

    make bench            # or: .venv/bin/python bench/export.py [--events N --regenerate]

Needs PostgreSQL (``BENCH_DATABASE_URL``, default postgres://postgres@127.0.0.1:5432/
cdp_bench_export). The events are generated once by set-based SQL and reused by later runs
with the same size (``--regenerate`` starts over): 100,000 people, 30 days, 70 % ``pageView``
with a path, 30 % three custom definitions with an amount, half with a session id, 1 % caused
by a flow (``flow_cause``); inserted in time order with up to 10 minutes of disorder, as
events arrive (the export reads them in time order through the (workspace, occurred_at) index).

moto's S3/STS server runs in this process on loopback; the export runs in a child process as
a worker would (``export_submit`` then ``export_run``, STS AssumeRole, multipart uploads,
``enrichWithMomentsInfo`` on), which reports its time and its peak resident memory
(``ru_maxrss``). The files are then read back and counted. Targets: at least 100,000 events/s
and under 200 MB.
"""

import argparse
import gzip
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

from _setup import bench_workspace, bench_workspace_done, django_setup

SLUG = "bench-export"
CHUNK = 200_000
DAYS = 30
PEOPLE = 100_000
CUSTOM = ("c_bench_order", "c_bench_refund", "c_bench_visit")
ROLE = "arn:aws:iam::123456789012:role/cdp-export"


def _bar(total: int, desc: str):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="row", unit_scale=True)


def _workspace(events: int, regenerate: bool):
    """Return the bench workspace, generating its people and events unless already there."""
    from events.services import PropertyInput, definition_create

    marker = f"{events} events"
    workspace, reused = bench_workspace(
        slug=SLUG,
        marker=marker,
        regenerate=regenerate,
        clear=[
            "DELETE FROM events_exportfile WHERE request_id IN (SELECT id FROM"
            " events_exportrequest WHERE workspace_id = %s)",
            *(
                f"DELETE FROM {table} WHERE workspace_id = %s"
                for table in (
                    "events_exportrequest",
                    "events_eventaggregate",
                    "events_event",
                    "people_person",
                )
            ),
        ],
    )
    if reused:
        return workspace
    for code in CUSTOM:
        definition_create(
            workspace=workspace,
            definition_id=code,
            name=code,
            properties=[PropertyInput("amount", type="number"), PropertyInput("currency")],
        )
    _generate(workspace, events)
    bench_workspace_done(workspace, marker)
    return workspace


def _generate(workspace, events: int) -> None:
    from django.db import connection, transaction

    from events.selectors import definition_list

    ws = workspace.pk
    pks = dict(
        definition_list(workspace=workspace)
        .filter(definition_id__in=("pageView", *CUSTOM))
        .values_list("definition_id", "pk")
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT setseed(0.17)")
        with transaction.atomic():
            cursor.execute(
                "INSERT INTO people_person (workspace_id, external_id, first_name, last_name,"
                " gender, country, city, address, language, time_zone, lifecycle_stage, score,"
                " attributes, created_at, modified_at, trusted)"
                " SELECT %s, CASE WHEN g %% 4 = 0 THEN NULL ELSE 'X' || g END, '', '', '', '',"
                " '', '', '', '', '', 0, '{}', now(), now(), true FROM generate_series(1, %s) g",
                [ws, PEOPLE],
            )
        cursor.execute("SELECT min(id), max(id) FROM people_person WHERE workspace_id = %s", [ws])
        first, last = cursor.fetchone()
        with _bar(events, "events") as bar:
            for lo in range(0, events, CHUNK):
                hi = min(lo + CHUNK, events)
                with transaction.atomic():
                    cursor.execute(
                        "INSERT INTO events_event (workspace_id, definition_id, person_id,"
                        " occurred_at, received_at, session_id, target_id, target_name, source,"
                        " content_name, tags, campaign_code, campaign_name, summary,"
                        " properties, origin, flow_cause)"
                        " SELECT %s, CASE WHEN r < 0.7 THEN %s WHEN r < 0.8 THEN %s"
                        "  WHEN r < 0.9 THEN %s ELSE %s END,"
                        " %s + floor(random() * %s)::bigint,"
                        # Time order with some disorder, as events arrive.
                        " now() - interval '30 days' + (g / %s::float) * interval '30 days'"
                        "  - random() * interval '10 minutes', now(),"
                        " CASE WHEN g %% 2 = 0 THEN 'sess-' || (g / 10) END,"
                        " '', '', '', '', '', '', '', '',"
                        " CASE WHEN r < 0.7 THEN jsonb_build_object('path', '/p/' || (g %% 500),"
                        "   'url', 'https://shop.example.com/p/' || (g %% 500),"
                        "   'title', 'Product ' || (g %% 500))"
                        "  ELSE jsonb_build_object('amount', round((r * 100)::numeric, 2),"
                        "   'currency', 'EUR') END, 'api',"
                        " CASE WHEN g %% 100 = 0 THEN jsonb_build_object('flowId', 7,"
                        "   'campaignName', 'Win-back', 'campaignStart',"
                        "   '2024-04-30T08:00:00.000+0000', 'flowElementId', 42, 'elementName',"
                        "   'Send coupon') END"
                        " FROM (SELECT g, random() AS r FROM generate_series(%s, %s - 1) g) s"
                        " ON CONFLICT DO NOTHING",
                        [
                            ws,
                            pks["pageView"],
                            pks[CUSTOM[0]],
                            pks[CUSTOM[1]],
                            pks[CUSTOM[2]],
                            first,
                            last - first + 1,
                            events,
                            lo,
                            hi,
                        ],
                    )
                bar.update(hi - lo)
    with connection.cursor() as cursor:
        print("VACUUM ANALYZE …", flush=True)
        for table in ("people_person", "events_event"):
            cursor.execute(f"VACUUM ANALYZE {table}")


def _child(bucket: str) -> None:
    """The worker's side: submit and run one export in this process; print figures as JSON."""
    from datetime import timedelta

    from django.utils import timezone

    from events.exports.services import ExportSpec, export_submit
    from people.models import Workspace

    workspace = Workspace.objects.get(slug=SLUG)
    now = timezone.now()
    started = time.perf_counter()
    # No broker in this process: the queued export_run_task runs right here after commit.
    export = export_submit(
        workspace=workspace,
        spec=ExportSpec(
            start_time=now - timedelta(days=DAYS + 1),
            end_time=now,
            bucket=bucket,
            path="bench/run",
            role_arn=ROLE,
            external_id="bench-ext",
            enrich_with_moments_info=True,
        ),
    )
    export.refresh_from_db()
    seconds = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    peak_kb = usage.ru_maxrss
    print(
        json.dumps(
            {
                "status": export.status,
                "error": export.error,
                "seconds": seconds,
                "cpu": usage.ru_utime + usage.ru_stime,
                "events": export.events_written,
                "files": export.files_written,
                "peak_mb": peak_kb / 1024,
                "request": str(export.request_id),
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--regenerate", action="store_true")
    parser.add_argument("--child", metavar="BUCKET", help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault(
        "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/cdp_bench_export"
    )
    if args.child:
        django_setup()
        _child(args.child)
        return
    django_setup()
    workspace = _workspace(args.events, args.regenerate)
    from events.exports.models import ExportRequest

    ExportRequest.objects.filter(workspace=workspace).delete()  # earlier runs' requests

    import logging

    import boto3
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL_S3": endpoint,
        "AWS_ENDPOINT_URL_STS": endpoint,
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
        "CDP_EXPORT_S3": "1",
        "CDP_LOG_LEVEL": "WARNING",
        "CELERY_BROKER_URL": "",
    }
    os.environ.update(
        {
            k: env[k]
            for k in (
                "AWS_ENDPOINT_URL_S3",
                "AWS_ACCESS_KEY_ID",
                "AWS_SECRET_ACCESS_KEY",
                "AWS_DEFAULT_REGION",
            )
        }
    )
    client = boto3.client("s3")
    bucket = f"bench-{int(time.time())}"
    client.create_bucket(Bucket=bucket)

    load = os.getloadavg()[0]
    wall = time.perf_counter()
    answer = subprocess.run(
        [sys.executable, str(Path(__file__)), "--child", bucket],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - wall
    if answer.returncode != 0:
        raise SystemExit(f"the export process failed:\n{answer.stderr[-4000:]}")
    result = json.loads(answer.stdout.strip().splitlines()[-1])
    if result["status"] != "completed":
        raise SystemExit(f"the export ended {result['status']}: {result['error']}")

    keys, lines, size = [], 0, 0
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            keys.append(item["Key"])
            size += item["Size"]
            body = client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
            lines += gzip.decompress(body).count(b"\n")
    server.stop()
    if lines != result["events"] or len(keys) != result["files"]:
        raise SystemExit(
            f"read back {lines} lines in {len(keys)} files, expected "
            f"{result['events']} in {result['files']}"
        )
    rate = result["events"] / result["seconds"]
    print(
        f"\nexported {result['events']:,} events into {len(keys)} files "
        f"({size / 1e6:.1f} MB gzip) on moto's S3, STS AssumeRole, enrichment on"
    )
    print(f"{'events/s':>12} {'export s':>9} {'process s':>10} {'CPU s':>6} {'peak MB':>8}")
    print(
        f"{rate:>12,.0f} {result['seconds']:>9.2f} {wall:>10.2f} {result['cpu']:>6.2f} "
        f"{result['peak_mb']:>8.0f}"
    )
    print(
        f"targets: >= 100,000 events/s ({'met' if rate >= 100_000 else 'NOT MET'}), "
        f"< 200 MB peak ({'met' if result['peak_mb'] < 200 else 'NOT MET'}); "
        "'process s' adds the child's start-up (Django, boto3); 'CPU s' is the export "
        "process's own (PostgreSQL and moto use the other core)"
    )
    print(
        f"load average before the run: {load:.2f} on {os.cpu_count()} cores "
        "(other work on the machine lowers the figures)"
    )


if __name__ == "__main__":
    main()
