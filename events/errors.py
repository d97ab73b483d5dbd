"""Error codes of the events app: the kernel's (``cdp.errors``), under the name events code
has always imported them by."""

from cdp.errors import (
    JSON_TYPE_NAMES,
    ErrorCode,
    FieldError,
    ServiceError,
    json_type_error,
    json_typed,
)

__all__ = [
    "JSON_TYPE_NAMES",
    "ErrorCode",
    "FieldError",
    "ServiceError",
    "json_type_error",
    "json_typed",
]
