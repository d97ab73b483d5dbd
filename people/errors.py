"""Error codes only segments have; the shared ones and ``ServiceError`` are in ``cdp.errors``."""

from enum import StrEnum


class SegmentErrorCode(StrEnum):
    """Codes of rule-tree and segment errors; stable strings carried by API errors."""

    INVALID_RULE = "invalid_rule"
    UNKNOWN_ATTRIBUTE = "unknown_attribute"
    INVALID_OPERATOR = "invalid_operator"
    INVALID_VALUE = "invalid_value"
    UNKNOWN_SEGMENT = "unknown_segment"
    SEGMENT_CYCLE = "segment_cycle"
    SEGMENT_KIND = "segment_kind"
