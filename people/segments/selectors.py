"""Read paths for segments, shared by the API and the admin."""

from django.db.models import QuerySet

from people.models import Workspace
from people.segments.models import Segment, SegmentMembership


def segment_list(*, workspace: Workspace) -> QuerySet[Segment]:
    return Segment.objects.filter(workspace=workspace).order_by("name", "pk")


def segment_get(*, workspace: Workspace, segment_id: int) -> Segment | None:
    return segment_list(workspace=workspace).filter(pk=segment_id).first()


def segment_members(*, segment: Segment) -> QuerySet[SegmentMembership]:
    """Current memberships, newest person first (the partial unique index serves this)."""
    return (SegmentMembership.objects.filter(segment=segment, exited_at__isnull=True)
            .select_related("person").order_by("-person_id"))


def segments_using_definition(definition) -> list[str]:
    """Describe segments whose rules read ``definition`` (``events.selectors`` usage hook)."""
    marker = f"event:{definition.pk}"
    names = [s.name for s in Segment.objects.only("name", "dependencies")
             if marker in s.dependencies]
    return [f"segment {name!r} uses it" for name in sorted(names)]
