"""Error codes only flows have; the shared ones and ``ServiceError`` are in ``cdp.errors``.

Element and graph problems reuse the generic codes (``required``, ``invalid``,
``unknown_definition``, ``definition_disabled``…) and the segment codes for rule trees
(``people.errors``).
"""

from enum import StrEnum


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
