"""The built-in catalogue of §4: templates and standard person, channel and product events.

Loaded by a data migration as definitions without a workspace, shared by every workspace.
Each entry is ``(definition_id, name, kind, category, [(key, type, required), …])``.
"""

TEXT, NUMBER, BOOLEAN, DATETIME = "text", "number", "boolean", "datetime"

UTM = [
    (k, TEXT, False)
    for k in ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
]

TEMPLATES = [
    ("itemViewed", "Item viewed", [("itemId", NUMBER, True), ("duration", NUMBER, False)]),
    (
        "itemPurchased",
        "Item purchased",
        [
            ("itemId", NUMBER, True),
            ("amount", NUMBER, False),
            ("price", NUMBER, False),
            ("profit", NUMBER, False),
        ],
    ),
    ("ratingAdded", "Rating added", [("itemId", NUMBER, True), ("rating", NUMBER, False)]),
    (
        "addedToCart",
        "Added to cart",
        [("itemId", NUMBER, True), ("amount", NUMBER, False), ("price", NUMBER, False)],
    ),
    ("addedToFavourites", "Added to favourites", [("itemId", NUMBER, True)]),
    (
        "viewPortionSet",
        "View portion set",
        [("itemId", NUMBER, True), ("portion", NUMBER, False), ("sessionId", TEXT, False)],
    ),
]

PERSON_EVENTS = [
    (
        "sessionStarted",
        "Session started",
        [
            ("sessionId", TEXT, False),
            ("sessionStart", DATETIME, False),
            ("sessionType", TEXT, False),
            *UTM,
        ],
    ),
    (
        "pageView",
        "Page view",
        [
            ("pageTitle", TEXT, False),
            ("url", TEXT, False),
            ("domain", TEXT, False),
            ("path", TEXT, False),
            ("deviceType", TEXT, False),
            ("timestamp", DATETIME, False),
            ("browserName", TEXT, False),
            ("browserVersion", TEXT, False),
            ("browserOS", TEXT, False),
            ("referrer", TEXT, False),
            ("browserLanguage", TEXT, False),
            ("websiteLanguage", TEXT, False),
        ],
    ),
    (
        "sessionEnded",
        "Session ended",
        [
            ("sessionId", TEXT, False),
            ("sessionEnd", DATETIME, False),
            ("sessionDuration", NUMBER, False),
            ("sessionType", TEXT, False),
            *UTM,
        ],
    ),
    (
        "personMerged",
        "Person merged",
        [("mergedPersonId", NUMBER, False), ("mergedExternalId", TEXT, False)],
    ),
    ("nameChanged", "Name changed", [("oldValue", TEXT, False), ("newValue", TEXT, False)]),
    (
        "locationChanged",
        "Location changed",
        [("attribute", TEXT, False), ("oldValue", TEXT, False), ("newValue", TEXT, False)],
    ),
    (
        "standardAttributeChanged",
        "Standard attribute changed",
        [("attribute", TEXT, False), ("oldValue", TEXT, False), ("newValue", TEXT, False)],
    ),
    ("tagAdded", "Tag added", [("tagName", TEXT, True)]),
    ("tagRemoved", "Tag removed", [("tagName", TEXT, True)]),
    (
        "customAttributeChanged",
        "Custom attribute changed",
        [("attribute", TEXT, False), ("oldValue", TEXT, False), ("newValue", TEXT, False)],
    ),
]
for _code, _label in (
    ("email", "Email address"),
    ("push", "Push contact"),
    ("facebook", "Facebook contact"),
    ("phone", "Phone number"),
):
    for _verb in ("Added", "Changed", "Removed"):
        PERSON_EVENTS.append(
            (
                f"{_code}{_verb}",
                f"{_label} {_verb.lower()}",
                [("value", TEXT, False), ("oldValue", TEXT, False)],
            )
        )
PERSON_EVENTS.append(
    (
        "otherContactChanged",
        "Other contact information changed",
        [("type", TEXT, False), ("value", TEXT, False), ("oldValue", TEXT, False)],
    )
)

_MESSAGE = [("messageId", TEXT, False), ("campaignId", TEXT, False)]
_CLICK = [*_MESSAGE, ("url", TEXT, False)]
CHANNEL_EVENTS = []
for _prefix, _label, _verbs in (
    (
        "email",
        "Email",
        ("Sent", "Delivered", "Opened", "LinkClicked", "Unsubscribed", "Complained"),
    ),
    ("push", "Push", ("Sent", "Delivered", "Opened")),
    ("sms", "SMS", ("Sent", "Delivered", "LinkClicked")),
    ("whatsapp", "WhatsApp", ("Sent", "Delivered", "Opened", "LinkClicked")),
    ("viber", "Viber", ("Sent", "Delivered", "Opened", "LinkClicked")),
    ("messenger", "Messenger", ("Sent", "Delivered", "Opened", "LinkClicked")),
    ("line", "LINE", ("Sent", "LinkClicked")),
    ("mms", "MMS", ("Sent", "Delivered")),
    ("app", "Mobile app", ("Personalize", "Depersonalize", "Install", "Uninstall", "Launch")),
    (
        "voice",
        "Voice",
        (
            "CallInitiated",
            "CallAnswered",
            "CallNotAnswered",
            "Busy",
            "AnsweredByMachine",
            "InboundCallAnswered",
            "ForwardedBusy",
            "ForwardedNotAnswered",
            "IvrPlayed",
            "IvrCollected",
            "UserHangUp",
        ),
    ),
):
    for _verb in _verbs:
        _words = "".join(f" {c.lower()}" if c.isupper() else c for c in _verb).strip()
        CHANNEL_EVENTS.append(
            (f"{_prefix}{_verb}", f"{_label}: {_words}", _CLICK if "Clicked" in _verb else _MESSAGE)
        )

PRODUCT_EVENTS = [
    (
        "flowEntered",
        "Flow entered",
        [("flowId", NUMBER, False), ("flowName", TEXT, False), ("runId", NUMBER, False)],
    ),
    (
        "flowExited",
        "Flow exited",
        [
            ("flowId", NUMBER, False),
            ("flowName", TEXT, False),
            ("runId", NUMBER, False),
            ("reason", TEXT, False),
        ],
    ),
    (
        "formSubmitted",
        "Form submitted",
        [
            ("formId", TEXT, False),
            ("formName", TEXT, False),
            # The page the form was on (the web SDK's form tracking fills them in).
            ("pageTitle", TEXT, False),
            ("url", TEXT, False),
            ("path", TEXT, False),
        ],
    ),
]


# Values filled in when a built-in event leaves them out, and numeric ranges it must respect.
DEFAULTS = {
    "sessionStarted": {"utm_source": "direct", "sessionType": "web"},
    "sessionEnded": {"utm_source": "direct", "sessionType": "web"},
}
RANGES = {"viewPortionSet": {"portion": (0.0, 1.0)}, "ratingAdded": {"rating": (0.0, None)}}


def catalogue_entries():
    """Yield ``(definition_id, name, kind, category, properties)`` for the whole catalogue."""
    for code, name, props in TEMPLATES:
        yield code, name, "template", "", props
    for category, entries in (
        ("person", PERSON_EVENTS),
        ("channel", CHANNEL_EVENTS),
        ("product", PRODUCT_EVENTS),
    ):
        for code, name, props in entries:
            yield code, name, "standard", category, props


def load_catalogue(apps, schema_editor) -> None:
    """Create or complete the built-in definitions (used by the data migration)."""
    definition_model = apps.get_model("events", "EventDefinition")
    property_model = apps.get_model("events", "PropertyDefinition")
    for code, name, kind, category, props in catalogue_entries():
        definition, _ = definition_model.objects.get_or_create(
            workspace=None,
            definition_id=code,
            defaults={"name": name, "kind": kind, "category": category},
        )
        for position, (key, type_, required) in enumerate(props):
            property_model.objects.get_or_create(
                definition=definition,
                key=key,
                defaults={"name": key, "type": type_, "required": required, "position": position},
            )


def is_enabled_by_default(kind: str, category: str) -> bool:
    """Templates and channel events are on unless switched off; other standard events off."""
    return kind != "standard" or category == "channel"
