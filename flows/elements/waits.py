"""Wait elements: a fixed time, or until events happen (with a timeout).

    wait            {"duration": {"days": 0, "hours": 1, "minutes": 30}}     -> next
    wait_for_event  {"occurred": [{"event": "c_ticket_chosen", "where": […],
                                   "count": {"operator": ">=", "value": 1}}],
                     "notOccurred": [{"event": "c_checkout", "where": […]}],
                     "within": {"days": 1}}                                  -> met | timeout

The window ``within`` starts when the run reaches the element. Without ``notOccurred`` the run
goes on by ``met`` as soon as every ``occurred`` condition holds, or by ``timeout`` when the
window ends. With ``notOccurred`` the answer is known only when the window ends: ``met`` if
every ``occurred`` condition held and none of the ``notOccurred`` events happened, otherwise
``timeout``. That is why "not occurred" needs an "occurred" beside it: alone it could only be
decided by the timeout, which is a plain wait.
"""

from flows.elements.common import (
    Context,
    duration,
    fail,
    only_keys,
    require_list,
    require_object,
    whole_number,
)
from flows.elements.triggers import event_conditions
from flows.errors import FlowErrorCode

MAX_COUNT = 1_000_000
NOT_OCCURRED_ALONE = (
    '"not occurred" cannot stand alone: with no "occurred" event to wait for, the element '
    "could only be decided when the time runs out, which is a plain wait. Pair it with the "
    'event it follows, e.g. "chose tickets" (occurred), then "checkout" (not occurred) '
    'within a day; or use a wait followed by a branch on "event not occurred".'
)


def wait_validate(config: dict, path: str, ctx: Context) -> set[str]:
    only_keys(config, path, ("duration",))
    if "duration" not in config:
        raise fail(f"{path}.duration", 'give the time to wait, e.g. {"hours": 1, "minutes": 30}')
    duration(config["duration"], f"{path}.duration")
    return set()


def _count(raw, path: str) -> None:
    raw = require_object(raw, path, '{"operator": ">=", "value": 1}')
    only_keys(raw, path, ("operator", "value"))
    operator = raw.get("operator")
    if operator not in (">=", ">", "="):
        raise fail(
            f"{path}.operator",
            'compare the count with ">=", ">" or "=" (waiting '
            "for fewer events than one is waiting for none: use notOccurred)",
        )
    low = 0 if operator == ">" else 1
    whole_number(
        raw.get("value"), f"{path}.value", low=low, high=MAX_COUNT, what="the number of events"
    )


def wait_for_event_validate(config: dict, path: str, ctx: Context) -> set[str]:
    only_keys(config, path, ("occurred", "notOccurred", "within"))
    occurred = require_list(
        config.get("occurred"), f"{path}.occurred", what="events that should occur"
    )
    not_occurred = require_list(
        config.get("notOccurred"), f"{path}.notOccurred", what="events that should not occur"
    )
    if not occurred:
        if not_occurred:
            raise fail(f"{path}.notOccurred", NOT_OCCURRED_ALONE, FlowErrorCode.NOT_OCCURRED_ALONE)
        raise fail(
            f"{path}.occurred",
            'name at least one event to wait for, e.g. [{"event": "c_checkout"}]',
        )
    if "within" not in config:
        raise fail(
            f"{path}.within",
            'give how long to wait at most, e.g. {"days": 1}; the timeout exit is taken after that',
        )
    duration(config["within"], f"{path}.within")
    dependencies: set[str] = set()
    for key, items, allowed in (
        ("occurred", occurred, ("event", "where", "count")),
        ("notOccurred", not_occurred, ("event", "where")),
    ):
        for i, item in enumerate(items):
            at = f"{path}.{key}[{i}]"
            item = require_object(item, at, '{"event": "c_checkout"}')
            only_keys(item, at, allowed)
            if "count" in item:
                _count(item["count"], f"{at}.count")
            dependencies |= event_conditions(item, at, ctx)
    return dependencies
