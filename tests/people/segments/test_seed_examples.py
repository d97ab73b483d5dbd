"""The seed examples of SPEC §7, built on generated data: members equal a plain Python
computation over the same facts, and the explanation of a member and of a non-member agrees
with the evaluation."""

import pytest

from people.segments.explain import segment_explain
from people.segments.models import SegmentMembership
from people.segments.presets import TEMPLATES, template_get
from people.segments.refresh import segment_refresh
from people.segments.services import segment_create

pytestmark = pytest.mark.django_db


def expected(world, key: str) -> set[int]:
    """The audience of template ``key``, computed in Python from the generated facts."""
    result = set()
    for person in world.people:
        pid = person.pk
        views = lambda since, test=None, pid=pid: world.count(  # noqa: E731
            pid, "pageView", since, test
        )
        if key == "mortgage-interest":
            ok = views(world.days(30), lambda p: p == "/mortgage") >= 5
        elif key == "shoe-browsers":
            ok = views(world.days(7), lambda p: p.lower().startswith("/shoes")) >= 3
        elif key == "lapsed-visitors":
            last = world.last(pid, "pageView")
            ok = last is not None and last < world.days(45)
        elif key == "ticket-abandoners":
            week = world.days(7)
            ok = (
                world.count(pid, "c_ticket_searched", week) >= 1
                and world.count(pid, "c_ticket_chosen", week) >= 1
                and world.count(pid, "c_checkout", week) == 0
            )
        elif key == "heavy-readers":
            ok = views(world.days(30)) > 100
        else:
            ok = world.country[pid] == "DE" and "newsletter" in world.tags[pid]
        if ok:
            result.add(pid)
    return result


def members(segment) -> set[int]:
    return set(
        SegmentMembership.objects.filter(segment=segment, exited_at__isnull=True).values_list(
            "person_id", flat=True
        )
    )


@pytest.mark.parametrize("key", [t.key for t in TEMPLATES])
def test_seed_example_members_match_python(world, key):
    """A full refresh of each seed example selects exactly the people the plain computation
    selects (and neither nobody nor everybody)."""
    template = template_get(key)
    segment = segment_create(workspace=world.workspace, name=template.name, rules=template.rules)
    result = segment_refresh(segment=segment, now=world.now)
    want = expected(world, key)
    assert 0 < len(want) < len(world.people), (key, len(want))
    assert members(segment) == want
    assert set(result.entered) == want
    assert result.member_count == len(want)
    segment.refresh_from_db()
    assert (segment.member_count, segment.refresh_status, segment.refresh_progress) == (
        len(want),
        "idle",
        100,
    )


@pytest.mark.parametrize("key", [t.key for t in TEMPLATES])
def test_explanation_agrees_with_evaluation(world, key):
    """For a member and a non-member, the explanation's outcome is the membership, the root
    outcome combines its conditions, and event figures show the person's real counts."""
    template = template_get(key)
    segment = segment_create(workspace=world.workspace, name=template.name, rules=template.rules)
    segment_refresh(segment=segment, now=world.now)
    want = expected(world, key)
    member = next(p for p in world.people if p.pk in want)
    outsider = next(p for p in world.people if p.pk not in want)
    for person, inside in ((member, True), (outsider, False)):
        explanation = segment_explain(segment=segment, person=person, now=world.now)
        assert explanation.qualifies is inside
        assert explanation.member is inside
        root = explanation.outcome
        assert root.met is inside
        assert root.met == all(child.met for child in root.children)  # every root is "all"
        assert root.figure.startswith(f"{sum(ch.met for ch in root.children)} of ")
        if key == "mortgage-interest":
            count = world.count(person.pk, "pageView", world.days(30), lambda p: p == "/mortgage")
            assert root.children[0].figure == (
                f"{count} pageView with path is /mortgage in the last 30 days; needs >= 5"
            )
        if key == "heavy-readers":
            count = world.count(person.pk, "pageView", world.days(30))
            assert root.children[0].figure.startswith(f"{count} pageView in the last 30 days")
