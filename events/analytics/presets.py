"""Ready-made funnels (the seed documents' examples), offered by the API and the admin page.

The ticket journey is Infobip's abandoned-cart example ("search tickets" page, then "choose
tickets", but not "checkout"); it needs the workspace's own definitions, named in
``requires`` (the segments' templates and the bench use these ids, the demo data its own).
The shop funnel uses the built-in product events.
"""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class FunnelTemplate:
    key: str
    name: str
    description: str
    query: dict
    requires: tuple[str, ...] = field(default=())


def funnel_template(
    key: str, name: str, description: str, steps: list[str], days: int
) -> FunnelTemplate:
    """A funnel through ``steps`` converting within ``days``; it requires every step's
    definition."""
    return FunnelTemplate(
        key=key,
        name=name,
        description=description,
        query={"steps": steps, "conversionWindow": {"days": days}},
        requires=tuple(steps),
    )


FUNNEL_TEMPLATES: list[FunnelTemplate] = [
    funnel_template(
        "ticket-purchase",
        "Ticket purchase: search → choose → checkout",
        "Searched tickets, chose tickets, checked out, within 7 days of the search.",
        ["c_ticket_searched", "c_ticket_chosen", "c_checkout"],
        days=7,
    ),
    funnel_template(
        "ticket-purchase-demo",
        "Ticket purchase (demo data's events)",
        "The same journey with the demo workspace's definition ids.",
        ["c_search_tickets", "c_choose_tickets", "c_checkout"],
        days=7,
    ),
    funnel_template(
        "shop-purchase",
        "Shop purchase: view → cart → purchase",
        "Viewed an item, added it to the cart and bought it within a day.",
        ["itemViewed", "addedToCart", "itemPurchased"],
        days=1,
    ),
]
