"""Request-level answers in the native error shape.

- Django refuses a body over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` by raising ``RequestDataTooBig``
  when a view first reads ``request.body``, which Django answers with an HTML 400. API callers
  get ``{"error": {"code", "message", "field"}}`` with 413 instead. The ingest routes read
  their bodies themselves with a larger bound (``cdp.api.parsing``).
- A NUL character in a query parameter (PostgreSQL cannot hold one in text) is a 400 naming
  the parameter before any view sees it.
- A database that cannot be reached (or cannot serve now) is a 503 with ``Retry-After`` from
  any view; the API's own exception handler answers the same for DRF views.
"""

import logging

import orjson
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpResponse, HttpResponseBadRequest

from cdp.api.errors import (
    RETRY_AFTER_SECONDS,
    database_unavailable,
    error_body,
    unavailable_body,
)

logger = logging.getLogger(__name__)


def _json(body: dict, status: int) -> HttpResponse:
    return HttpResponse(orjson.dumps(body), status=status, content_type="application/json")


def _is_admin(request) -> bool:
    return request.path.startswith("/admin/")


class JsonBodyTooLargeMiddleware:
    """Answer ``RequestDataTooBig`` raised by a view with a JSON 413 (the admin keeps
    Django's own page)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, RequestDataTooBig) or _is_admin(request):
            return None
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return _json(error_body("body_too_large", f"request body over {limit} bytes", "body"), 413)


class NulRefusedMiddleware:
    """Answer 400 for a NUL character in a query parameter's name or value (JSON naming the
    parameter; a plain 400 on admin pages). Path segments are the views' to check: each
    endpoint names its own path fields in its own error shape."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        query = request.META.get("QUERY_STRING", "")
        if "%00" in query or "\x00" in query:
            field = _nul_parameter(request)
            if field is not None:
                message = f"{field} must not contain NUL characters"
                if _is_admin(request):
                    return HttpResponseBadRequest(message, content_type="text/plain")
                return _json(error_body("invalid", message, field), 400)
        return self.get_response(request)


def _nul_parameter(request) -> str | None:
    for name, values in request.GET.lists():
        if "\x00" in name or any("\x00" in value for value in values):
            return name.replace("\x00", "\\0")
    return None


class DatabaseUnavailableMiddleware:
    """Answer a view's database outage (connection refused or lost, server shutting down,
    too many connections) with 503 and ``Retry-After`` instead of a 500: JSON in the native
    shape, plain text on admin pages."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not database_unavailable(exception):
            return None
        logger.error("database unavailable, answered 503: %s", exception)
        if _is_admin(request):
            response = HttpResponse(
                "The database is unavailable; retry in a moment.",
                status=503,
                content_type="text/plain",
            )
        else:
            response = _json(unavailable_body(), 503)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
