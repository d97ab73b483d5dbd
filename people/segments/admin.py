"""Admin for segments: a visual rule builder, a live preview count, refresh with progress,
members.

The rules are edited in the builder (``static/cdp/admin/segment_builder.js``), which writes
the JSON tree into the (hidden) rules field, so saves still go through
``people.segments.services`` and rule errors appear on the form with the path of the bad
condition; "Show JSON" reveals the field. The builder reads its catalogue and asks for
preview counts from the JSON endpoints of ``people.segments.admin_views``; the change page's
"Refresh now" queues a refresh there and follows its progress
(``static/cdp/admin/segment_refresh.js``). The list action "Refresh now" runs
``segment_refresh`` at once and "Export members (CSV)" streams the current members. New
segments can start from one of the ready-made templates.
"""

from django import forms
from django.contrib import admin, messages
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from cdp.admin_scoping import WorkspaceScopedAdmin, strip_fields
from cdp.errors import ServiceError
from people.segments import admin_views
from people.segments.admin_why import segment_why_view, why_url
from people.segments.models import Segment, SegmentMembership
from people.segments.presets import TEMPLATES, template_get
from people.segments.refresh import segment_refresh
from people.segments.selectors import (
    segment_refresh_percent,
    segment_refresh_state,
    segment_usages,
)
from people.segments.services import segment_create, segment_delete, segment_update

NEWEST_MEMBERS = 20
ACTIVE = (Segment.RefreshStatus.QUEUED, Segment.RefreshStatus.RUNNING)


class SegmentForm(forms.ModelForm):
    template = forms.ChoiceField(
        required=False,
        label="Start from",
        choices=[("", "—")] + [(t.key, t.name) for t in TEMPLATES],
        help_text="Loads the rules of a ready-made segment into the builder.",
    )

    class Meta:
        model = Segment
        fields = ("workspace", "name", "description", "kind", "rules")
        widgets = {"rules": forms.Textarea(attrs={"rows": 14, "cols": 90})}
        help_texts = {"rules": 'Built with the editor below; "Show JSON" shows the tree.'}


def refresh_text(state: dict) -> str:
    """Describe a refresh state (``segment_refresh_state``) in one line."""
    if state["status"] == Segment.RefreshStatus.FAILED:
        return f"Failed: {state['error'] or 'unknown error'}"
    if state["status"] == Segment.RefreshStatus.QUEUED:
        return "Queued…"
    if state["status"] == Segment.RefreshStatus.RUNNING:
        return f"Refreshing… {state['progress']}%"
    when = state["lastRefreshedTime"]
    return (
        f"{state['memberCount']} members, refreshed {when[:19].replace('T', ' ')} UTC"
        if when
        else f"{state['memberCount']} members, never refreshed"
    )


@admin.register(Segment)
class SegmentAdmin(WorkspaceScopedAdmin):
    form = SegmentForm
    change_form_template = "admin/people/segment/change_form.html"
    list_display = (
        "name",
        "kind",
        "member_count",
        "refresh_column",
        "last_refreshed_at",
        "workspace",
    )
    list_filter = ("kind", "refresh_status")
    list_select_related = ("workspace",)
    search_fields = ("name", "description")
    readonly_fields = (
        "member_count",
        "refresh_panel",
        "newest_members",
        "last_refreshed_at",
        "created_at",
        "modified_at",
    )
    actions = ["refresh_now", "export_members"]
    delete_confirmation_template = "admin/people/segment/delete_confirmation.html"
    delete_selected_confirmation_template = "admin/people/segment/delete_selected_confirmation.html"

    def get_fieldsets(self, request, obj=None):
        main = ["workspace", "name", "description", "kind"]
        if obj is None:
            main.append("template")
        if obj is None or obj.is_dynamic:
            main.append("rules")  # a static segment has members, not rules
        fieldsets = [(None, {"fields": main})]
        if obj is not None:
            members = ["member_count", "refresh_panel", "newest_members"]
            if not obj.is_dynamic:
                members.remove("refresh_panel")  # its members change only through its list
            fieldsets += [
                ("Members", {"fields": members}),
                (
                    "History",
                    {
                        "fields": ["last_refreshed_at", "created_at", "modified_at"],
                        "classes": ["collapse"],
                    },
                ),
            ]
        if self.hides_workspace(request, obj):
            return strip_fields(fieldsets, ["workspace"])
        return fieldsets

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        return [*readonly, "kind"] if obj is not None else readonly

    def service_error_field(self, name: str) -> str:
        return "rules" if name.startswith("rules") else name

    def get_urls(self):
        def json_view(view):
            return admin_views.json_admin_view(self, view)

        return [
            path(
                "builder/catalogue/",
                json_view(admin_views.catalogue_view),
                name="people_segment_builder_catalogue",
            ),
            path(
                "builder/preview/",
                json_view(admin_views.preview_view),
                name="people_segment_builder_preview",
            ),
            path(
                "<path:object_id>/refresh/",
                json_view(admin_views.refresh_view),
                name="people_segment_refresh",
            ),
            path(
                "<path:object_id>/refresh/status/",
                json_view(admin_views.refresh_status_view),
                name="people_segment_refresh_status",
            ),
            path(
                "<path:object_id>/why/",
                self.admin_site.admin_view(self.why_view),
                name="people_segment_why",
            ),
            path(
                "<path:object_id>/members.csv",
                json_view(admin_views.members_csv_view),
                name="people_segment_members_csv",
            ),
            *super().get_urls(),
        ]

    def why_view(self, request, object_id):
        return segment_why_view(request, self, object_id)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        context["builder_config"] = {
            "catalogueUrl": reverse("admin:people_segment_builder_catalogue"),
            "previewUrl": reverse("admin:people_segment_builder_preview"),
            "segmentId": obj.pk if obj is not None else None,
            "kind": obj.kind if obj is not None else None,
        }
        return super().render_change_form(request, context, add, change, form_url, obj)

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        rules = data.get("rules")
        if not change and not rules and data.get("template"):
            rules = template_get(data["template"]).rules
        if change:
            saved = segment_update(
                segment=obj,
                name=data["name"],
                description=data.get("description", ""),
                rules=rules if obj.is_dynamic else None,
            )
        else:
            saved = segment_create(
                workspace=self.target_workspace(request, form),
                name=data["name"],
                kind=data["kind"],
                rules=rules or None,
                description=data.get("description", ""),
            )
        obj.pk, obj.workspace_id = saved.pk, saved.workspace_id

    def save_related(self, request, form, formsets, change):
        pass  # memberships are written by the refresh, never by the form

    # Deleting through ``segment_delete``: the page names what still uses a segment.

    def get_deleted_objects(self, objs, request):
        # Django's collector would load every membership; count them instead, and list as
        # "protected" what ``segment_usages`` reports (the page then refuses, naming them).
        objs = list(objs)
        listed, protected = [], []
        for segment in objs:
            listed.append(f"Segment: {segment}")
            usages = segment_usages(segment=segment)
            protected += [f"{segment.name}: {u}" for u in usages] if len(objs) > 1 else usages
        members = SegmentMembership.objects.filter(segment__in=objs).count()
        return listed, {"segments": len(objs), "membership records": members}, set(), protected

    def delete_model(self, request, obj):
        segment_delete(segment=obj)

    def delete_queryset(self, request, queryset):
        for segment in queryset:
            segment_delete(segment=segment)

    @admin.action(description="Refresh now")
    def refresh_now(self, request, queryset):
        for segment in queryset:
            try:
                result = segment_refresh(segment=segment)
            except ServiceError as exc:
                self.message_service_error(request, exc)
                continue
            self.message_user(
                request,
                f"{segment.name}: {result.member_count} members "
                f"({len(result.entered)} entered, {len(result.exited)} left)",
                messages.SUCCESS,
            )

    @admin.action(description="Export members (CSV)")
    def export_members(self, request, queryset):
        """Stream the current members of the selected segments (rows read in chunks)."""
        return admin_views.members_csv_response({s.pk: s.name for s in queryset})

    @admin.display(description="refresh", ordering="refresh_status")
    def refresh_column(self, obj) -> str:
        if obj.refresh_status in ACTIVE:
            percent = segment_refresh_percent(obj)
            return format_html(
                '<progress class="cdp-progress" max="100" value="{}"></progress> {} {}%',
                percent,
                obj.get_refresh_status_display(),
                percent,
            )
        if obj.refresh_status == Segment.RefreshStatus.FAILED:
            return format_html(
                '<span class="cdp-refresh-failed" title="{}">Failed</span>', obj.refresh_error
            )
        return obj.get_refresh_status_display()

    @admin.display(description="refresh")
    def refresh_panel(self, obj) -> str:
        """The "Refresh now" button, a progress bar and the state (driven by a script)."""
        state = segment_refresh_state(segment=obj)
        active = state["status"] in ACTIVE
        return format_html(
            '<div class="cdp-refresh" id="cdp-refresh" data-refresh-url="{}" '
            'data-status-url="{}" data-status="{}">'
            '<button type="button" class="button" id="cdp-refresh-button">Refresh now</button>'
            '<progress id="cdp-refresh-progress" max="100" value="{}"{}></progress> '
            '<span id="cdp-refresh-text">{}</span></div>',
            reverse("admin:people_segment_refresh", args=[obj.pk]),
            reverse("admin:people_segment_refresh_status", args=[obj.pk]),
            state["status"],
            segment_refresh_percent(obj) if active else 0,
            "" if active else " hidden",
            refresh_text(state),
        )

    @admin.display(description="newest members")
    def newest_members(self, obj) -> str:
        rows = (
            SegmentMembership.objects.filter(segment=obj, exited_at__isnull=True)
            .select_related("person")
            .order_by("-entered_at", "-id")[:NEWEST_MEMBERS]
        )
        links = format_html_join(
            "",
            '<li class="cdp-member"><a href="{}">{}</a> <a href="{}" class="cdp-why-link" '
            'title="Why is this person in the segment?">Why?</a></li>',
            (
                (
                    reverse("admin:people_person_change", args=[m.person_id]),
                    str(m.person),
                    why_url(obj.pk, m.person_id),
                )
                for m in rows
            ),
        )
        people = reverse("admin:people_person_changelist")
        # The lookup's fields belong to a form outside the change form (forms do not nest):
        # ``templates/admin/people/segment/change_form.html`` puts it after the page's form.
        return format_html(
            '<ul class="cdp-members">{}</ul><p class="cdp-members-links">'
            '<a href="{}?segment={}" id="cdp-all-members">All members</a> · '
            '<a href="{}" id="cdp-members-csv">Export CSV</a></p>'
            '<p class="cdp-why-box"><label for="cdp-why-person">Why in / not in? Person (id, '
            "external id, name, e-mail or phone):</label> "
            '<input type="search" name="person" id="cdp-why-person" form="cdp-why-form" '
            'maxlength="255"> <input type="submit" value="Explain" form="cdp-why-form" '
            'id="cdp-why-submit"></p>',
            links or mark_safe("<li>—</li>"),
            people,
            obj.pk,
            reverse("admin:people_segment_members_csv", args=[obj.pk]),
        )
