"""The native error shape ``{"error": {"code", "message", "field"}}`` for every API error."""

__all__ = ["ApiError", "api_exception_handler", "database_unavailable", "error_body"]

import logging

from django.core.exceptions import ObjectDoesNotExist
from django.db import DataError, InterfaceError, OperationalError, connection
from django.db.models import ProtectedError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler, set_rollback

from cdp.api.exceptions import ApiError
from cdp.errors import ErrorCode, ServiceError

logger = logging.getLogger(__name__)

# Seconds a client is asked to wait after a 503 for an unavailable database.
RETRY_AFTER_SECONDS = 5
# PostgreSQL error classes and codes that say the server cannot serve now, whatever was sent:
# connection exceptions (08), insufficient resources (53), operator intervention such as a
# shutdown or a cancelled statement (57), system errors (58), and conflicts with concurrent
# work that outlasted the retries (serialization failure, deadlock, lock not available).
UNAVAILABLE_CLASSES = ("08", "53", "57", "58")
UNAVAILABLE_STATES = {"40001", "40P01", "55P03"}
# ``program_limit_exceeded`` (54): a statement or value too large for the server, which input
# caused (an index row too long, too many values): the caller's, like a DataError.
INPUT_LIMIT_CLASS = "54"


def _sqlstate(exc) -> str | None:
    return getattr(exc.__cause__, "sqlstate", None) or getattr(exc, "sqlstate", None)


def database_unavailable(exc: BaseException) -> bool:
    """True when ``exc`` says the database cannot be reached or cannot serve now (an outage, a
    restart, too many connections, a lock or deadlock that outlasted the retries), as opposed
    to an error the request's input caused."""
    if isinstance(exc, InterfaceError | connection.Database.InterfaceError):
        return True  # the connection is closed or broken
    if not isinstance(exc, OperationalError | connection.Database.OperationalError):
        return False
    if connection.vendor == "sqlite":
        text = str(exc).lower()
        return "locked" in text or "unable to open" in text or "disk i/o" in text
    state = _sqlstate(exc)
    if state is None:  # raised by the client: refused, lost or timed-out connection
        return True
    return state.startswith(UNAVAILABLE_CLASSES) or state in UNAVAILABLE_STATES


def unavailable_body() -> dict:
    return error_body("unavailable", "the database is unavailable; retry later")


def error_body(code: str, message: str, field: str | None = None, **extra) -> dict:
    return {"error": {"code": str(code), "message": message, "field": field, **extra}}


def service_error_response(exc: ServiceError, status_code: int = 400) -> Response:
    first = exc.first
    others = [e.as_dict() for e in exc.errors]
    # An error about the input as a whole (not an object, say) names the body.
    field = first.field or ("body" if status_code == 400 else first.field)
    return Response(error_body(first.code, first.message, field, errors=others), status=status_code)


def _first_detail(detail, prefix: str = ""):
    """Walk a DRF validation detail to its first message and the field path leading there."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            field = key if key != "non_field_errors" else ""
            path = f"{prefix}.{field}" if prefix and field else (field or prefix)
            return _first_detail(value, path)
    if isinstance(detail, list) and detail:
        if all(isinstance(d, str) for d in detail):
            return detail[0], getattr(detail[0], "code", "invalid"), prefix or None
        for i, value in enumerate(detail):
            if value:
                return _first_detail(value, f"{prefix}[{i}]" if prefix else f"[{i}]")
    return str(detail), getattr(detail, "code", "invalid"), prefix or None


def api_exception_handler(exc, context):
    """DRF exception handler answering in the native error shape."""
    if isinstance(exc, ServiceError):
        return service_error_response(exc)
    if database_unavailable(exc):
        logger.error("database unavailable, answered 503: %s", exc)
        set_rollback()
        return Response(
            unavailable_body(),
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    if isinstance(exc, DataError | connection.Database.DataError) or (
        isinstance(exc, OperationalError) and (_sqlstate(exc) or "").startswith(INPUT_LIMIT_CLASS)
    ):
        # A value the database cannot store (NUL characters, an integer out of range) that
        # validation let through: still the caller's input, so a 400, never a 500.
        logger.warning("data error answered as 400: %s", exc)
        set_rollback()
        return Response(
            error_body(
                ErrorCode.INVALID,
                "a value is out of range or contains "
                "characters that cannot be stored (such as NUL)",
            ),
            status=status.HTTP_400_BAD_REQUEST,
        )
    if isinstance(exc, ProtectedError):
        # A row other rows keep with on_delete=PROTECT (a segment a flow exits on).
        set_rollback()
        users = sorted({f"{o._meta.verbose_name} {str(o)!r}" for o in exc.protected_objects})
        return Response(
            error_body(
                ErrorCode.PROTECTED, "cannot be deleted while in use by " + ", ".join(users[:10])
            ),
            status=status.HTTP_409_CONFLICT,
        )
    if isinstance(exc, ObjectDoesNotExist):
        # The row the request named was there when the view looked it up and gone when the
        # service locked it: deleted by a concurrent request.
        set_rollback()
        owner = type(exc).__qualname__.partition(".DoesNotExist")
        what = owner[0].lower() if owner[1] else "object"
        return Response(
            error_body("not_found", f"the {what} was deleted while this request ran"),
            status=status.HTTP_404_NOT_FOUND,
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, ApiError):
        response.data = error_body(exc.error_code, str(exc.detail), exc.field)
    elif isinstance(exc, exceptions.ValidationError):
        message, code, field = _first_detail(exc.detail)
        response.data = error_body(code, str(message), field or "body")
    else:
        detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
        code = getattr(detail, "code", None) or getattr(exc, "default_code", "error")
        response.data = error_body(code, str(detail), None)
    return response
