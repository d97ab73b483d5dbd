"""The native error shape ``{"error": {"code", "message", "field"}}`` for every API error."""

import logging

from django.core.exceptions import ObjectDoesNotExist
from django.db import DataError, connection
from django.db.models import ProtectedError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler, set_rollback

from events.errors import ErrorCode, ServiceError

logger = logging.getLogger(__name__)


class ApiError(exceptions.APIException):
    """An error with a code and the field it concerns."""

    def __init__(self, message: str, *, code: str = "invalid", field: str | None = None,
                 status_code: int = status.HTTP_400_BAD_REQUEST):
        self.status_code = status_code
        self.error_code = code
        self.field = field
        super().__init__(detail=message, code=code)


def error_body(code: str, message: str, field: str | None = None, **extra) -> dict:
    return {"error": {"code": str(code), "message": message, "field": field, **extra}}


def service_error_response(exc: ServiceError, status_code: int = 400) -> Response:
    first = exc.first
    others = [e.as_dict() for e in exc.errors]
    return Response(error_body(first.code, first.message, first.field, errors=others),
                    status=status_code)


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
    if isinstance(exc, DataError | connection.Database.DataError):
        # A value the database cannot store (NUL characters, an integer out of range) that
        # validation let through: still the caller's input, so a 400, never a 500.
        logger.warning("data error answered as 400: %s", exc)
        set_rollback()
        return Response(error_body(ErrorCode.INVALID, "a value is out of range or contains "
                                   "characters that cannot be stored (such as NUL)"),
                        status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, ProtectedError):
        # A row other rows keep with on_delete=PROTECT (a segment a flow exits on).
        set_rollback()
        users = sorted({f"{o._meta.verbose_name} {str(o)!r}" for o in exc.protected_objects})
        return Response(error_body(ErrorCode.PROTECTED, "cannot be deleted while in use by "
                                   + ", ".join(users[:10])),
                        status=status.HTTP_409_CONFLICT)
    if isinstance(exc, ObjectDoesNotExist):
        # The row the request named was there when the view looked it up and gone when the
        # service locked it: deleted by a concurrent request.
        set_rollback()
        owner = type(exc).__qualname__.partition(".DoesNotExist")
        what = owner[0].lower() if owner[1] else "object"
        return Response(error_body("not_found", f"the {what} was deleted while this request "
                                   "ran"), status=status.HTTP_404_NOT_FOUND)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, ApiError):
        response.data = error_body(exc.error_code, str(exc.detail), exc.field)
    elif isinstance(exc, exceptions.ValidationError):
        message, code, field = _first_detail(exc.detail)
        response.data = error_body(code, str(message), field)
    else:
        detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
        code = getattr(detail, "code", None) or getattr(exc, "default_code", "error")
        response.data = error_body(code, str(detail), None)
    return response
