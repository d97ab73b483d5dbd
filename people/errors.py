"""Error codes of the people app (codes of ``cdp.errors`` re-exported)."""

from enum import StrEnum

from cdp.errors import ErrorCode, FieldError, ServiceError, json_typed


class SegmentErrorCode(StrEnum):
    """Codes of rule-tree and segment errors; stable strings carried by API errors."""

    INVALID_RULE = "invalid_rule"
    UNKNOWN_ATTRIBUTE = "unknown_attribute"
    INVALID_OPERATOR = "invalid_operator"
    INVALID_VALUE = "invalid_value"
    UNKNOWN_SEGMENT = "unknown_segment"
    SEGMENT_CYCLE = "segment_cycle"
    SEGMENT_KIND = "segment_kind"


__all__ = ["ErrorCode", "FieldError", "SegmentErrorCode", "ServiceError", "json_typed"]
