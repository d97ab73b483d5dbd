"""The download link of each finished export file in the admin (SPEC §9).

Staff only (``admin_site.admin_view``); the export is read through the admin's
workspace-scoped queryset, so another workspace's files are "not found". A file in the local
export folder is streamed (``FileResponse``); one in S3 is a redirect to a presigned GET URL
signed with the export's own credentials, valid for a few minutes. A file not finished or no
longer there is said with an admin message, never a server error. Wired in
``ExportRequestAdmin.get_urls``.
"""

from django.contrib import messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, HttpRequest, HttpResponseRedirect
from django.urls import reverse

from events.exports.destinations import DestinationError, local_file_path, s3_download_url
from events.exports.models import ExportFile, ExportRequest


def export_file_download_url(export_file: ExportFile) -> str:
    return reverse(
        "admin:events_exportrequest_file_download",
        args=[export_file.request_id, export_file.seq],
    )


def export_file_download_view(request: HttpRequest, model_admin, object_id: str, seq: int):
    """Answer the file ``seq`` of the export ``object_id``: its bytes or a presigned URL."""
    export = model_admin.get_object(request, unquote(object_id))  # workspace-scoped
    if export is None:
        return model_admin._get_obj_does_not_exist_redirect(request, model_admin.opts, object_id)
    if not model_admin.has_view_or_change_permission(request, export):
        raise PermissionDenied
    back = HttpResponseRedirect(reverse("admin:events_exportrequest_change", args=[export.pk]))
    export_file = export.files.filter(seq=seq, status=ExportFile.Status.DONE).first()
    if export_file is None:
        model_admin.message_user(
            request, f"This export has no finished file number {seq}.", messages.ERROR
        )
        return back
    if export.destination == ExportRequest.Destination.LOCAL:
        path = local_file_path(export_file.key)
        if path is None:
            model_admin.message_user(
                request,
                f"{export_file.name} is no longer in the export folder.",
                messages.ERROR,
            )
            return back
        return FileResponse(
            path.open("rb"),
            as_attachment=True,
            filename=export_file.name,
            content_type="application/gzip",
        )
    try:
        url = s3_download_url(
            bucket=export.bucket,
            key=export_file.key,
            filename=export_file.name,
            region=export.region,
            role_arn=export.role_arn,
            external_id=export.external_id,
        )
    except DestinationError as exc:
        model_admin.message_user(request, str(exc), messages.ERROR)
        return back
    return HttpResponseRedirect(url)
