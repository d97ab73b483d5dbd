"""Write one export file: event rows in, gzipped JSON lines out (SPEC §9).

Each line is one event: the mandatory fields first (``definitionId``, ``eventId``,
``sessionId``, ``personId``, ``externalPersonId``, ``occuredTime``; ids as strings, as in
Infobip's files, and ``occuredTime`` the time the platform received the event), then
``eventTime`` (when it happened), then the event's properties; a property whose key is one of
those names (or, when enriching, one of the flow fields) is written as
``<definitionId>_<key>``. With enrichment, an event a flow caused ends with ``campaignName``,
``elementName``, ``campaignStart`` and ``flowElementId`` (``"<flow id>-<element id>"``, the
seed's shape), read from ``Event.flow_cause``.

This is the hot loop of an export (a million lines take a few seconds), so the values arrive
as JSON text already: the database formats the time (cheaper than Python's datetime), quotes
the session id and casts the properties to text; codes and external ids are quoted once per
definition and person. The
common line is then one string format, the properties' text spliced in unparsed; only text
that mentions a reserved name, or an event to enrich, is parsed and rebuilt. Output is
compressed with ISA-L's deflate (python-isal, standard gzip, ~10 times zlib's speed) when
installed, else zlib, a chunk of rows at a time, into a file object the caller provides.
"""

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import BinaryIO

import orjson

from events.exports.formats import EVENT_TIME_FIELD, MANDATORY_FIELDS, MOMENTS_FIELDS

try:
    from isal import isal_zlib as _deflate

    LEVEL = 1  # ISA-L levels are 0-3; 1 compresses about as well as zlib's 1 at ~1.7 GB/s
except ImportError:  # pragma: no cover - isal is in requirements.txt
    import zlib as _deflate

    LEVEL = 1

GZIP_WBITS = 31  # deflate with a gzip header and trailer

# (id, definition pk, person id, occurred time and received time as export_time text,
#  session id as JSON text, properties as JSON text, flow cause as JSON text or None):
#  selectors.export_rows
Row = tuple[int, int, int, str, str, str, str, str | None]


@dataclass(frozen=True)
class WrittenFile:
    """What a file holds: its line count, gzip size and first and last events."""

    events: int
    size: int
    first_time: str  # event times as export_time strings, for the file name
    last_time: str
    last_id: int  # the last line's event: the next file starts after it


class _Quoted(dict):
    """Definition pk → its code as JSON text, quoted on first use."""

    def __init__(self, codes: Mapping[int, str]):
        super().__init__()
        self.codes = codes

    def __missing__(self, pk: int) -> str:
        self[pk] = orjson.dumps(self.codes[pk]).decode()
        return self[pk]


def flow_element_id(flow: Mapping) -> str | None:
    """The flow element's id as Infobip writes it, ``"<flow id>-<element id>"``."""
    element = flow.get("flowElementId")
    if element is None:
        return None
    return f"{flow['flowId']}-{element}" if flow.get("flowId") is not None else str(element)


class LineWriter:
    """Turn rows into JSON lines, given the request's enrichment setting, the definition
    codes by pk and the people's external ids of each chunk (``events.exports.reader``)."""

    def __init__(self, *, enrich: bool, codes: Mapping[int, str]):
        self.enrich = enrich
        self.codes = codes
        self.quoted_codes = _Quoted(codes)
        self.people: Mapping[int, str] = {}  # of the chunk being written
        reserved = MANDATORY_FIELDS + (EVENT_TIME_FIELD,) + (MOMENTS_FIELDS if enrich else ())
        self.reserved = frozenset(reserved)
        # Finds a reserved name as a JSON string in one C call (as a value, it sends the line
        # through the slow path, which then renames nothing).
        self.collides = re.compile("|".join(f'"{name}"' for name in reserved)).search

    def line(self, row: Row) -> str:
        """Return the line of ``row`` (no newline), parsing and renaming as needed."""
        event_id, definition_pk, person_id, when, received, session_id, props, cause = row
        code = self.codes[definition_pk]
        data = {
            "definitionId": code,
            "eventId": str(event_id),
            "sessionId": orjson.loads(session_id),
            "personId": str(person_id),
            "externalPersonId": orjson.loads(self.people[person_id]),
            "occuredTime": received,
            EVENT_TIME_FIELD: when,
        }
        reserved = self.reserved
        for key, value in orjson.loads(props or "{}").items():
            data[f"{code}_{key}" if key in reserved else key] = value
        if self.enrich and cause is not None:
            flow = orjson.loads(cause)
            for name in MOMENTS_FIELDS:
                data[name] = flow.get(name)
            data["flowElementId"] = flow_element_id(flow)
        return orjson.dumps(data).decode()


def write_file(
    *, chunks: Iterable[tuple[list[Row], Mapping[int, str]]], out: BinaryIO, lines: LineWriter
) -> WrittenFile | None:
    """Write the rows of ``chunks`` (in occurred time, id order, each chunk with its people's
    external ids as JSON text) to ``out`` as one gzip file; return what was written, or None
    when there were no rows (``out`` is then left empty)."""
    compressor = _deflate.compressobj(LEVEL, _deflate.DEFLATED, GZIP_WBITS)
    parts: list[str] = []
    count = size = 0
    row: Row | None = None
    first = ""
    codes, collides, enrich = lines.quoted_codes, lines.collides, lines.enrich
    for rows, people in chunks:
        lines.people = people
        for row in rows:
            event_id, definition_pk, person_id, when, received, session_id, props, cause = row
            if (enrich and cause is not None) or collides(props):
                parts.append(lines.line(row) + "\n")
                continue
            line = (
                f'{{"definitionId":{codes[definition_pk]},"eventId":"{event_id}",'
                f'"sessionId":{session_id},"personId":"{person_id}",'
                f'"externalPersonId":{people[person_id]},"occuredTime":"{received}",'
                f'"eventTime":"{when}"'
            )
            # The properties' text follows as the database gave it, its "{" made a ",".
            parts.append(f"{line}}}\n" if props == "{}" else f"{line},{props[1:]}\n")
        if row is not None and not count:
            first = rows[0][3]
        count += len(rows)
        size += out.write(compressor.compress("".join(parts).encode()))
        parts.clear()
    if row is None:
        return None
    size += out.write(compressor.compress("".join(parts).encode()))
    size += out.write(compressor.flush())
    out.flush()
    return WrittenFile(events=count, size=size, first_time=first, last_time=row[3], last_id=row[0])
