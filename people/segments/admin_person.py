"""What segments add to the people admin: the "segment" filter of the people list (a segment's
"All members" link lands there) and the Segments section of the person page.

The section lists the workspace's segments, members first, with the stored membership, whether
the rules select the person now and, condition by condition, why (``segment_explain``: the
same compiled SQL as the refresh). A segment whose rules no longer validate shows its error
instead of breaking the page.
"""

from django.contrib import admin
from django.db.models import Exists, OuterRef, Subquery
from django.http import HttpRequest
from django.urls import reverse

from cdp.admin_scoping import default_workspace, scope_queryset
from cdp.errors import ServiceError
from cdp.ids import text_id
from people.models import Person
from people.segments.explain import segment_explain
from people.segments.models import Segment, SegmentMembership

MAX_SEGMENTS = 50


class SegmentFilter(admin.SimpleListFilter):
    """People with a current membership (not exited) of one segment of the user's workspaces."""

    title = "segment"
    parameter_name = "segment"

    def lookups(self, request, model_admin):
        segments = scope_queryset(
            Segment.objects.select_related("workspace").order_by("name", "pk"), request
        )[:200]
        several = default_workspace(request) is None
        return [
            (str(s.pk), f"{s.name} ({s.workspace.name})" if several else s.name) for s in segments
        ]

    def queryset(self, request, queryset):
        value = self.value()
        if not value:
            return queryset
        if text_id(value) is None:
            return queryset.none()
        segments = scope_queryset(Segment.objects.filter(pk=text_id(value)), request)
        members = SegmentMembership.objects.filter(segment__in=segments, exited_at__isnull=True)
        return queryset.filter(pk__in=members.values("person_id"))


def person_segments_context(request: HttpRequest, person: Person) -> dict:
    """Return the Segments section of ``person``'s page (empty without segment permissions)."""
    if not (
        request.user.has_perm("people.view_segment")
        or request.user.has_perm("people.change_segment")
    ):
        return {}
    current = SegmentMembership.objects.filter(
        segment=OuterRef("pk"), person=person, exited_at__isnull=True
    )
    segments = (
        Segment.objects.filter(workspace_id=person.workspace_id)
        .annotate(is_member=Exists(current), entered_at=Subquery(current.values("entered_at")[:1]))
        .order_by("-is_member", "name", "pk")
    )
    rows = []
    for segment in segments[:MAX_SEGMENTS]:
        row = {
            "segment": segment,
            "member": segment.is_member,
            "entered_at": segment.entered_at,
            "url": reverse("admin:people_segment_change", args=[segment.pk]),
        }
        try:
            explanation = segment_explain(segment=segment, person=person)
        except ServiceError as exc:
            row["error"] = "; ".join(error.message for error in exc.errors)
        else:
            row.update(qualifies=explanation.qualifies, outcome=explanation.outcome)
        rows.append(row)
    total = len(rows) if len(rows) < MAX_SEGMENTS else segments.count()
    return {"segment_rows": rows, "segments_total": total, "segments_shown": True}
