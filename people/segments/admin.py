"""Admin for segments (minimal slice): list, rules edited as JSON, refresh action, members.

Saves go through ``people.segments.services`` (rule errors appear on the rules field, with the
path of the bad condition); "Refresh now" runs ``segment_refresh``; "Export members (CSV)"
streams the current members. New segments can start
from one of the ready-made templates. A visual builder replaces the JSON field later.
"""

import csv

from django import forms
from django.contrib import admin, messages
from django.http import StreamingHttpResponse
from django.urls import reverse
from django.utils.html import format_html_join

from cdp.admin_scoping import WorkspaceScopedAdmin
from events.errors import ServiceError
from people.segments.models import Segment, SegmentMembership
from people.segments.refresh import segment_refresh
from people.segments.services import segment_create, segment_update
from people.segments.templates import TEMPLATES, template_get


class _Echo:
    """A file-like object whose ``write`` returns the line (for streaming ``csv.writer``)."""

    def write(self, value: str) -> str:
        return value


class SegmentForm(forms.ModelForm):
    template = forms.ChoiceField(
        required=False, label="Start from",
        choices=[("", "—")] + [(t.key, t.name) for t in TEMPLATES],
        help_text="Fills in the rules of a ready-made segment (when rules are left empty).")

    class Meta:
        model = Segment
        fields = ("workspace", "name", "description", "kind", "rules")
        widgets = {"rules": forms.Textarea(attrs={"rows": 14, "cols": 90})}


@admin.register(Segment)
class SegmentAdmin(WorkspaceScopedAdmin):
    form = SegmentForm
    list_display = ("name", "kind", "member_count", "refresh_status", "last_refreshed_at",
                    "workspace")
    list_filter = ("kind", "refresh_status")
    list_select_related = ("workspace",)
    search_fields = ("name", "description")
    readonly_fields = ("member_count", "newest_members", "refresh_status", "refresh_progress",
                       "refresh_error", "last_refreshed_at", "created_at", "modified_at")
    actions = ["refresh_now", "export_members"]

    def get_fields(self, request, obj=None):
        fields = ["workspace", "name", "description", "kind", "rules", *self.readonly_fields]
        if obj is None:
            fields.insert(4, "template")
        return fields

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        return [*readonly, "kind"] if obj is not None else readonly

    def service_error_field(self, name: str) -> str:
        return "rules" if name.startswith("rules") else name

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        rules = data.get("rules")
        if not change and not rules and data.get("template"):
            rules = template_get(data["template"]).rules
        if change:
            saved = segment_update(segment=obj, name=data["name"],
                                   description=data.get("description", ""),
                                   rules=rules if obj.is_dynamic else None)
        else:
            saved = segment_create(workspace=self.target_workspace(request, form),
                                   name=data["name"], kind=data["kind"], rules=rules or None,
                                   description=data.get("description", ""))
        obj.pk, obj.workspace_id = saved.pk, saved.workspace_id

    def save_related(self, request, form, formsets, change):
        pass  # memberships are written by the refresh, never by the form

    @admin.action(description="Refresh now")
    def refresh_now(self, request, queryset):
        for segment in queryset:
            try:
                result = segment_refresh(segment=segment)
            except ServiceError as exc:
                self.message_service_error(request, exc)
                continue
            self.message_user(request, f"{segment.name}: {result.member_count} members "
                              f"({len(result.entered)} entered, {len(result.exited)} left)",
                              messages.SUCCESS)

    @admin.action(description="Export members (CSV)")
    def export_members(self, request, queryset):
        """Stream the current members of the selected segments (rows read in chunks)."""
        segments = {s.pk: s.name for s in queryset}
        rows = (SegmentMembership.objects.filter(segment_id__in=segments,
                                                 exited_at__isnull=True)
                .order_by("segment_id", "person_id")
                .values_list("segment_id", "person_id", "person__external_id", "entered_at"))
        writer = csv.writer(_Echo())

        def lines():
            yield writer.writerow(["segment", "person_id", "external_id", "entered_at"])
            for segment_id, person_id, external_id, entered in rows.iterator(chunk_size=5000):
                yield writer.writerow([segments[segment_id], person_id, external_id or "",
                                       entered.isoformat()])

        response = StreamingHttpResponse(lines(), content_type="text/csv")
        response["Content-Disposition"] = 'attachment; filename="segment-members.csv"'
        return response

    @admin.display(description="newest members")
    def newest_members(self, obj) -> str:
        rows = (SegmentMembership.objects.filter(segment=obj, exited_at__isnull=True)
                .select_related("person").order_by("-entered_at", "-id")[:20])
        links = format_html_join(", ", '<a href="{}">{}</a>', (
            (reverse("admin:people_person_change", args=[m.person_id]), str(m.person))
            for m in rows))
        return links or "—"
