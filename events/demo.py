"""Demo data for the embedded default: one workspace, people and 90 days of events.

Everything goes through the services (people through ``person_create``, events through the
one ingestion service), so the demo exercises the same path as production traffic.
"""

import random
from collections.abc import Callable
from datetime import timedelta

from django.utils import timezone

from events.catalogue import PERSON_EVENTS, PRODUCT_EVENTS
from events.ingestion import events_ingest
from events.inputs import EventInput
from events.models import Channel, Event, EventDefinition
from events.services import PropertyInput, definition_create, definition_set_enabled
from people.inputs import PersonRef
from people.models import AttributeDefinition, Person, Workspace
from people.services import attribute_definition_create, person_create
from people.workspaces import workspace_create

FIRST = [
    "Ana",
    "Ben",
    "Chen",
    "Dara",
    "Eva",
    "Femi",
    "Gao",
    "Hana",
    "Ivan",
    "Jia",
    "Kai",
    "Lena",
    "Mia",
    "Noor",
    "Omar",
    "Pia",
    "Qing",
    "Rui",
    "Sara",
    "Tom",
    "Uma",
    "Vik",
    "Wen",
    "Yan",
]
LAST = [
    "Li",
    "Wang",
    "Smith",
    "Garcia",
    "Müller",
    "Rossi",
    "Kim",
    "Sato",
    "Novak",
    "Silva",
    "Zhang",
    "Khan",
    "Dubois",
    "Jensen",
    "Horvat",
    "Ivanova",
]
PLACES = [
    ("CN", "Shanghai"),
    ("CN", "Beijing"),
    ("HR", "Zagreb"),
    ("DE", "Berlin"),
    ("GB", "London"),
    ("US", "New York"),
    ("FR", "Paris"),
    ("BR", "São Paulo"),
]
TAGS = ["vip", "newsletter", "churn-risk", "mobile-first", "b2b", "early-adopter"]
PATHS = [
    "/",
    "/mortgage",
    "/shoes",
    "/tickets/search",
    "/tickets/choose",
    "/checkout",
    "/blog",
    "/pricing",
    "/contact",
]
CUSTOM = [
    ("c_apply_card", "Applied for a card", [PropertyInput("touter", "Field agent id")]),
    ("c_search_tickets", "Searched tickets", [PropertyInput("destination", "Destination")]),
    (
        "c_choose_tickets",
        "Chose tickets",
        [PropertyInput("destination", "Destination"), PropertyInput("seats", "Seats", "number")],
    ),
    (
        "c_checkout",
        "Checked out",
        [
            PropertyInput("amount", "Amount", "number", required=True),
            PropertyInput("currency", "Currency"),
        ],
    ),
    (
        "c_newsletter_signup",
        "Signed up for the newsletter",
        [
            PropertyInput("source", "Form", "text"),
            PropertyInput("confirmed", "Confirmed", "boolean"),
        ],
    ),
]


def demo_load(
    *,
    slug: str = "demo",
    people: int = 500,
    events: int = 20_000,
    days: int = 90,
    seed: int = 42,
    progress: Callable[[int], None] | None = None,
) -> Workspace | None:
    """Create the demo workspace; return None when it already has people."""
    workspace = Workspace.objects.filter(slug=slug).first()
    if workspace is not None and Person.objects.filter(workspace=workspace).exists():
        return None
    rng = random.Random(seed)
    workspace = workspace or workspace_create(slug=slug, name="Demo shop")
    web = Channel.objects.create(
        workspace=workspace, name="Website", app_type="web", app_key="demo-web"
    )
    Channel.objects.create(workspace=workspace, name="Shop app", app_type="app", app_key="demo-app")
    for code, name, props in CUSTOM:
        definition_create(
            workspace=workspace,
            definition_id=code,
            name=name,
            properties=props,
            channel=web,
            default_score=2 if code == "c_checkout" else 1,
            lifecycle_stage="customer" if code == "c_checkout" else "",
        )
    for code, *_ in PERSON_EVENTS + PRODUCT_EVENTS:
        definition = EventDefinition.objects.get(workspace=None, definition_id=code)
        definition_set_enabled(workspace=workspace, definition=definition, enabled=True)
    attribute_definition_create(
        workspace=workspace,
        key="loyalty_tier",
        name="Loyalty tier",
        type=AttributeDefinition.Type.TEXT,
    )
    attribute_definition_create(
        workspace=workspace,
        key="lifetime_value",
        name="Lifetime value",
        type=AttributeDefinition.Type.NUMBER,
    )
    attribute_definition_create(
        workspace=workspace,
        key="newsletter",
        name="Newsletter",
        type=AttributeDefinition.Type.BOOLEAN,
    )

    person_ids = []
    for i in range(people):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        country, city = rng.choice(PLACES)
        identifiers = {"email": f"{first}.{last}.{i}@example.com".lower()}
        if rng.random() < 0.6:
            identifiers["phone"] = f"+3859{rng.randrange(10_000_000, 99_999_999)}"
        person = person_create(
            workspace=workspace,
            external_id=f"CUST-{i:05d}" if rng.random() < 0.7 else None,
            identifiers=identifiers,
            standard={
                "firstName": first,
                "lastName": last,
                "country": country,
                "city": city,
                "gender": rng.choice(["female", "male", "other", ""]),
                "language": rng.choice(["en", "zh", "hr", "de"]),
            },
            attributes={
                "loyalty_tier": rng.choice(["bronze", "silver", "gold"]),
                "lifetime_value": round(rng.uniform(0, 5000), 2),
                "newsletter": rng.random() < 0.4,
            },
            tags=rng.sample(TAGS, rng.randrange(0, 3)),
        )
        person_ids.append(person.pk)

    now = timezone.now()
    generators = _generators(rng)
    batch: list[EventInput] = []
    for n in range(events):
        pid = person_ids[
            min(int(rng.paretovariate(1.2)) - 1, people - 1)
            if rng.random() < 0.5
            else rng.randrange(people)
        ]
        occurred = now - timedelta(seconds=rng.randrange(days * 86_400))
        code, props = rng.choice(generators)()
        batch.append(
            EventInput(
                definition_id=code,
                person=PersonRef(id=pid),
                occurred_at=occurred,
                properties=props,
                session_id=f"s{pid}-{occurred:%Y%m%d}",
                tags="buyer" if code == "c_checkout" else "",
            )
        )
        if len(batch) == 1000 or n == events - 1:
            events_ingest(workspace=workspace, events=batch, origin=Event.Origin.SYSTEM)
            if progress:
                progress(len(batch))
            batch = []
    return workspace


def _generators(rng: random.Random):
    def page_view():
        path = rng.choices(PATHS, weights=[30, 8, 10, 8, 5, 3, 10, 6, 2])[0]
        return "pageView", {
            "url": f"https://shop.example.com{path}",
            "path": path,
            "domain": "shop.example.com",
            "pageTitle": path.strip("/") or "Home",
            "deviceType": rng.choice(["desktop", "mobile", "tablet"]),
            "browserName": rng.choice(["Chrome", "Firefox", "Safari"]),
        }

    def session_started():
        return "sessionStarted", {
            "sessionType": "web",
            "utm_source": rng.choice(["direct", "google", "newsletter", "wechat"]),
        }

    def item_viewed():
        return "itemViewed", {"itemId": rng.randrange(1, 200), "duration": rng.randrange(2, 300)}

    def added_to_cart():
        return "addedToCart", {
            "itemId": rng.randrange(1, 200),
            "amount": rng.randrange(1, 4),
            "price": round(rng.uniform(5, 300), 2),
        }

    def purchased():
        return "itemPurchased", {
            "itemId": rng.randrange(1, 200),
            "amount": 1,
            "price": round(rng.uniform(5, 300), 2),
        }

    def search():
        return "c_search_tickets", {"destination": rng.choice(["PEK", "ZAG", "LHR", "JFK"])}

    def choose():
        return "c_choose_tickets", {
            "destination": rng.choice(["PEK", "ZAG", "LHR"]),
            "seats": rng.randrange(1, 5),
        }

    def checkout():
        return "c_checkout", {"amount": round(rng.uniform(20, 900), 2), "currency": "EUR"}

    def apply_card():
        return "c_apply_card", {"touter": f"t{rng.randrange(1, 30):05d}"}

    def email_opened():
        return "emailOpened", {"messageId": f"m{rng.randrange(10**6)}"}

    weighted = (
        [page_view] * 40
        + [session_started] * 10
        + [item_viewed] * 15
        + [added_to_cart] * 6
        + [purchased] * 3
        + [search] * 6
        + [choose] * 4
        + [checkout] * 2
        + [apply_card] * 2
        + [email_opened] * 8
    )
    return weighted
