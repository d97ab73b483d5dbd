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


FUNNEL_TEMPLATES: list[FunnelTemplate] = [
    FunnelTemplate(
        key="ticket-purchase",
        name="Ticket purchase: search → choose → checkout",
        description="Searched tickets, chose tickets, checked out, within 7 days of the search.",
        query={
            "steps": ["c_ticket_searched", "c_ticket_chosen", "c_checkout"],
            "conversionWindow": {"days": 7},
        },
        requires=("c_ticket_searched", "c_ticket_chosen", "c_checkout"),
    ),
    FunnelTemplate(
        key="ticket-purchase-demo",
        name="Ticket purchase (demo data's events)",
        description="The same journey with the demo workspace's definition ids.",
        query={
            "steps": ["c_search_tickets", "c_choose_tickets", "c_checkout"],
            "conversionWindow": {"days": 7},
        },
        requires=("c_search_tickets", "c_choose_tickets", "c_checkout"),
    ),
    FunnelTemplate(
        key="shop-purchase",
        name="Shop purchase: view → cart → purchase",
        description="Viewed an item, added it to the cart and bought it within a day.",
        query={
            "steps": ["itemViewed", "addedToCart", "itemPurchased"],
            "conversionWindow": {"days": 1},
        },
        requires=("itemViewed", "addedToCart", "itemPurchased"),
    ),
]
