"""Error codes of the people app (shared shape with ``events.errors``)."""

from events.errors import ErrorCode, FieldError, ServiceError

__all__ = ["ErrorCode", "FieldError", "ServiceError"]
