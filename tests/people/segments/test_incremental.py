"""Membership follows events, profile changes and merges incrementally through the outbox:
only the people concerned are re-evaluated, with no full refresh, and entries and exits are
announced on ``segments.changed``."""

from datetime import timedelta

import pytest
from django.utils import timezone

from cdp import outbox
from events.ingestion import events_ingest
from people.merge import people_merge
from people.segments.models import Segment, SegmentMembership
from people.segments.refresh import segment_refresh
from people.segments.services import segment_create, segment_members_add
from people.services import identifier_add, person_update, tags_add, tags_remove
from tests.factories import DefinitionFactory, PersonFactory, event
from tests.people.segments.conftest import TICKET_EVENTS

pytestmark = pytest.mark.django_db
ABANDONERS = {
    "all": [
        {"event": "c_ticket_searched", "window": {"lastDays": 7}},
        {"event": "c_ticket_chosen", "window": {"lastDays": 7}},
        {"event": "c_checkout", "occurred": False, "window": {"lastDays": 7}},
    ]
}


@pytest.fixture
def announced():
    """Collect the payloads of ``segments.changed`` messages."""
    payloads: list[dict] = []

    def handler(message):
        payloads.append(message.payload)

    outbox.outbox_register("segments.changed", handler)
    yield payloads
    outbox.HANDLERS["segments.changed"].remove(handler)


@pytest.fixture
def tickets(workspace):
    for code in TICKET_EVENTS:
        DefinitionFactory(workspace=workspace, definition_id=code)


def current(segment) -> set[int]:
    return set(
        SegmentMembership.objects.filter(segment=segment, exited_at__isnull=True).values_list(
            "person_id", flat=True
        )
    )


def ingest(workspace, capture, *items):
    with capture(execute=True):
        result = events_ingest(workspace=workspace, origin="api", events=list(items))
    assert result.rejected == 0, result.items


def test_event_enters_and_checkout_exits_without_full_refresh(
    workspace, tickets, announced, django_capture_on_commit_callbacks
):
    """Choosing tickets after searching makes a person qualify: they enter as the batch is
    processed. A checkout disqualifies them: their stay ends. A later journey re-enters them
    with a new row. No full refresh runs meanwhile."""
    ann, bob = PersonFactory(workspace=workspace), PersonFactory(workspace=workspace)
    now = timezone.now()
    ingest(
        workspace,
        django_capture_on_commit_callbacks,
        event("c_ticket_searched", ann, occurred_at=now - timedelta(hours=3)),
        event("c_ticket_chosen", ann, occurred_at=now - timedelta(hours=2)),
        event("c_ticket_searched", bob, occurred_at=now - timedelta(hours=3)),
    )
    segment = segment_create(workspace=workspace, name="Abandoners", rules=ABANDONERS)
    segment_refresh(segment=segment)
    segment.refresh_from_db()
    refreshed_at = segment.last_refreshed_at
    assert current(segment) == {ann.pk}
    announced.clear()

    ingest(
        workspace,
        django_capture_on_commit_callbacks,
        event("c_ticket_chosen", bob, occurred_at=now - timedelta(hours=1)),
    )
    assert current(segment) == {ann.pk, bob.pk}
    assert announced == [{"segment_id": segment.pk, "entered": [bob.pk], "exited": []}]

    ingest(
        workspace,
        django_capture_on_commit_callbacks,
        event("c_checkout", ann, occurred_at=now - timedelta(minutes=30)),
    )
    assert current(segment) == {bob.pk}
    stay = SegmentMembership.objects.get(segment=segment, person=ann)
    assert stay.exited_at is not None
    assert announced[-1] == {"segment_id": segment.pk, "entered": [], "exited": [ann.pk]}

    segment.refresh_from_db()
    assert segment.last_refreshed_at == refreshed_at  # no full refresh happened
    assert segment.member_count == 1


def test_unrelated_events_do_not_touch_the_segment(
    workspace, tickets, announced, django_capture_on_commit_callbacks
):
    """A batch of a definition the rules do not read leaves the segment alone."""
    other = DefinitionFactory(workspace=workspace, definition_id="c_other")
    ann = PersonFactory(workspace=workspace)
    segment = segment_create(workspace=workspace, name="Abandoners", rules=ABANDONERS)
    assert f"event:{other.pk}" not in segment.dependencies
    ingest(workspace, django_capture_on_commit_callbacks, event("c_other", ann))
    assert announced == []
    assert current(segment) == set()


def test_profile_changes_enter_and_exit(workspace, announced, django_capture_on_commit_callbacks):
    """Changing the country, adding or removing a tag, adding an identifier re-evaluates the
    person for the segments reading those."""
    ann = PersonFactory(workspace=workspace, standard={"country": "FR"})
    segment = segment_create(
        workspace=workspace,
        name="German subscribers",
        rules={
            "all": [
                {"attribute": "country", "operator": "equals", "value": "DE"},
                {"tag": "newsletter", "operator": "has"},
                {"identifier": "email", "operator": "has"},
            ]
        },
    )
    with django_capture_on_commit_callbacks(execute=True):
        person_update(person=ann, standard={"country": "DE"})
    with django_capture_on_commit_callbacks(execute=True):
        tags_add(person=ann, names=["newsletter"])
    assert current(segment) == set()
    with django_capture_on_commit_callbacks(execute=True):
        identifier_add(person=ann, type="email", value="ann@example.com")
    assert current(segment) == {ann.pk}
    with django_capture_on_commit_callbacks(execute=True):
        tags_remove(person=ann, names=["newsletter"])
    assert current(segment) == set()
    assert [(p["entered"], p["exited"]) for p in announced] == [([ann.pk], []), ([], [ann.pk])]


def test_merge_reevaluates_the_survivor_and_moves_static_lists(
    workspace, django_capture_on_commit_callbacks
):
    """After a merge the survivor has both profiles' tags and is re-evaluated; a static list
    the merged person was on now holds the survivor."""
    ann = PersonFactory(workspace=workspace, standard={"country": "DE"})
    dup = PersonFactory(workspace=workspace, tags=["newsletter"])
    dynamic = segment_create(
        workspace=workspace,
        name="DE news",
        rules={
            "all": [
                {"attribute": "country", "operator": "equals", "value": "DE"},
                {"tag": "newsletter", "operator": "has"},
            ]
        },
    )
    static = segment_create(workspace=workspace, name="VIP list", kind=Segment.Kind.STATIC)
    segment_members_add(segment=static, person_ids=[dup.pk])
    with django_capture_on_commit_callbacks(execute=True):
        people_merge(workspace=workspace, survivor=ann, merged=dup)
    assert current(dynamic) == {ann.pk}
    assert current(static) == {ann.pk}
    static.refresh_from_db()
    assert static.member_count == 1


def test_full_refresh_diff_records_exit_and_re_entry(workspace):
    """A full refresh ends the stay of who no longer qualifies and opens a new stay for who
    qualifies again; one current row per person."""
    ann = PersonFactory(workspace=workspace, standard={"country": "DE"})
    segment = segment_create(
        workspace=workspace,
        name="DE",
        rules={"all": [{"attribute": "country", "operator": "equals", "value": "DE"}]},
    )
    assert segment_refresh(segment=segment).entered == (ann.pk,)
    person_update(person=ann, standard={"country": "FR"})
    assert segment_refresh(segment=segment).exited == (ann.pk,)
    person_update(person=ann, standard={"country": "DE"})
    result = segment_refresh(segment=segment)
    assert (result.entered, result.exited, result.member_count) == ((ann.pk,), (), 1)
    rows = SegmentMembership.objects.filter(segment=segment, person=ann).order_by("id")
    assert [r.exited_at is None for r in rows] == [False, True]
    assert segment_refresh(segment=segment).entered == ()  # idempotent


def test_segment_of_segments_follows_its_parts(workspace):
    """A segment including a static list and excluding a dynamic segment is evaluated with
    the list's members and the other segment's rules now; adding to the list enters the person
    in the including segment at once."""
    ann = PersonFactory(workspace=workspace, standard={"country": "DE"})
    bob = PersonFactory(workspace=workspace, standard={"country": "FR"})
    germans = segment_create(
        workspace=workspace,
        name="Germans",
        rules={"all": [{"attribute": "country", "operator": "equals", "value": "DE"}]},
    )
    invited = segment_create(workspace=workspace, name="Invited", kind=Segment.Kind.STATIC)
    guests = segment_create(
        workspace=workspace,
        name="Foreign guests",
        rules={
            "all": [
                {"segment": invited.pk, "operator": "member"},
                {"segment": germans.pk, "operator": "not_member"},
            ]
        },
    )
    assert set(guests.dependencies) == {
        f"segment:{invited.pk}",
        f"segment:{germans.pk}",
        "attribute:country",
    }
    segment_refresh(segment=guests)
    assert current(guests) == set()
    segment_members_add(segment=invited, person_ids=[ann.pk, bob.pk])
    assert current(guests) == {bob.pk}  # ann is German: excluded by the other segment's rules


def test_people_created_by_ingestion_enter_profile_only_segments(
    workspace, tickets, announced, django_capture_on_commit_callbacks
):
    """A customer first seen in an event batch is checked against every segment, including
    ones that read no event: "has an email, country not DE" takes them in at once, and an
    existing visitor who logs in (gets an email with the batch) too."""
    from people.inputs import PersonRef

    visitor = PersonFactory(workspace=workspace, external_id=None)
    segment = segment_create(
        workspace=workspace,
        name="Reachable abroad",
        rules={
            "all": [
                {"identifier": "email", "operator": "has"},
                {"none": [{"attribute": "country", "operator": "equals", "value": "DE"}]},
            ]
        },
    )
    segment_refresh(segment=segment)
    announced.clear()
    ingest(
        workspace,
        django_capture_on_commit_callbacks,
        event(
            "c_ticket_searched",
            PersonRef(external_id="new-1", identifiers={"email": "new@example.com"}),
        ),
        event(
            "c_ticket_searched", PersonRef(id=visitor.pk, identifiers={"email": "v@example.com"})
        ),
    )
    newcomer = SegmentMembership.objects.get(
        segment=segment, exited_at__isnull=True, person__external_id="new-1"
    ).person_id
    assert current(segment) == {newcomer, visitor.pk}
    assert sorted(p for a in announced for p in a["entered"]) == sorted([newcomer, visitor.pk])
    segment.refresh_from_db()
    assert segment.member_count == 2


def test_erasure_ends_stays_at_once(workspace, announced, django_capture_on_commit_callbacks):
    """Erasing a member lowers the member count immediately and announces the exit; the stay
    rows go with the person."""
    from people.erasure import person_erase

    ann = PersonFactory(workspace=workspace, standard={"country": "DE"})
    bob = PersonFactory(workspace=workspace, standard={"country": "DE"})
    segment = segment_create(
        workspace=workspace,
        name="DE",
        rules={"all": [{"attribute": "country", "operator": "equals", "value": "DE"}]},
    )
    listed = segment_create(workspace=workspace, name="List", kind=Segment.Kind.STATIC)
    segment_members_add(segment=listed, person_ids=[ann.pk])
    segment_refresh(segment=segment)
    announced.clear()
    with django_capture_on_commit_callbacks(execute=True):
        person_erase(person=ann, requested_by="dpo@example.com")
    segment.refresh_from_db()
    listed.refresh_from_db()
    assert (segment.member_count, listed.member_count) == (1, 0)
    assert sorted((a["segment_id"], a["exited"]) for a in announced) == [
        (segment.pk, [ann.pk]),
        (listed.pk, [ann.pk]),
    ]
    assert not SegmentMembership.objects.filter(person_id=ann.pk).exists()
    assert current(segment) == {bob.pk}


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_erasure_waits_for_a_refresh_entering_the_person():
    """Stays carry no foreign key: an erasure waits for a refresh that holds the segment and
    is entering the person (its audience read before the erasure), then takes that stay
    with the person too, leaving no stay of someone erased."""
    import threading

    from django.db import connection, connections, transaction

    from people.erasure import person_erase
    from tests.factories import WorkspaceFactory

    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL row locking")
    workspace = WorkspaceFactory(slug="erase-race")
    ann = PersonFactory(workspace=workspace)
    segment = segment_create(workspace=workspace, name="List", kind=Segment.Kind.STATIC)
    locked, erasing = threading.Event(), threading.Event()
    failures: list[BaseException] = []

    def refresh_entering_ann() -> None:
        try:
            with transaction.atomic():
                Segment.objects.select_for_update().get(pk=segment.pk)
                locked.set()
                erasing.wait(timeout=10)
                # What a refresh does once its audience (read before the erasure) is known.
                SegmentMembership.objects.create(
                    workspace=workspace,
                    segment=segment,
                    person_id=ann.pk,
                    entered_at=timezone.now(),
                )
        except BaseException as exc:  # asserted below
            failures.append(exc)
        finally:
            connections.close_all()

    refresher = threading.Thread(target=refresh_entering_ann)
    refresher.start()
    assert locked.wait(timeout=10)
    timer = threading.Timer(0.3, erasing.set)  # the erasure is under way by then
    timer.start()
    person_erase(person=ann, requested_by="dpo@example.com")
    refresher.join(timeout=10)
    assert failures == []
    assert erasing.is_set()  # the erasure could not finish before the refresh committed
    assert not SegmentMembership.objects.filter(person_id=ann.pk).exists()


def test_incremental_update_costs_the_same_for_more_segments(
    workspace, tickets, django_assert_max_num_queries
):
    """Re-evaluating a batch of people reads them once for all segments concerned: the number
    of statements does not grow with the number of segments (only their validation does)."""
    from people.segments.incremental import segments_reevaluate

    people = [PersonFactory(workspace=workspace, standard={"country": "DE"}) for _ in range(5)]
    for n in range(4):
        segment_create(
            workspace=workspace,
            name=f"DE {n}",
            rules={
                "all": [
                    {"attribute": "country", "operator": "equals", "value": "DE"},
                    {"attribute": "score", "operator": "gt", "value": -1 - n},
                ]
            },
        )
    # lock + read + current + per segment: insert, count, outbox (4 × 3) + savepoints
    with django_assert_max_num_queries(20):
        results = segments_reevaluate(workspace_id=workspace.pk, person_ids=[p.pk for p in people])
    assert [len(r.entered) for r in results] == [5, 5, 5, 5]
    with django_assert_max_num_queries(5):  # savepoint, lock, read, current, release
        results = segments_reevaluate(workspace_id=workspace.pk, person_ids=[p.pk for p in people])
    assert all(r.entered == r.exited == () for r in results)
