"""Read paths for segments, shared by the API and the admin (lists, refresh state, and the
catalogue the admin's rule builder offers)."""

from django.db.models import QuerySet

from people.models import AttributeDefinition, Identifier, Person, PersonTag, Workspace
from people.segments import conditions as c
from people.segments.models import Segment, SegmentMembership
from people.segments.presets import TEMPLATES
from people.segments.refresh import refresh_progress_get
from people.segments.rules import AGGREGATE_FIELDS, STANDARD_FIELDS
from people.segments.sources import event_source


def segment_list(*, workspace: Workspace) -> QuerySet[Segment]:
    return Segment.objects.filter(workspace=workspace).order_by("name", "pk")


def segment_get(*, workspace: Workspace, segment_id: int) -> Segment | None:
    return segment_list(workspace=workspace).filter(pk=segment_id).first()


def segment_members(*, segment: Segment) -> QuerySet[SegmentMembership]:
    """Current memberships, newest person first (the partial unique index serves this)."""
    return (
        SegmentMembership.objects.filter(segment=segment, exited_at__isnull=True)
        .select_related("person")
        .order_by("-person_id")
    )


def segment_usages(*, segment: Segment) -> list[str]:
    """Describe what keeps ``segment`` from being deleted: other segments that include it,
    and what the registered providers report (flows that name it); empty when unused."""
    marker = f"segment:{segment.pk}"
    names = [
        s.name
        for s in Segment.objects.filter(workspace_id=segment.workspace_id)
        .exclude(pk=segment.pk)
        .only("name", "dependencies")
        if marker in s.dependencies
    ]
    usages = [f"segment {name!r} includes it" for name in sorted(names)]
    for provider in SEGMENT_USAGE_PROVIDERS:
        usages.extend(provider(segment))
    return usages


# Flows register a function here returning descriptions of their uses of a segment.
SEGMENT_USAGE_PROVIDERS: list = []


def segments_using_definition(definition) -> list[str]:
    """Describe segments whose rules read ``definition`` (``events.selectors`` usage hook)."""
    marker = f"event:{definition.pk}"
    names = [
        s.name for s in Segment.objects.only("name", "dependencies") if marker in s.dependencies
    ]
    return [f"segment {name!r} uses it" for name in sorted(names)]


def segment_refresh_state(*, segment: Segment) -> dict:
    """Return the refresh status of ``segment`` as the admin and API show it.

    While a refresh runs, its progress is read from where the refresh reports it (see
    ``people.segments.refresh.refresh_progress_get``); otherwise from the segment row.
    """
    segment.refresh_from_db(
        fields=[
            "refresh_status",
            "refresh_progress",
            "refresh_error",
            "member_count",
            "last_refreshed_at",
        ]
    )
    status, progress = segment.refresh_status, segment.refresh_progress
    live = refresh_progress_get(segment.pk) if status == Segment.RefreshStatus.RUNNING else None
    if live is not None:
        progress = live
    return {
        "status": status,
        "progress": progress,
        "error": segment.refresh_error or None,
        "memberCount": segment.member_count,
        "lastRefreshedTime": (
            segment.last_refreshed_at.isoformat() if segment.last_refreshed_at else None
        ),
    }


def segment_refresh_percent(segment: Segment) -> int:
    """Return how far a queued or running refresh of ``segment`` is (0-100), from its row and
    the live report of a running refresh; no query (the change list draws it per row)."""
    if segment.refresh_status == Segment.RefreshStatus.QUEUED:
        return 0
    if segment.refresh_status == Segment.RefreshStatus.RUNNING:
        live = refresh_progress_get(segment.pk)
        return live if live is not None else segment.refresh_progress
    return segment.refresh_progress


def _choices(operators) -> list[dict]:
    return [{"value": op, "label": c.OPERATOR_WORDS.get(op, op)} for op in operators]


def segment_builder_catalogue(*, workspace: Workspace, segment: Segment | None = None) -> dict:
    """Return what the admin's rule builder offers for ``workspace``: fields, operators per
    value type (with their words), definitions with properties, custom attributes, other
    segments (not ``segment``, the one being edited), identifier types, tags in use and the
    ready-made templates."""
    others = segment_list(workspace=workspace)
    if segment is not None:
        others = others.exclude(pk=segment.pk)
    tags = (
        PersonTag.objects.filter(workspace=workspace)
        .order_by("name")
        .values_list("name", flat=True)
        .distinct()[:200]
    )
    return {
        "workspace": {"id": workspace.pk, "name": workspace.name},
        "groupOperators": [
            {"value": "all", "label": "all of"},
            {"value": "any", "label": "any of"},
            {"value": "none", "label": "none of"},
        ],
        "operators": {kind: _choices(ops) for kind, ops in c.OPERATORS.items()},
        "countOperators": list(c.COUNT_OPERATORS),
        "aggregateFields": [
            {"value": key, "label": label}
            for key, label in zip(
                AGGREGATE_FIELDS, ("first time", "last time", "count"), strict=True
            )
        ],
        "aggregateTimeOperators": _choices(c.AGGREGATE_TIME_OPERATORS),
        "fields": [
            {
                "key": key,
                "label": str(Person._meta.get_field(column).verbose_name),
                "type": value_type,
            }
            for key, (column, value_type) in STANDARD_FIELDS.items()
        ],
        "customAttributes": [
            {"key": a.key, "label": a.name or a.key, "type": a.type}
            for a in AttributeDefinition.objects.filter(workspace=workspace).order_by("key")
        ],
        "definitions": event_source().definitions_catalogue(workspace=workspace),
        "segments": [{"id": s.pk, "name": s.name, "kind": s.kind} for s in others],
        "identifierTypes": [
            {"value": value, "label": label} for value, label in Identifier.Type.choices
        ],
        "tags": list(tags),
        "templates": [{"key": t.key, "name": t.name, "rules": t.rules} for t in TEMPLATES],
    }
