"""Segment-compatible tracking API (§6): ``POST /v1/batch``, ``/v1/track``, ``/v1/identify``,
``/v1/page``, ``/v1/screen``, ``/v1/alias`` and ``/v1/group``, so that Segment and RudderStack
client libraries send here unchanged; also the short paths of Segment's browser library
(``SHORT_PATHS``: ``/v1/t`` is ``/v1/track`` and so on), whose bodies come as ``text/plain``.

The key is the Segment write key: HTTP Basic with the key as user name (``App``/``Bearer``
work too), or ``writeKey`` in the body; public and secret keys may both ingest, but a browser's
request (one with ``Origin``) needs a public key and an origin the workspace allows, and
``OPTIONS`` answers the CORS preflight (``events.compat.cors``). Bodies may be gzipped; the
body is read as JSON whatever its ``Content-Type`` says.

As Segment does, the API answers ``200 {"success": true}`` once the request is readable, and
per-message problems (no ``userId``/``anonymousId``, unknown event, invalid
property…) go to the ingestion log with the message as sent; only a missing or unknown key
(401), a key over its rate limit (429, which the clients retry), an unreadable body (400) and
the size limits (400 ``Exceed payload limit``: 32 KB per message as Segment;
``CDP_SEGMENT_MAX_BATCH_BYTES`` per batch, by default the ingest body bound of about 6 MiB
because RudderStack and PostHog clients send batches of up to 4–5 MiB and drop a refused one;
Segment's own 500 KB when set to 500000) fail the request. Errors answer ``{"code",
"message"}``; once the key is known, a refused body is kept in the ingestion log with the
reason and its beginning (or the offending message).

Identity messages (``identify``, ``alias``, ``group``) go through the people services, in
order (``events.compat.segment_people``); then the event messages (``track``, ``page``,
``screen``) of the request are ingested in one ``events_ingest`` call
(``events.compat.segment_events``), so a batch's events land on the people it identifies.
"""

import orjson
from django.conf import settings
from django.db import DataError, connection
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from cdp.api.errors import ApiError
from cdp.api.parsing import DEFAULT_MAX_BYTES, JsonError, json_parse, read_body
from cdp.errors import ErrorCode, FieldError
from events.compat.common import Answers, Rejected, compat_endpoint, json_response
from events.compat.cors import ALLOW_METHODS, preflight_response
from events.compat.segment_events import ENDPOINT, segment_events_ingest
from events.compat.segment_people import people_message_apply
from people.models import Workspace

MAX_MESSAGE_BYTES = 32 * 1024
MAX_BATCH_MESSAGES = 2500
# Read at most this much (before and after gunzip) unless the batch limit is set higher.
MAX_BODY_BYTES = DEFAULT_MAX_BYTES
TOO_LARGE = "Exceed payload limit"
# How much of a refused body the ingestion log keeps.
LOGGED_BODY_CHARS = 2000
EVENT_TYPES = ("track", "page", "screen")
# analytics-next posts to the first letter of the call's type (``b`` when batching).
SHORT_PATHS = {
    "t": "track",
    "p": "page",
    "i": "identify",
    "s": "screen",
    "g": "group",
    "a": "alias",
    "b": None,
}
PEOPLE_TYPES = ("identify", "alias", "group")


def segment_error(code: str, message: str, status: int = 400):
    return json_response({"code": code, "message": message}, status=status)


def max_batch_bytes() -> int:
    """``CDP_SEGMENT_MAX_BATCH_BYTES``, by default the ingest body bound."""
    return settings.CDP_SEGMENT_MAX_BATCH_BYTES or DEFAULT_MAX_BYTES


def _size(limit: int) -> str:
    return f"{limit // 1024} KB" if limit < 1024 * 1024 else f"{limit / 1024 / 1024:g} MiB"


def _beginning(raw: bytes) -> dict:
    return {"raw": raw[:LOGGED_BODY_CHARS].decode(errors="replace"), "bytes": len(raw)}


def _read(request, kind: str | None):
    """Return the parsed body or raise ApiError in Segment's terms (sizes are 400s)."""
    batch_limit = max_batch_bytes()
    bound = max(MAX_BODY_BYTES, batch_limit)
    try:
        raw = read_body(request, max_bytes=bound)
    except ApiError as exc:
        if exc.error_code == "body_too_large":
            # Including a small gzip body that would expand past the bound (a zip bomb).
            raise ApiError(f"{TOO_LARGE}: {exc.detail}", code="payload_too_large") from exc
        raise
    limit = batch_limit if kind is None else MAX_MESSAGE_BYTES
    if len(raw) > limit:
        raise Rejected(
            f"{TOO_LARGE}: {len(raw)} bytes, at most {_size(limit)} per "
            + ("batch" if kind is None else "message"),
            code="payload_too_large",
            payload=_beginning(raw),
        )
    if not raw.strip():
        raise Rejected(
            "the body is empty; send a JSON object", code="required", payload=_beginning(raw)
        )
    try:
        body = json_parse(raw)
    except JsonError as exc:
        raise Rejected(f"the body is {exc}", code="invalid_json", payload=_beginning(raw)) from exc
    if not isinstance(body, dict):
        raise Rejected(
            "the body must be a JSON object", code="invalid_json", payload={"body": body}
        )
    return _without_nul(body) if b"\\u0000" in raw else body


def _without_nul(value):
    """Drop NUL characters from every string: PostgreSQL cannot store them, and no tracked
    value means one; the rest of the message is kept."""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, list):
        return [_without_nul(v) for v in value]
    if isinstance(value, dict):
        return {_without_nul(k): _without_nul(v) for k, v in value.items()}
    return value


def _messages(body: dict, kind: str | None) -> list:
    if kind is not None:
        return [{**body, "type": kind}]
    batch = body.get("batch")
    if not isinstance(batch, list):
        raise Rejected('send {"batch": [ … ]}', code="invalid", field="batch", payload=body)
    for i, message in enumerate(batch):
        size = len(orjson.dumps(message))
        if size > MAX_MESSAGE_BYTES:
            raise Rejected(
                f"{TOO_LARGE}: batch[{i}] is {size} bytes, at most "
                f"{MAX_MESSAGE_BYTES // 1024} KB per message",
                code="payload_too_large",
                field=f"batch[{i}]",
                payload=message,
            )
    shared = body.get("context")
    if isinstance(shared, dict) and shared:
        # The batch's context is merged into each message's (the message's own values win).
        batch = [
            {**m, "context": {**shared, **(m.get("context") or {})}}
            if isinstance(m, dict) and isinstance(m.get("context") or {}, dict)
            else m
            for m in batch
        ]
    if body.get("sentAt"):
        batch = [{"sentAt": body["sentAt"], **m} if isinstance(m, dict) else m for m in batch]
    return batch


def _unauthorized(why: str):
    message = {
        "unknown": "unknown or revoked write key",
        "unreadable": "send the write key as the HTTP Basic user name",
        "missing": "send the write key as the HTTP Basic user name (or writeKey in the body)",
    }[why]
    return segment_error("unauthorized", message, 401)


def _too_many_requests():
    response = segment_error(
        "too_many_requests", "rate limit of this write key exceeded; retry later", 429
    )
    response["Retry-After"] = "1"
    return response


ANSWERS = Answers(
    unauthorized=_unauthorized,
    too_many_requests=_too_many_requests,
    refused=lambda exc: segment_error(exc.error_code, str(exc.detail), exc.status_code),
)


def segment_view(kind: str | None):
    """Return the view of one Segment route (``kind`` None: ``/v1/batch``)."""

    @compat_endpoint(
        endpoint=ENDPOINT,
        answers=ANSWERS,
        read=lambda request: _read(request, kind),
        body_key="writeKey",
        browser=True,
    )
    def post(request, call):
        body = call.body()
        body.pop("writeKey", None)  # a credential: never copied into the ingestion log
        messages = _messages(body, kind)
        try:
            rejected = segment_messages_apply(
                workspace=call.workspace,
                messages=messages,
                batch=kind is None,
                trusted=call.caller.is_secret,
            )
        except (DataError, connection.Database.DataError):
            # A value the database cannot store that validation let through: the caller's
            # input, so a 400 the client will not retry (NUL characters are dropped before).
            return segment_error("invalid", "a value is out of range or cannot be stored")
        call.reject(rejected)
        return json_response({"success": True})

    @csrf_exempt
    def view(request):
        if request.method == "OPTIONS":
            return preflight_response(request)
        if request.method != "POST":
            response = segment_error("method_not_allowed", "use POST", 405)
            response["Allow"] = ALLOW_METHODS
            return response
        return post(request)

    view.__name__ = f"segment_{kind or 'batch'}"
    return view


def segment_messages_apply(
    *, workspace: Workspace, messages: list, batch: bool, trusted: bool = True
) -> list[tuple[object, list[FieldError]]]:
    """Apply the identity messages in order, then ingest the events in one call; return the
    messages rejected before the ingestion service, for the ingestion log. ``trusted`` is
    False for a public key (SPEC §2: it never merges, moves or relabels a known person)."""
    now = timezone.now()
    rejected: list[tuple[object, list[FieldError]]] = []
    if len(messages) > MAX_BATCH_MESSAGES:
        extra = len(messages) - MAX_BATCH_MESSAGES
        rejected.append(
            (
                {"dropped": extra, "first": messages[MAX_BATCH_MESSAGES]},
                [
                    FieldError(
                        "batch",
                        ErrorCode.BATCH_TOO_LARGE,
                        f"at most {MAX_BATCH_MESSAGES} messages per batch; "
                        f"the last {extra} were dropped",
                    )
                ],
            )
        )
        messages = messages[:MAX_BATCH_MESSAGES]
    events: list[tuple[int, dict]] = []
    for i, message in enumerate(messages):
        prefix = f"batch[{i}]." if batch else ""
        kind = message.get("type") if isinstance(message, dict) else None
        if not isinstance(message, dict):
            errors = [
                FieldError(
                    prefix.rstrip(".") or "body", ErrorCode.INVALID_TYPE, "must be an object"
                )
            ]
        elif kind in EVENT_TYPES:
            events.append((i, message))
            continue
        elif kind in PEOPLE_TYPES:
            errors = people_message_apply(
                workspace=workspace, message=message, prefix=prefix, trusted=trusted
            )
        else:
            errors = [
                FieldError(
                    f"{prefix}type",
                    ErrorCode.INVALID,
                    "use one of " + ", ".join(EVENT_TYPES + PEOPLE_TYPES),
                )
            ]
        if errors:
            rejected.append((message, errors))
    if events:
        rejected += segment_events_ingest(
            workspace=workspace, events=events, batch=batch, now=now, trusted=trusted
        )
    return rejected
