"""Batch ingestion through the service vs a raw ``COPY`` of the same rows, in one run.

    make bench            # or: .venv/bin/python bench/ingest.py [--events 100000]

Needs PostgreSQL (``BENCH_DATABASE_URL``, default postgres://postgres@127.0.0.1:5432/cdp_bench).
Prints events/s for ``events_ingest`` in batches of 1,000 (validation, identity resolution by
external id, dedupe, insert, aggregates, person updates, outbox) and for a raw ``COPY`` of
equivalent rows into the same table with the same indexes, and their ratio. The two sides
alternate batch by batch (which goes first alternates by round), so that table growth and
machine noise hit both alike; each side's figure is the sum of its batches' times.
"""

import argparse

from _ingest_common import bench_workspace, copy_steps, events_indexes, make_rows, service_steps
from _setup import broker_purge, django_setup, machine_reference
from tqdm import tqdm


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1_000)
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    django_setup()
    from django.db import connection

    bench = bench_workspace(args.people)
    print(machine_reference())
    print(
        f"events table: {events_indexes()} indexes (primary key included); "
        f"{args.events:,} events per side per round, batches of {args.batch:,}, "
        f"{args.people:,} people, PostgreSQL {connection.pg_version // 10000}"
    )
    print(f"{'round':>5} {'service ev/s':>14} {'raw COPY ev/s':>14} {'ratio':>7}")
    ratios, totals = [], [0.0, 0.0]
    for round_no in range(args.rounds):
        service_rows = make_rows(bench, args.events, f"svc{round_no}", seed=round_no)
        copy_rows = make_rows(bench, args.events, f"raw{round_no}", seed=round_no)
        service, copy = (
            service_steps(bench, service_rows, args.batch),
            copy_steps(bench, copy_rows, args.batch),
        )
        # Batch by batch, alternately: a noisy spell of the machine hits both sides alike.
        pairs = (
            zip(service, copy, strict=True)
            if round_no % 2 == 0
            else ((s, c) for c, s in zip(copy, service, strict=True))
        )
        t_service = t_copy = 0.0
        for s, c in tqdm(
            pairs,
            total=-(-args.events // args.batch),
            desc=f"round {round_no + 1}",
            unit="batch pair",
            leave=False,
        ):
            t_service, t_copy = t_service + s, t_copy + c
        totals = [totals[0] + t_service, totals[1] + t_copy]
        service_rate, copy_rate = args.events / t_service, args.events / t_copy
        ratios.append(service_rate / copy_rate)
        print(
            f"{round_no + 1:>5} {service_rate:>14,.0f} {copy_rate:>14,.0f} "
            f"{service_rate / copy_rate:>7.2f}"
        )
    print(
        f"service / raw COPY: {totals[1] / totals[0]:.2f} over all rounds (target >= 0.40); "
        f"rounds from {min(ratios):.2f} to {max(ratios):.2f}"
    )
    broker_purge()


if __name__ == "__main__":
    main()
