"""Shared pieces of the compatible endpoints: key lookup and JSON responses."""

import json

import orjson
from django.http import HttpResponse

from cdp.api.auth import KeyPrincipal, principal_for_key, raw_key_from_request
from cdp.api.errors import ApiError
from cdp.api.ratelimit import key_rate_limited
from events.errors import FieldError
from events.ingestion_log import ingestion_log_record


def json_response(data, status: int = 200) -> HttpResponse:
    try:
        content = orjson.dumps(data)
    except TypeError:  # an integer beyond 64 bits (jsonb gives 1e30 back as one)
        content = json.dumps(data, default=str).encode()
    return HttpResponse(content, status=status, content_type="application/json")


def log_unreadable(request, caller: KeyPrincipal, endpoint: str, exc: ApiError) -> None:
    """Keep a body that could not be read (not JSON, bad gzip, too large) in the ingestion log
    with the beginning of the bytes as sent."""
    raw = getattr(request, "cdp_raw_body", b"")[:2000].decode(errors="replace")
    ingestion_log_record(
        workspace=caller.workspace,
        endpoint=endpoint,
        rejected=[
            ({"raw": raw}, [FieldError(exc.field or "body", exc.error_code, str(exc.detail))])
        ],
    )


def over_limit(request, caller: KeyPrincipal) -> bool:
    """True when ``caller``'s key is over its rate limit (each endpoint answers 429 in its
    own system's shape)."""
    return key_rate_limited(request, caller)


def principal(request, *, allow_query_token: bool = False) -> KeyPrincipal | None:
    """The caller's key (any accepted form), or None when missing or unknown."""
    return principal_for_key(raw_key_from_request(request, allow_query_token=allow_query_token))
