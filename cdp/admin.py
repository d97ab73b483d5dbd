"""The kernel's admin: the "Sent mail" page, and what the kernel changes in the admin of the
apps it builds on.

"Sent mail" lists the messages the embedded default wrote to its mail folder (``cdp.mail``),
newest first, each shown on click. Read-only; with SMTP configured the page says mail leaves by
SMTP and lists nothing.

django-celery-beat registers five screens. Schedules are written by the services only
(intervals for the periodic tasks, crontabs for scheduled exports and flows, a clocked time for
a flow's one-off schedule, never a solar one), so nobody edits clocked or solar schedules here:
those two screens are removed (a periodic task's page still shows its clocked time). Periodic
tasks, intervals and crontabs stay for superusers to inspect; no group is given their
permissions (the groups' migrations), so marketers never see scheduler internals.
(``django_celery_beat`` comes before ``cdp`` in ``INSTALLED_APPS``, so its registrations
exist when this module is autodiscovered.)
"""

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.template.response import TemplateResponse
from django.urls import path
from django_celery_beat.models import ClockedSchedule, SolarSchedule

from cdp.admin_scoping import ReadOnlyAdmin
from cdp.mail import mail_dir, mail_get, mail_list, mail_to_files
from cdp.models import SentMail

for model in (ClockedSchedule, SolarSchedule):
    if admin.site.is_registered(model):
        admin.site.unregister(model)


@admin.register(SentMail)
class SentMailAdmin(ReadOnlyAdmin, admin.ModelAdmin):
    def get_urls(self):
        return [
            path("", self.admin_site.admin_view(self.list_view), name="cdp_sentmail_changelist"),
            path(
                "<str:message_id>/",
                self.admin_site.admin_view(self.message_view),
                name="cdp_sentmail_change",
            ),
        ]

    def _context(self, request, title: str) -> dict:
        if not self.has_view_permission(request):
            raise PermissionDenied
        return {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": title,
            "to_files": mail_to_files(),
            "folder": mail_dir(),
        }

    def list_view(self, request):
        context = self._context(request, "Sent mail")
        mails, files = mail_list() if context["to_files"] else ([], 0)
        context.update(mails=mails, files=files)
        return TemplateResponse(request, "admin/cdp/sentmail_list.html", context)

    def message_view(self, request, message_id: str):
        context = self._context(request, "Sent mail")
        message = mail_get(message_id)
        if message is None:
            raise Http404("No such message in the mail folder.")
        context.update(message=message, title=message.subject or "(no subject)")
        return TemplateResponse(request, "admin/cdp/sentmail_message.html", context)
