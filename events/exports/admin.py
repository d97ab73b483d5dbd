"""Admin of exports (SPEC §9): export requests with their progress and their files (read-only,
each with a download link: ``events.exports.admin_views``), a "new export" form and a
cancel action; scheduled exports on a crontab with a relative window and a "run now" action.

Writes go through ``events.exports.services`` and ``events.exports.schedules``; rows are
scoped to the user's workspaces. Imported by ``events.admin``.
"""

from zoneinfo import available_timezones

from django import forms
from django.contrib import admin, messages
from django.db.models import OuterRef, Subquery
from django.urls import path
from django.utils.html import format_html

from cdp.admin_scoping import WorkspaceScopedAdmin, scope_queryset
from cdp.errors import ServiceError
from events.exports.admin_views import export_file_download_url, export_file_download_view
from events.exports.models import ExportFile, ExportRequest, ScheduledExport
from events.exports.schedules import (
    ScheduleInput,
    scheduled_export_create,
    scheduled_export_delete,
    scheduled_export_run,
    scheduled_export_update,
)
from events.exports.services import ExportSpec, export_cancel, export_submit
from events.models import EventDefinition

SERVICE_FIELDS = {
    "startTime": "start_time",
    "endTime": "end_time",
    "definitionIds": "definition_ids",
    "roleArn": "role_arn",
    "externalId": "external_id",
}
DESTINATION_FIELDS = ("bucket", "region", "path", "role_arn", "external_id")


def _definition_choices(request) -> list[tuple[str, str]]:
    """Definitions of the user's workspaces (and the built-in ones), one entry per code."""
    rows = (
        scope_queryset(EventDefinition.objects.all(), request, shared_null=True)
        .order_by("definition_id")
        .values_list("definition_id", "name")
    )
    return list({code: (code, f"{name} ({code})") for code, name in rows}.values())


def _service_field(name: str) -> str:
    base = name.split("[", 1)[0]
    return SERVICE_FIELDS.get(base, base)


def progress_html(export: ExportRequest) -> str:
    """The status, with a progress bar while it runs."""
    if export.status in (ExportRequest.Status.RUNNING, ExportRequest.Status.PENDING):
        text = export.get_status_display()
        if export.cancel_requested:
            text += ", cancelling"
        return format_html(
            '<progress class="cdp-progress" max="100" value="{}"></progress> {} {}%',
            export.progress,
            text,
            export.progress,
        )
    if export.status == ExportRequest.Status.FAILED:
        return format_html(
            '<span class="cdp-refresh-failed" title="{}">Failed</span>', export.error
        )
    return export.get_status_display()


class ExportRequestForm(forms.ModelForm):
    definition_ids = forms.MultipleChoiceField(
        required=False,
        label="Definitions",
        widget=forms.SelectMultiple(attrs={"size": 12}),
        help_text="None selected: every definition.",
    )

    class Meta:
        model = ExportRequest
        fields = (
            "workspace",
            "start_time",
            "end_time",
            "definition_ids",
            "bucket",
            "region",
            "path",
            "role_arn",
            "external_id",
            "enrich_with_moments_info",
        )
        help_texts = {
            "bucket": "Empty: the server's default destination.",
            "path": "Key prefix (folder) inside the bucket or the export folder.",
        }

    def clean(self):
        # Said on the field here; the database's check would only say "constraint violated".
        data = super().clean()
        start, end = data.get("start_time"), data.get("end_time")
        if start and end and end <= start:
            self.add_error("end_time", "must be after the start time")
        return data


class ExportFileInline(admin.TabularInline):
    """The export's files, read-only (written by the run), each with a download link."""

    model = ExportFile
    fields = ("seq", "name", "status", "events", "size", "completed_at", "download")
    readonly_fields = fields
    extra = 0
    max_num = 0  # no "Add another" row, whatever the permissions
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="download")
    def download(self, obj) -> str:
        if obj.pk is None or obj.status != ExportFile.Status.DONE:
            return "—"
        return format_html(
            '<a href="{}" class="cdp-export-download" download>Download</a>',
            export_file_download_url(obj),
        )


@admin.register(ExportRequest)
class ExportRequestAdmin(WorkspaceScopedAdmin):
    form = ExportRequestForm
    list_display = (
        "created_at",
        "request_id",
        "status_column",
        "files_written",
        "events_written",
        "start_time",
        "end_time",
        "destination_text",
        "error_text",
        "origin",
        "workspace",
    )
    list_filter = ("status", "destination", "origin")
    list_select_related = ("workspace",)
    actions = ["cancel_exports"]
    inlines = [ExportFileInline]
    service_error_fields = SERVICE_FIELDS

    class Media:
        css = {"all": ["cdp/admin/admin.css"]}

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            fieldsets = [
                (
                    None,
                    {
                        "fields": [
                            "workspace",
                            "start_time",
                            "end_time",
                            "definition_ids",
                            "enrich_with_moments_info",
                        ]
                    },
                ),
                (
                    "Destination",
                    {
                        "fields": list(DESTINATION_FIELDS),
                        "description": "Empty bucket: the server's default bucket, "
                        "else its local export folder.",
                    },
                ),
            ]
            if self.hides_workspace(request, obj):
                fieldsets[0][1]["fields"].remove("workspace")
            return fieldsets
        return [
            (
                None,
                {
                    "fields": [
                        "request_id",
                        "workspace",
                        "status_column",
                        "error",
                        "files_written",
                        "events_written",
                        "total_events",
                    ]
                },
            ),
            (
                "What",
                {
                    "fields": [
                        "start_time",
                        "end_time",
                        "definition_ids",
                        "enrich_with_moments_info",
                        "origin",
                        "scheduled_export",
                    ]
                },
            ),
            ("Destination", {"fields": ["destination", *DESTINATION_FIELDS]}),
            (
                "Run",
                {
                    "fields": [
                        "attempts",
                        "created_at",
                        "started_at",
                        "heartbeat_at",
                        "finished_at",
                    ],
                    "classes": ["collapse"],
                },
            ),
        ]

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else []  # a new request has no files yet

    def get_urls(self):
        return [
            path(
                "<path:object_id>/files/<int:seq>/download/",
                self.admin_site.admin_view(self.file_download_view),
                name="events_exportrequest_file_download",
            ),
            *super().get_urls(),
        ]

    def file_download_view(self, request, object_id, seq):
        return export_file_download_view(request, self, object_id, seq)

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return [f for _, options in self.get_fieldsets(request, obj) for f in options["fields"]]

    def get_form(self, request, obj=None, change=False, **kwargs):
        form_class = super().get_form(request, obj, change=change, **kwargs)
        if "definition_ids" in form_class.base_fields:
            form_class.base_fields["definition_ids"].choices = _definition_choices(request)
        return form_class

    def service_error_field(self, name: str) -> str:
        return _service_field(name)

    def save_model(self, request, obj, form, change):
        if change:
            return  # requests never change; cancelling is an action
        data = form.cleaned_data
        export = export_submit(
            workspace=self.target_workspace(request, form),
            origin=ExportRequest.Origin.ADMIN,
            spec=ExportSpec(
                start_time=data["start_time"],
                end_time=data["end_time"],
                definition_ids=tuple(data.get("definition_ids") or ()),
                bucket=data.get("bucket") or "",
                region=data.get("region") or "",
                path=data.get("path") or "",
                role_arn=data.get("role_arn") or "",
                external_id=data.get("external_id") or "",
                enrich_with_moments_info=bool(data.get("enrich_with_moments_info")),
            ),
        )
        obj.pk, obj.request_id, obj.workspace_id = export.pk, export.request_id, export.workspace_id

    def save_related(self, request, form, formsets, change):
        pass  # files are written by the run

    @admin.action(description="Cancel selected exports", permissions=["change"])
    def cancel_exports(self, request, queryset):
        for export in queryset:
            try:
                export_cancel(export=export)
            except ServiceError as exc:
                self.message_service_error(request, exc)
                continue
            self.message_user(
                request,
                f"{export}: cancelled (a running export stops after its current file)",
                messages.SUCCESS,
            )

    @admin.display(description="status", ordering="status")
    def status_column(self, obj) -> str:
        return progress_html(obj)

    @admin.display(description="destination")
    def destination_text(self, obj) -> str:
        if obj.destination == ExportRequest.Destination.S3:
            return f"s3://{obj.bucket}/{obj.path}"
        return f"folder: {obj.path}"

    @admin.display(description="error")
    def error_text(self, obj) -> str:
        return obj.error[:120]


class ScheduledExportForm(forms.ModelForm):
    definition_ids = forms.MultipleChoiceField(
        required=False,
        label="Definitions",
        widget=forms.SelectMultiple(attrs={"size": 12}),
        help_text="None selected: every definition.",
    )
    timezone = forms.ChoiceField(
        choices=[(z, z) for z in sorted(available_timezones())],
        initial="UTC",
        help_text=ScheduledExport._meta.get_field("timezone").help_text,
    )

    class Meta:
        model = ScheduledExport
        fields = (
            "workspace",
            "name",
            "enabled",
            "window",
            "definition_ids",
            "enrich_with_moments_info",
            "minute",
            "hour",
            "day_of_week",
            "day_of_month",
            "month_of_year",
            "timezone",
            *DESTINATION_FIELDS,
        )


@admin.register(ScheduledExport)
class ScheduledExportAdmin(WorkspaceScopedAdmin):
    form = ScheduledExportForm
    list_display = ("name", "schedule_text", "window", "enabled", "last_run", "workspace")
    list_filter = ("enabled", "window")
    list_select_related = ("workspace",)
    search_fields = ("name",)
    actions = ["run_now"]
    service_error_fields = SERVICE_FIELDS
    fieldsets = [
        (None, {"fields": ["workspace", "name", "enabled"]}),
        ("What", {"fields": ["window", "definition_ids", "enrich_with_moments_info"]}),
        (
            "When",
            {
                "fields": [
                    "minute",
                    "hour",
                    "day_of_week",
                    "day_of_month",
                    "month_of_year",
                    "timezone",
                ],
                "description": "A crontab: the defaults run daily at 02:00.",
            },
        ),
        (
            "Destination",
            {
                "fields": list(DESTINATION_FIELDS),
                "description": "Empty bucket: the server's default bucket, else its "
                "local export folder.",
            },
        ),
    ]

    class Media:
        css = {"all": ["cdp/admin/admin.css"]}

    def get_queryset(self, request):
        latest = ExportRequest.objects.filter(scheduled_export=OuterRef("pk")).order_by(
            "-created_at", "-id"
        )
        return (
            super()
            .get_queryset(request)
            .annotate(
                last_status=Subquery(latest.values("status")[:1]),
                last_written=Subquery(latest.values("events_written")[:1]),
                last_total=Subquery(latest.values("total_events")[:1]),
            )
        )

    def get_form(self, request, obj=None, change=False, **kwargs):
        form_class = super().get_form(request, obj, change=change, **kwargs)
        form_class.base_fields["definition_ids"].choices = _definition_choices(request)
        return form_class

    def service_error_field(self, name: str) -> str:
        return _service_field(name)

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        names = ScheduleInput.__dataclass_fields__
        values = {name: data[name] for name in names if name in data}
        values["definition_ids"] = tuple(values.get("definition_ids") or ())
        schedule = ScheduleInput(**values)
        if change:
            scheduled_export_update(scheduled_export=obj, data=schedule)
            return
        saved = scheduled_export_create(
            workspace=self.target_workspace(request, form), data=schedule
        )
        obj.pk, obj.workspace_id = saved.pk, saved.workspace_id

    def delete_model(self, request, obj):
        scheduled_export_delete(scheduled_export=obj)

    def delete_queryset(self, request, queryset):
        for scheduled in queryset:
            scheduled_export_delete(scheduled_export=scheduled)

    @admin.action(description="Run now", permissions=["change"])
    def run_now(self, request, queryset):
        for scheduled in queryset:
            try:
                export = scheduled_export_run(scheduled_export=scheduled)
            except ServiceError as exc:
                self.message_service_error(request, exc)
                continue
            self.message_user(request, f"{scheduled}: {export} requested", messages.SUCCESS)

    @admin.display(description="schedule")
    def schedule_text(self, obj) -> str:
        return obj.crontab_text

    @admin.display(description="last run")
    def last_run(self, obj) -> str:
        if obj.last_status is None:
            return "—"
        shown = ExportRequest(
            status=obj.last_status,
            events_written=obj.last_written or 0,
            total_events=obj.last_total,
        )
        return progress_html(shown)
