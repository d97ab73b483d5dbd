"""Error codes of the flows app (codes of ``cdp.errors`` re-exported).

Element and graph problems reuse the generic codes (``required``, ``invalid``,
``unknown_definition``, ``definition_disabled``…) and the segment codes for rule trees; these
are the ones only flows have.
"""

from enum import StrEnum

from cdp.errors import ErrorCode, FieldError, ServiceError
from people.errors import SegmentErrorCode


class FlowErrorCode(StrEnum):
    """Stable strings carried by API errors about flows."""

    INVALID_CONFIG = "invalid_config"
    NOT_OCCURRED_ALONE = "not_occurred_alone"
    INVALID_TEMPLATE = "invalid_template"
    INVALID_EDGE = "invalid_edge"
    TRIGGER_COUNT = "trigger_count"
    UNREACHABLE = "unreachable_element"
    MISSING_EXIT = "missing_exit"
    FLOW_CYCLE = "flow_cycle"
    FLOW_STATE = "flow_state"
    FLOW_NOT_EDITABLE = "flow_not_editable"
    RUNS_WAITING = "runs_waiting"
    SCHEDULE_PASSED = "schedule_passed"
    URL_REFUSED = "url_refused"  # a webhook to an internal or unresolvable host (§11)


__all__ = ["ErrorCode", "FieldError", "FlowErrorCode", "SegmentErrorCode", "ServiceError"]
