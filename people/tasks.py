"""Celery tasks of the people app; each wraps the service of the same name."""

import logging

from celery import shared_task

from people.segments.models import Segment
from people.segments.refresh import segment_refresh

logger = logging.getLogger(__name__)


@shared_task(acks_late=True)
def segment_refresh_task(segment_id: int) -> int | None:
    """Refresh one segment; return its member count (None when it was deleted meanwhile)."""
    segment = Segment.objects.filter(pk=segment_id).first()
    if segment is None:
        return None
    return segment_refresh(segment=segment).member_count


@shared_task
def segments_refresh_task() -> int:
    """Queue a refresh of every dynamic segment (periodic: time windows move on their own)."""
    ids = list(Segment.objects.filter(kind=Segment.Kind.DYNAMIC).values_list("pk", flat=True))
    for segment_id in ids:
        segment_refresh_task.delay(segment_id)
    return len(ids)
