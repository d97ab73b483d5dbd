"""The event messages of the Segment-compatible API (``track``, ``page``, ``screen``) mapped to
``EventInput`` and ingested in one ``events_ingest`` call; ``events.compat.segment`` hands
them over per request.

- ``userId`` is the person's external id, ``anonymousId`` an ``anonymous_id`` identifier;
  ``messageId`` is the event's external id (retries are duplicates); ``timestamp`` the occurred
  time (else ``originalTimestamp`` corrected by ``sentAt`` for clock skew, else now);
  ``context.sessionId`` the session id and ``context.library.name`` the source.
- ``track``: ``event`` names a definition as ``events.selectors.definition_code_for`` says. A
  name with no definition follows the workspace's ``unknown_track``: ``auto_define`` creates
  ``c_<snake_case>`` with up to ``CDP_MAX_CUSTOM_PROPERTIES`` properties typed from the
  request's messages with that name (text, number, boolean, first seen first; objects, lists
  and nulls are not inferred); ``reject`` logs the message. Properties are passed on as sent:
  validation refuses properties a definition lacks, so such a message is rejected into the
  ingestion log naming the property (the marketer can add it, within the limit) rather than
  stored with part of its data silently dropped.
- ``page``: the built-in ``pageView`` (recorded where the workspace enabled it, §4) with
  ``url``, ``path``, ``pageTitle`` (``title``, else ``name``), ``referrer`` and ``domain`` from
  the properties or ``context.page`` (RudderStack's ``"$direct"`` is no referrer),
  ``browserLanguage`` from ``context.locale`` and device and browser from
  ``context.userAgent``; other page properties are not kept (``pageView`` has no place for
  them).
- ``screen``: a track of ``Screen Viewed`` (``c_screen_viewed``) with the screen's ``name`` (and
  ``category``) added to its properties.
"""

from contextlib import suppress
from urllib.parse import urlsplit

from django.conf import settings

from cdp.errors import ErrorCode, FieldError, ServiceError
from events.compat.segment_people import id_value, ids
from events.ingestion import events_ingest
from events.inputs import EventInput
from events.models import Event, PropertyDefinition
from events.selectors import definition_code_for, definition_get
from events.services import PROPERTY_KEY_RE, PropertyInput, definition_create
from events.useragent import user_agent_properties
from events.validation import parse_time
from people.inputs import PersonRef
from people.models import Workspace

ENDPOINT = Event.Origin.SEGMENT
SCREEN_EVENT = "Screen Viewed"
PAGE_DEFINITION = "pageView"
# RudderStack's browser SDK sends this as the referrer (and referring domain) of a page reached
# directly: it means no referrer.
NO_REFERRER = "$direct"


def _occurred(message: dict, now):
    """Segment's timestamp: ``timestamp`` as sent, else ``originalTimestamp`` moved by the
    client's clock skew (``sentAt`` against our clock), else None (now)."""
    if message.get("timestamp") not in (None, ""):
        return message["timestamp"]
    original = message.get("originalTimestamp")
    if original in (None, ""):
        return None
    sent_at = message.get("sentAt")
    if sent_at in (None, ""):
        return original
    original_time, error = parse_time(original, "originalTimestamp")
    sent_time, sent_error = parse_time(sent_at, "sentAt")
    if error or sent_error:
        return original  # the service names what is wrong with it
    return now - (sent_time - original_time)


def _page_properties(message: dict, context: dict) -> dict:
    properties = message.get("properties")
    properties = properties if isinstance(properties, dict) else {}
    page = context.get("page") if isinstance(context.get("page"), dict) else {}

    def pick(*keys):
        for source in (properties, page):
            for key in keys:
                value = source.get(key)
                if value not in (None, "") and not (key == "referrer" and value == NO_REFERRER):
                    return value
        return None

    mapped = {
        "url": pick("url"),
        "path": pick("path"),
        "referrer": pick("referrer"),
        "pageTitle": pick("title") or message.get("name") or None,
        "browserLanguage": context.get("locale"),
    }
    if isinstance(mapped["url"], str):
        with suppress(ValueError):  # not a URL: the url property is kept as sent
            mapped["domain"] = urlsplit(mapped["url"]).hostname
    if isinstance(context.get("userAgent"), str):
        mapped.update(user_agent_properties(context["userAgent"]))
    return {key: value for key, value in mapped.items() if value not in (None, "")}


def _event_fields(message: dict, now) -> dict:
    """The fields every event message maps the same way (person, time, ids)."""
    context = message.get("context") if isinstance(message.get("context"), dict) else {}
    user_id, anonymous_id = ids(message)
    library = context.get("library")
    source = library.get("name") if isinstance(library, dict) else None
    session = context.get("sessionId")
    return {
        "person": PersonRef(
            external_id=user_id, identifiers={"anonymous_id": anonymous_id} if anonymous_id else {}
        ),
        "occurred_at": _occurred(message, now),
        "external_id": id_value(message.get("messageId"), "messageId"),
        "session_id": session if isinstance(session, str | int) else None,
        "source": source[:255] if isinstance(source, str) else "",
    }


def _track_name(message: dict) -> str | None:
    if message["type"] == "screen":
        return SCREEN_EVENT
    name = message.get("event")
    return name.strip() if isinstance(name, str) and name.strip() else None


def _track_properties(message: dict):
    properties = message.get("properties")
    properties = {} if properties is None else properties
    if message["type"] == "screen" and isinstance(properties, dict):
        extra = {
            key: message[key]
            for key in ("name", "category")
            if message.get(key) not in (None, "") and key not in properties
        }
        properties = {**extra, **properties}
    return properties


def segment_events_ingest(
    *, workspace: Workspace, events: list[tuple[int, dict]], batch: bool, now, trusted: bool = True
) -> list[tuple[dict, list[FieldError]]]:
    """Map the event messages, define unknown tracks when the workspace says so, and ingest
    them in one call; return the messages rejected before ingestion (it logs its own)."""
    rejected = []
    mapped: list[tuple[dict, dict, str | None, object]] = []
    codes: dict[str, str] = {}
    for i, message in events:
        prefix = f"batch[{i}]." if batch else ""
        user_id, anonymous_id = ids(message, prefix)
        message_id = id_value(message.get("messageId"), f"{prefix}messageId")
        errors = [e for e in (user_id, anonymous_id, message_id) if isinstance(e, FieldError)]
        if errors:
            rejected.append((message, errors))
            continue
        if not user_id and not anonymous_id:
            rejected.append(
                (
                    message,
                    [
                        FieldError(
                            f"{prefix}userId", "no_user_anon_id", "send userId and/or anonymousId"
                        )
                    ],
                )
            )
            continue
        if message["type"] == "page":
            context = message.get("context")
            mapped.append(
                (
                    message,
                    {
                        "definition_id": PAGE_DEFINITION,
                        "properties": _page_properties(
                            message, context if isinstance(context, dict) else {}
                        ),
                    },
                    None,
                    None,
                )
            )
            continue
        name = _track_name(message)
        if name is None:
            rejected.append(
                (
                    message,
                    [
                        FieldError(
                            f"{prefix}event", ErrorCode.REQUIRED, "track calls need an event name"
                        )
                    ],
                )
            )
            continue
        if name not in codes:
            codes[name] = definition_code_for(workspace=workspace, name=name)
        properties = _track_properties(message)
        mapped.append(
            (message, {"definition_id": codes[name], "properties": properties}, name, prefix)
        )

    refusals = _definitions_ensure(workspace, mapped)
    inputs, payloads = [], []
    for message, fields, name, prefix in mapped:
        refusal = refusals.get(fields["definition_id"]) if name is not None else None
        if refusal is not None:
            rejected.append(
                (message, [FieldError(f"{prefix}event", refusal.code, refusal.message)])
            )
            continue
        inputs.append(EventInput(**fields, **_event_fields(message, now)))
        payloads.append(message)
    if inputs:
        events_ingest(
            workspace=workspace, events=inputs, origin=ENDPOINT, payloads=payloads, trusted=trusted
        )
    return rejected


def _definitions_ensure(workspace: Workspace, mapped) -> dict[str, FieldError]:
    """Create the tracked definitions that do not exist when the workspace auto-defines;
    return why each missing one is refused (reject policy, or a name no code can carry)."""
    samples: dict[str, list] = {}
    names: dict[str, str] = {}
    for _, fields, name, _ in mapped:
        if name is not None:
            samples.setdefault(fields["definition_id"], []).append(fields["properties"])
            names.setdefault(fields["definition_id"], name)
    refusals = {}
    for code, name in names.items():
        if definition_get(workspace=workspace, definition_id=code) is not None:
            continue
        if code == "c_":
            refusals[code] = FieldError(
                "event",
                ErrorCode.INVALID_DEFINITION_ID,
                f"{name!r} has no letters or digits (a-z, 0-9) to make a definition id of",
            )
        elif workspace.unknown_track != Workspace.UnknownTrack.AUTO_DEFINE:
            refusals[code] = FieldError(
                "event",
                ErrorCode.UNKNOWN_DEFINITION,
                f"unknown event {name!r}: this workspace rejects unknown track events; "
                f"create the definition {code} (or switch the workspace to auto-define)",
            )
        else:
            try:
                definition_create(
                    workspace=workspace,
                    definition_id=code,
                    name=name[:200],
                    description=f"Defined automatically by a Segment-compatible track call "
                    f"named {name[:200]!r}.",
                    properties=_inferred_properties(samples[code]),
                )
            except ServiceError as exc:
                if exc.first.code != ErrorCode.DUPLICATE:  # else created meanwhile: fine
                    refusals[code] = exc.first
    return refusals


def _property_type(value) -> str | None:
    if isinstance(value, bool):
        return PropertyDefinition.Type.BOOLEAN
    if isinstance(value, int | float):
        return PropertyDefinition.Type.NUMBER
    if isinstance(value, str):
        return PropertyDefinition.Type.TEXT
    return None


def _inferred_properties(samples: list) -> list[PropertyInput]:
    """Type the properties the samples carry, first seen first, within the custom limit."""
    limit = settings.CDP_MAX_CUSTOM_PROPERTIES
    types: dict[str, str] = {}
    for properties in samples:
        if not isinstance(properties, dict):
            continue
        for key, value in properties.items():
            if len(types) >= limit:
                return [PropertyInput(key=k, type=t) for k, t in types.items()]
            kind = _property_type(value)
            if key not in types and kind and isinstance(key, str) and PROPERTY_KEY_RE.match(key):
                types[key] = kind
    return [PropertyInput(key=k, type=t) for k, t in types.items()]
