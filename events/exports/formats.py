"""The fixed formats of export files (SPEC §9): times, file names and the names of fields.

Kept free of Django imports: the writer's hot loop, ``events.inputs`` and the tests use it.
"""

from datetime import UTC, datetime

# The mandatory fields, in the order every line starts with them ("occured" is spelled so).
MANDATORY_FIELDS = (
    "definitionId",
    "eventId",
    "sessionId",
    "personId",
    "externalPersonId",
    "occuredTime",
)
# After them, the event's own time (``occuredTime`` is when the platform received it).
EVENT_TIME_FIELD = "eventTime"
# Added to events a flow caused when the request asks for enrichWithMomentsInfo.
MOMENTS_FIELDS = ("campaignName", "elementName", "campaignStart", "flowElementId")
MAX_LINES = 50_000
EXTENSION = ".json.gz"


def export_time(value: datetime) -> str:
    """Return ``value`` in UTC as ``2022-09-14T15:00:35.495+0000``."""
    return value.astimezone(UTC).isoformat(timespec="milliseconds")[:-6] + "+0000"


def compact_time(text: str) -> str:
    """Turn an ``export_time`` string into ``yyyyMMddHHmmssSSS`` (for file names)."""
    return (
        text[0:4] + text[5:7] + text[8:10] + text[11:13] + text[14:16] + text[17:19] + text[20:23]
    )


def file_name(request_id: str, first: str, last: str, number: int = 1) -> str:
    """Return ``<requestId>-events-<first>-<last>.json.gz`` from two ``export_time`` strings;
    from ``number`` 2 on, ``-<number>`` comes before ``.json.gz``."""
    suffix = f"-{number}" if number > 1 else ""
    return f"{request_id}-events-{compact_time(first)}-{compact_time(last)}{suffix}{EXTENSION}"


def next_file_name(request_id: str, first: str, last: str, previous: str | None) -> str:
    """Return the name of the file after ``previous`` (the name of the export's file before,
    or None): ``file_name``, numbered one above ``previous`` when that shares its times.

    Files follow each other in time, so two share their first and last milliseconds only
    when every file between them does too: the file before is the only one to compare with.
    """
    stem = file_name(request_id, first, last)[: -len(EXTENSION)]
    number = 1
    if previous is not None and previous.startswith(stem) and previous.endswith(EXTENSION):
        rest = previous[len(stem) : -len(EXTENSION)]
        if not rest:
            number = 2
        elif rest[0] == "-" and rest[1:].isdigit():
            number = int(rest[1:]) + 1
    return file_name(request_id, first, last, number)
