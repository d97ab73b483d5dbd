"""Ready-made segments marketers start from (SPEC §7 examples), offered by the API and admin.

Each template is a rule tree with example values to adjust (the country, the tag, the paths).
Built-in definitions are used where the catalogue has them (``pageView``); the ticket journey
needs the workspace's own events, named in ``requires`` (created with those ids, or the rules
edited to the workspace's names).
"""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class SegmentTemplate:
    key: str
    name: str
    description: str
    rules: dict
    requires: tuple[str, ...] = field(default=())


def _page_views(path_operator: str, path: str, count: int, window: dict) -> dict:
    return {
        "event": "pageView",
        "count": {"operator": ">=", "value": count},
        "window": window,
        "where": [{"property": "path", "operator": path_operator, "value": path}],
    }


TEMPLATES: list[SegmentTemplate] = [
    SegmentTemplate(
        key="mortgage-interest",
        name="Visited the mortgage page 5 times in 30 days",
        description="People comparing mortgages: at least 5 views of /mortgage in 30 days.",
        rules={"all": [_page_views("equals", "/mortgage", 5, {"lastDays": 30})]},
    ),
    SegmentTemplate(
        key="shoe-browsers",
        name="Viewed the shoes category 3 times in a week",
        description="At least 3 page views under /shoes in the last 7 days.",
        rules={"all": [_page_views("starts_with", "/shoes", 3, {"lastDays": 7})]},
    ),
    SegmentTemplate(
        key="lapsed-visitors",
        name="No visit in 45 days",
        description="Visited before, but no page view in the last 45 days.",
        rules={
            "all": [
                {
                    "aggregate": "pageView",
                    "field": "lastTime",
                    "operator": "older_than_days",
                    "value": 45,
                }
            ]
        },
    ),
    SegmentTemplate(
        key="ticket-abandoners",
        name="Searched tickets, chose tickets, no checkout",
        description="Searched and chose tickets in the last 7 days without checking out.",
        rules={
            "all": [
                {"event": "c_ticket_searched", "window": {"lastDays": 7}},
                {"event": "c_ticket_chosen", "window": {"lastDays": 7}},
                {"event": "c_checkout", "occurred": False, "window": {"lastDays": 7}},
            ]
        },
        requires=("c_ticket_searched", "c_ticket_chosen", "c_checkout"),
    ),
    SegmentTemplate(
        key="heavy-readers",
        name="More than 100 page views in 30 days",
        description="The most active visitors of the last 30 days.",
        rules={
            "all": [
                {
                    "event": "pageView",
                    "count": {"operator": ">", "value": 100},
                    "window": {"lastDays": 30},
                }
            ]
        },
    ),
    SegmentTemplate(
        key="country-and-tag",
        name="Country is X and tag Y added",
        description="People of one country carrying one tag (change DE and newsletter).",
        rules={
            "all": [
                {"attribute": "country", "operator": "equals", "value": "DE"},
                {"tag": "newsletter", "operator": "has"},
            ]
        },
    ),
]


def template_get(key: str) -> SegmentTemplate | None:
    return next((t for t in TEMPLATES if t.key == key), None)
