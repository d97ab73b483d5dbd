"""Evaluate a flow's questions: waits for events, branches, trigger filters.

Event and person conditions reuse the segment rule checker and compiler
(``people.segments``), so a flow asks exactly what a segment with the same rule would: a
wait for an event becomes "``event`` occurred since the run reached the element", a branch's
``rules`` are a segment tree restricted to the run's person. Conditions on the trigger event
(``track_event_*``) are compared in Python against the run's context.
"""

from datetime import datetime

from people.segments import conditions as c
from people.segments.compiler import Context, event_rows, people_matching
from people.segments.rules import rules_validate
from people.segments.values import check_value

DATA_PREFIX = "track_event_data."


def _holds(workspace, person_id: int, rules: dict, now: datetime) -> bool:
    tree = rules_validate(workspace=workspace, rules=rules).tree
    return people_matching(
        workspace_id=workspace.pk, tree=tree, now=now, person_ids=[person_id]
    ).exists()


def _since(item: dict, since: datetime, occurred: bool) -> dict:
    node = {"event": item["event"], "window": {"from": since.isoformat()}}
    if item.get("where"):
        node["where"] = item["where"]
    if occurred and item.get("count"):
        node["count"] = item["count"]
    if not occurred:
        node["occurred"] = False
    return node


def wait_answer(
    *, workspace, person_id: int, config: dict, since: datetime, now: datetime, timed_out: bool
) -> str | None:
    """Return ``met``, ``timeout``, or None (keep waiting) for a wait-for-event element.

    Without ``notOccurred`` the answer is ``met`` as soon as every ``occurred`` condition holds
    since ``since``; with it, the answer waits for the window's end.
    """
    occurred = [_since(item, since, True) for item in config.get("occurred", [])]
    not_occurred = [_since(item, since, False) for item in config.get("notOccurred", [])]
    if not_occurred and not timed_out:
        return None
    if _holds(workspace, person_id, {"all": occurred + not_occurred}, now):
        return "met"
    return "timeout" if timed_out else None


def _compare(value_type: str, operator: str, actual, expected, now: datetime) -> bool:
    if operator == "is_set":
        return actual not in (None, "")
    if operator == "is_not_set":
        return actual in (None, "")
    if actual in (None, ""):
        return operator == "not_equals"
    if value_type == c.NUMBER:
        try:
            actual = float(actual)
        except (TypeError, ValueError):
            return operator == "not_equals"
    if operator == "equals":  # exact, as segment conditions compare (contains: any case)
        return actual == expected
    if operator == "not_equals":
        return not _compare(value_type, "equals", actual, expected, now)
    if operator == "contains":
        return str(expected).casefold() in str(actual).casefold()
    if operator == "starts_with":
        return str(actual).casefold().startswith(str(expected).casefold())
    if operator == "in":
        return any(_compare(value_type, "equals", actual, v, now) for v in expected)
    if operator == "gt":
        return actual > expected
    if operator == "gte":
        return actual >= expected
    if operator == "lt":
        return actual < expected
    if operator == "lte":
        return actual <= expected
    if operator == "between":
        return expected[0] <= actual <= expected[1]
    return False


def trigger_fields(context: dict, name: str):
    """Return the trigger event's value that a branch condition names."""
    if name.startswith(DATA_PREFIX):
        return (context.get("track_event_data") or {}).get(name[len(DATA_PREFIX) :])
    return context.get(name)


def _trigger_holds(items: list, context: dict, now: datetime) -> bool:
    for item in items:
        actual = trigger_fields(context, item["trigger"])
        value_type = (
            c.NUMBER
            if item["trigger"] in ("track_event_count", "track_event_seq")
            or (isinstance(actual, int | float) and not isinstance(actual, bool))
            else c.BOOLEAN
            if isinstance(actual, bool)
            else c.TEXT
        )
        expected = item.get("value")
        if item["operator"] not in ("is_set", "is_not_set"):
            expected = check_value(value_type, item["operator"], expected, "trigger")
        if not _compare(value_type, item["operator"], actual, expected, now):
            return False
    return True


def branch_answers(*, workspace, runs: list, config: dict, now: datetime) -> dict[int, str]:
    """``yes`` or ``no`` per run: ``yes`` when every trigger condition holds for the run's
    trigger event and the rules hold for its person (asked for all the runs in one query)."""
    passing = [run for run in runs if _trigger_holds(config.get("trigger", []), run.context, now)]
    rules = config.get("rules")
    if rules and passing:
        tree = rules_validate(workspace=workspace, rules=rules).tree
        matched = set(
            people_matching(
                workspace_id=workspace.pk,
                tree=tree,
                now=now,
                person_ids=sorted({r.person_id for r in passing}),
            ).values_list("pk", flat=True)
        )
        passing = [run for run in passing if run.person_id in matched]
    yes = {run.pk for run in passing}
    return {run.pk: "yes" if run.pk in yes else "no" for run in runs}


def events_passing(
    *, workspace, event_ids: list[int], code: str, where: list, now: datetime
) -> set[int]:
    """Which of the stored events ``event_ids`` pass a trigger's property conditions."""
    if not where:
        return set(event_ids)
    node = rules_validate(
        workspace=workspace, rules={"all": [{"event": code, "where": where}]}
    ).tree.children[0]
    return set(
        event_rows(node, Context(workspace_id=workspace.pk, now=now))
        .filter(pk__in=event_ids)
        .values_list("pk", flat=True)
    )
