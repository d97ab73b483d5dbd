"""CORS of the browser endpoints (SPEC §2): which web pages may send to the Segment-compatible
routes, as each workspace's ``allowed_origins`` says (a list of ``scheme://host[:port]``, or
``*`` for any page; empty by default).

A preflight (``OPTIONS``) carries no key, so it cannot name a workspace: it is allowed for an
origin that **some** workspace allows (or when some workspace allows any page), and refused
(no ``Access-Control-Allow-*`` headers, so the browser stops) otherwise. That answer only lets
the browser send; the request that follows carries the key, and ``origin_check`` decides by the
key's own workspace: a request from an origin that workspace does not allow stores nothing
(403), even when it needed no preflight (analytics-next posts ``text/plain``, which browsers
send without asking first). Answers carry ``Access-Control-Allow-Origin`` echoing the origin
only when the key's workspace allows it. A page on this server's own origin needs no
permission. Requests without ``Origin`` (server-side clients) are not concerned.

The decision needs the key, read from the request's body for analytics-next, so it lives in
the endpoint kernel (``events.compat.common.compat_endpoint``) rather than in a CORS
middleware, which answers before any view reads the key.
"""

from django.http import HttpResponse

from people.models import Workspace

ANY = "*"
MAX_AGE = 86400
ALLOW_METHODS = "POST, OPTIONS"
ALLOW_HEADERS = "Authorization, Content-Type, Content-Encoding"
# Longest header list echoed from ``Access-Control-Request-Headers``.
MAX_REQUESTED_HEADERS = 1000


def request_origin(request) -> str | None:
    """The ``Origin`` a browser sent, or None (server-side clients send none)."""
    origin = request.META.get("HTTP_ORIGIN", "").strip()
    return origin or None


def _own_origin(request, origin: str) -> bool:
    return origin.lower() == f"{request.scheme}://{request.get_host()}".lower()


def origin_allowed(workspace: Workspace, origin: str, request=None) -> bool:
    """Whether ``workspace`` lets pages of ``origin`` send (its own origin always may)."""
    allowed = workspace.allowed_origins or []
    if ANY in allowed or origin.lower() in allowed:
        return True
    return request is not None and _own_origin(request, origin)


def preflight_allowed(request, origin: str) -> bool:
    """Whether any workspace allows ``origin`` (a preflight names no workspace)."""
    if _own_origin(request, origin):
        return True
    origin = origin.lower()
    lists = Workspace.objects.exclude(allowed_origins=[]).values_list("allowed_origins", flat=True)
    return any(ANY in origins or origin in origins for origins in lists if origins)


def cors_allow(response: HttpResponse, origin: str) -> HttpResponse:
    """Let the page of ``origin`` read ``response``."""
    response["Access-Control-Allow-Origin"] = origin
    response["Vary"] = "Origin"
    return response


def preflight_response(request) -> HttpResponse:
    """Answer ``OPTIONS``: 204, with the ``Access-Control-Allow-*`` headers for an origin some
    workspace allows; without them (the browser then refuses to send) for any other."""
    response = HttpResponse(status=204)
    response["Allow"] = ALLOW_METHODS
    response["Vary"] = "Origin"
    origin = request_origin(request)
    if origin is not None and preflight_allowed(request, origin):
        cors_allow(response, origin)
        response["Access-Control-Allow-Methods"] = ALLOW_METHODS
        # The libraries add headers of their own (RudderStack: AnonymousId, SentAt,
        # Rsa-Retry-*; analytics-next: X-Retry-Count) that the endpoints ignore: an allowed
        # page may send any.
        requested = request.META.get("HTTP_ACCESS_CONTROL_REQUEST_HEADERS", "")
        extra = requested[:MAX_REQUESTED_HEADERS].strip()
        response["Access-Control-Allow-Headers"] = ALLOW_HEADERS + (f", {extra}" if extra else "")
        response["Access-Control-Max-Age"] = str(MAX_AGE)
    return response
