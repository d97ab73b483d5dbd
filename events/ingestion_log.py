"""The ingestion log (§5): what was rejected, why, and the payload as sent."""

from collections.abc import Iterable, Sequence
from datetime import timedelta

import orjson
from django.conf import settings
from django.utils import timezone

from events.errors import FieldError
from events.models import IngestionLogEntry
from people.models import Workspace

MAX_PAYLOAD_BYTES = 64 * 1024


def _text(value: str) -> str:
    """Text as the database can store it (PostgreSQL refuses NUL characters)."""
    return value.replace("\x00", "\ufffd")


def _bounded(payload):
    """Keep payloads small enough to store; an oversize one is kept as its beginning. A JSON
    ``null`` body is kept as ``{"body": null}`` (the column holds a document, never SQL NULL)."""
    if payload is None:
        return {"body": None}
    try:
        raw = orjson.dumps(payload, default=str)
    except TypeError:
        return {"unserialisable": repr(payload)[:MAX_PAYLOAD_BYTES]}
    if b"\\u0000" in raw:
        # PostgreSQL's jsonb cannot hold NUL characters: keep the rest, mark where they were.
        raw = raw.replace(b"\\u0000", b"\\ufffd")
        payload = orjson.loads(raw)
    if len(raw) <= MAX_PAYLOAD_BYTES:
        return payload
    return {"truncated": raw[:MAX_PAYLOAD_BYTES].decode(errors="replace")}


def ingestion_log_record(*, workspace: Workspace, endpoint: str,
                         rejected: Iterable[tuple[object, Sequence[FieldError]]]) -> int:
    """Store one entry per rejected item: ``(payload, errors)``; return how many."""
    entries = []
    for payload, errors in rejected:
        first = errors[0] if errors else None
        entries.append(IngestionLogEntry(
            workspace=workspace, endpoint=endpoint,
            code=_text(str(first.code) if first else "rejected"),
            field=_text(first.field or "")[:128] if first else "",
            message=_text("; ".join(f"{e.field}: {e.message}" if e.field else e.message
                                    for e in errors))[:500],
            payload=_bounded(payload),
        ))
    IngestionLogEntry.objects.bulk_create(entries)
    return len(entries)


def ingestion_log_prune(*, older_than: timedelta | None = None) -> int:
    """Delete entries older than ``CDP_INGESTION_LOG_DAYS`` (default 30) days."""
    older_than = older_than or timedelta(days=settings.CDP_INGESTION_LOG_DAYS)
    deleted, _ = IngestionLogEntry.objects.filter(
        created_at__lt=timezone.now() - older_than).delete()
    return deleted
