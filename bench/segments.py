"""Segment refresh, preview and incremental update on 1,000,000 people and 10,000,000 events.

    make bench            # or: .venv/bin/python bench/segments.py [--people N --events N]

Needs PostgreSQL (``BENCH_DATABASE_URL``, default postgres://postgres@127.0.0.1:5432/
cdp_bench_segments). The data is generated once by set-based SQL (a progress bar per table) and
reused by later runs with the same sizes; ``--regenerate`` starts over. Events span the last 90
days: 70 % ``pageView`` (10 % of them on /mortgage), 10 % each of ticket searched, ticket chosen
and checkout, on people drawn uniformly. They are stored in arrival order, as a store filled
over those 90 days would hold them: occurred times rise with the row, up to an hour late.

For three segments of different shapes it prints the plain SQL count of the audience (the
compiled query, no membership work), the first refresh (everyone enters) and a second refresh
(the diff against stored membership, nobody changes), then preview counts of unsaved rule
trees (the three, and one filtering 2.3M page views on a property) and the incremental update
after one batch of 1,000 events: what the ``events.ingested`` outbox handler runs,
re-evaluating the batch's people for the segments that read those events.
"""

import argparse
import statistics
import time
from functools import partial

from _setup import (
    bench_workspace,
    bench_workspace_done,
    broker_purge,
    django_setup,
    machine_reference,
)

SLUG = "bench-segments"
CHUNK = 100_000
DAYS = 90
COUNTRIES = ["DE", "FR", "GB", "US", "ES", "IT", "NL", "PL", "SE", "AT"]
CUSTOM = ("c_ticket_searched", "c_ticket_chosen", "c_checkout")

SEGMENTS = {
    "attribute only": {
        "all": [
            {"attribute": "country", "operator": "equals", "value": "DE"},
            {"attribute": "score", "operator": "gt", "value": 50},
        ]
    },
    "event count in window": {
        "all": [
            {
                "event": "pageView",
                "count": {"operator": ">=", "value": 5},
                "window": {"lastDays": 30},
            }
        ]
    },
    "occurred and not occurred": {
        "all": [
            {"event": "c_ticket_searched", "window": {"lastDays": 7}},
            {"event": "c_ticket_chosen", "window": {"lastDays": 7}},
            {"event": "c_checkout", "occurred": False, "window": {"lastDays": 7}},
        ]
    },
}
PREVIEW = {
    "all": [
        {
            "event": "pageView",
            "count": {"operator": ">=", "value": 2},
            "window": {"lastDays": 30},
            "where": [{"property": "path", "operator": "equals", "value": "/mortgage"}],
        },
        {"attribute": "country", "operator": "in", "value": ["DE", "AT"]},
    ]
}


def _bar(total: int, desc: str):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="row", unit_scale=True)


def segments_workspace(people: int, events: int, regenerate: bool):
    """Return the bench workspace, generating its people and events unless already there."""
    from events.services import PropertyInput, definition_create

    marker = f"{people} people, {events} events in arrival order"
    workspace, reused = bench_workspace(
        slug=SLUG,
        marker=marker,
        regenerate=regenerate,
        clear=[
            *(
                f"DELETE FROM {table} WHERE workspace_id = %s"
                for table in ("people_segmentmembership", "events_eventaggregate", "events_event")
            ),
            "DELETE FROM people_persontag WHERE person_id IN (SELECT id FROM people_person"
            " WHERE workspace_id = %s)",
            "DELETE FROM people_identifier WHERE workspace_id = %s",
            "DELETE FROM people_person WHERE workspace_id = %s",
        ],
    )
    if reused:
        return workspace
    for code in CUSTOM:
        definition_create(
            workspace=workspace, definition_id=code, name=code, properties=[PropertyInput("route")]
        )
    _generate(workspace, people, events)
    bench_workspace_done(workspace, marker)
    return workspace


def _definition_pks(workspace) -> dict[str, int]:
    from events.selectors import definition_list

    return dict(
        definition_list(workspace=workspace)
        .filter(definition_id__in=("pageView", *CUSTOM))
        .values_list("definition_id", "pk")
    )


def _generate(workspace, people: int, events: int) -> None:
    from django.db import connection, transaction

    ws = workspace.pk
    pks = _definition_pks(workspace)
    with connection.cursor() as cursor:
        cursor.execute("SELECT setseed(0.42)")
        with _bar(people, "people") as bar:
            for lo in range(0, people, CHUNK):
                hi = min(lo + CHUNK, people)
                with transaction.atomic():
                    cursor.execute(
                        "INSERT INTO people_person (workspace_id, external_id, first_name,"
                        " last_name, gender, country, city, address, language, time_zone,"
                        " lifecycle_stage, score, attributes, created_at, modified_at, trusted)"
                        " SELECT %s, 'S' || g, '', '', '', (%s::text[])[1 + (g %% 10)],"
                        " '', '', '', '', '', ((g::bigint * 7919) %% 101)::int, '{}', now(), now(),"
                        " true"
                        " FROM generate_series(%s, %s - 1) g",
                        [ws, COUNTRIES, lo, hi],
                    )
                bar.update(hi - lo)
        cursor.execute("SELECT min(id), max(id) FROM people_person WHERE workspace_id = %s", [ws])
        first, last = cursor.fetchone()
        span = last - first + 1
        cursor.execute("SELECT now() - interval '90 days'")
        start = cursor.fetchone()[0]
        with _bar(events, "events") as bar:
            for lo in range(0, events, CHUNK):
                hi = min(lo + CHUNK, events)
                with transaction.atomic():
                    # r picks the definition (70 % pageView, 10 % each custom one).
                    cursor.execute(
                        "INSERT INTO events_event (workspace_id, definition_id, person_id,"
                        " occurred_at, received_at, target_id, target_name, source,"
                        " content_name, tags, campaign_code, campaign_name, summary,"
                        " properties, origin)"
                        " SELECT %s, CASE WHEN r < 0.7 THEN %s WHEN r < 0.8 THEN %s"
                        "  WHEN r < 0.9 THEN %s ELSE %s END,"
                        " %s + floor(random() * %s)::bigint,"
                        " %s::timestamptz + (g + 0.0) / %s * interval '90 days'"
                        "  - random() * interval '1 hour', now(), '', '', '', '', '',"
                        " '', '', '',"
                        ' CASE WHEN r < 0.07 THEN \'{"path": "/mortgage"}\'::jsonb'
                        "  WHEN r < 0.7 THEN jsonb_build_object('path', '/p/' || (g %% 500))"
                        "  ELSE '{}'::jsonb END, 'api'"
                        " FROM (SELECT g, random() AS r FROM generate_series(%s, %s - 1) g) s"
                        " ON CONFLICT DO NOTHING",
                        [
                            ws,
                            pks["pageView"],
                            pks[CUSTOM[0]],
                            pks[CUSTOM[1]],
                            pks[CUSTOM[2]],
                            first,
                            span,
                            start,
                            events,
                            lo,
                            hi,
                        ],
                    )
                bar.update(hi - lo)
        print("aggregates (person × definition) …", flush=True)
        with transaction.atomic():
            cursor.execute(
                "INSERT INTO events_eventaggregate (workspace_id, person_id, definition_id,"
                " count, first_at, last_at, last_data)"
                " SELECT workspace_id, person_id, definition_id, count(*), min(occurred_at),"
                " max(occurred_at), '{}' FROM events_event WHERE workspace_id = %s"
                " GROUP BY workspace_id, person_id, definition_id",
                [ws],
            )
            cursor.execute(
                "UPDATE people_person p SET first_seen_at = a.first_at, last_seen_at = a.last_at"
                " FROM (SELECT person_id, min(first_at) first_at, max(last_at) last_at"
                " FROM events_eventaggregate WHERE workspace_id = %s GROUP BY person_id) a"
                " WHERE p.id = a.person_id",
                [ws],
            )
    with connection.cursor() as cursor:
        print("VACUUM ANALYZE …", flush=True)
        for table in ("people_person", "events_event", "events_eventaggregate"):
            cursor.execute(f"VACUUM ANALYZE {table}")


def _count(workspace, tree, now) -> int:
    """The plain SQL count of the compiled audience (same planner settings as a refresh)."""
    from django.db import transaction

    from people.segments.compiler import audience_settings_apply, people_matching

    with transaction.atomic():
        audience_settings_apply(tree)
        return people_matching(workspace_id=workspace.pk, tree=tree, now=now).count()


def _timed(fn):
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def _incremental(workspace, segments, batch: int) -> tuple[float, float, int]:
    """Ingest one batch for existing people; time the ingest and the outbox handler's work."""
    import random
    from datetime import UTC, datetime, timedelta

    from events.ingestion import events_ingest
    from events.inputs import EventInput
    from events.models import EventDefinition
    from events.services import definition_set_enabled
    from people.inputs import PersonRef
    from people.models import Person
    from people.segments.incremental import INGESTION_CHANGES, segments_reevaluate

    # Standard definitions are off until a workspace switches them on (the generated events
    # were written by SQL); the batch is ingested like any other.
    definition_set_enabled(
        workspace=workspace,
        enabled=True,
        definition=EventDefinition.objects.get(pk=_definition_pks(workspace)["pageView"]),
    )
    rng = random.Random()
    ids = list(
        Person.objects.filter(workspace=workspace)
        .order_by("?")
        .values_list("external_id", flat=True)[:batch]
    )
    now = datetime.now(UTC)
    codes = ["pageView", *CUSTOM]
    picked = [rng.choice(codes) for _ in ids]
    inputs = [
        EventInput(
            definition_id=code,
            person=PersonRef(external_id=ext),
            occurred_at=now - timedelta(seconds=rng.randrange(3600)),
            properties={"path": "/mortgage"} if code == "pageView" and i % 2 else {},
        )
        for i, (code, ext) in enumerate(zip(picked, ids, strict=True))
    ]
    t_ingest, ingested = _timed(
        lambda: events_ingest(workspace=workspace, events=inputs, origin="api")
    )
    assert ingested.accepted == len(inputs), ingested.items[:3]
    person_ids = list(
        Person.objects.filter(workspace=workspace, external_id__in=ids).values_list("pk", flat=True)
    )
    pks = _definition_pks(workspace)
    changes = {f"event:{pk}" for pk in pks.values()} | INGESTION_CHANGES
    t_update, results = _timed(
        lambda: segments_reevaluate(
            workspace_id=workspace.pk, person_ids=person_ids, changes=changes
        )
    )
    moved = sum(len(r.entered) + len(r.exited) for r in results)
    return t_ingest, t_update, moved


def data_parser(doc: str) -> argparse.ArgumentParser:
    """The arguments of a benchmark on this data set (sizes, ``--regenerate``)."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--regenerate", action="store_true")
    return parser


def data_ready(args):
    """Set Django up on the bench database, print the machine reference and return the
    workspace holding the data (generated when missing)."""
    import os

    os.environ.setdefault(
        "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/cdp_bench_segments"
    )
    django_setup()
    print(machine_reference())
    return segments_workspace(args.people, args.events, args.regenerate)


def main() -> None:
    parser = data_parser(__doc__)
    parser.add_argument("--batch", type=int, default=1_000)
    args = parser.parse_args()
    workspace = data_ready(args)
    from django.utils import timezone

    from people.segments.models import Segment
    from people.segments.refresh import segment_refresh
    from people.segments.rules import rules_validate
    from people.segments.services import segment_create, segment_delete, segment_preview

    for old in Segment.objects.filter(workspace=workspace):
        segment_delete(segment=old)
    targets = {
        "attribute only": 1.0,
        "event count in window": 2.0,
        "occurred and not occurred": 5.0,
    }
    print(
        f"\n{'segment':<27} {'members':>9} {'SQL count':>10} {'1st refresh':>12} "
        f"{'2nd refresh':>12} {'target':>7}"
    )
    segments = []
    for name, rules in SEGMENTS.items():
        segment = segment_create(workspace=workspace, name=name, rules=rules)
        segments.append(segment)
        tree = rules_validate(workspace=workspace, rules=rules).tree
        now = timezone.now()  # one instant for all three, so the windows do not move
        t_count, count = _timed(partial(_count, workspace, tree, now))
        t_first, first = _timed(partial(segment_refresh, segment=segment, now=now))
        t_second, second = _timed(partial(segment_refresh, segment=segment, now=now))
        if not first.member_count == count == second.member_count:
            raise SystemExit(
                f"{name}: the refreshes disagree with the count: "
                f"{first.member_count}, {second.member_count} vs {count}"
            )
        print(
            f"{name:<27} {count:>9,} {t_count:>9.2f}s {t_first:>11.2f}s {t_second:>11.2f}s "
            f"{targets[name]:>6.1f}s"
        )
    print("\npreview counts of unsaved trees (median of 3; target < 1 s):")
    for name, rules in [*SEGMENTS.items(), ("mortgage views + country (property filter)", PREVIEW)]:
        runs = [
            _timed(partial(segment_preview, workspace=workspace, rules=rules)) for _ in range(3)
        ]
        print(
            f"  {name:<44} {runs[-1][1]:>9,} people {statistics.median(t for t, _ in runs):>6.2f}s"
        )
    rounds = [_incremental(workspace, segments, args.batch) for _ in range(3)]
    print(
        f"incremental update after a batch of {args.batch:,} events "
        f"({len(segments)} segments): median "
        f"{statistics.median(r[1] for r in rounds) * 1000:.0f} ms (target < 100 ms); "
        f"the batch's ingest itself: {statistics.median(r[0] for r in rounds) * 1000:.0f} ms; "
        f"memberships changed per round: {', '.join(str(r[2]) for r in rounds)}"
    )
    broker_purge()


if __name__ == "__main__":
    main()
