"""The ingestion log (§5): what was rejected, why, and the payload as sent.

Entries older than ``CDP_INGESTION_LOG_DAYS`` are pruned by the beat task
``ingestion_log_prune_task`` and, for the embedded default that runs no beat, by
``ingestion_log_record`` itself at most once per ``PRUNE_EVERY_SECONDS`` (a cache key taken
with ``cache.add`` decides which call does it).
"""

import logging
from collections.abc import Iterable, Sequence
from datetime import timedelta

import orjson
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from cdp.errors import FieldError
from events.models import IngestionLogEntry
from people.models import Workspace

logger = logging.getLogger(__name__)
MAX_PAYLOAD_BYTES = 64 * 1024
PRUNE_EVERY_SECONDS = 3600
PRUNE_CACHE_KEY = "cdp:ingestion-log:pruned"


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


def ingestion_log_record(
    *, workspace: Workspace, endpoint: str, rejected: Iterable[tuple[object, Sequence[FieldError]]]
) -> int:
    """Store one entry per rejected item: ``(payload, errors)``; return how many."""
    entries = []
    for payload, errors in rejected:
        first = errors[0] if errors else None
        entries.append(
            IngestionLogEntry(
                workspace=workspace,
                endpoint=endpoint,
                code=_text(str(first.code) if first else "rejected"),
                field=_text(first.field or "")[:128] if first else "",
                message=_text(
                    "; ".join(f"{e.field}: {e.message}" if e.field else e.message for e in errors)
                )[:500],
                payload=_bounded(payload),
            )
        )
    IngestionLogEntry.objects.bulk_create(entries)
    if entries:
        _prune_now_and_then()
    return len(entries)


def _prune_now_and_then() -> None:
    """Prune old entries if no call did in the last ``PRUNE_EVERY_SECONDS``."""
    try:
        due = cache.add(PRUNE_CACHE_KEY, timezone.now().isoformat(), PRUNE_EVERY_SECONDS)
    except Exception:  # an unreachable cache must not turn a rejection into a 500
        logger.warning(
            "ingestion log: cache unreachable, pruning left to the beat task", exc_info=True
        )
        return
    if due:
        ingestion_log_prune()


def ingestion_log_prune(*, older_than: timedelta | None = None) -> int:
    """Delete entries older than ``CDP_INGESTION_LOG_DAYS`` (default 30) days."""
    older_than = older_than or timedelta(days=settings.CDP_INGESTION_LOG_DAYS)
    deleted, _ = IngestionLogEntry.objects.filter(
        created_at__lt=timezone.now() - older_than
    ).delete()
    return deleted
