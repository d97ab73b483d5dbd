"""``{% background_status %}``: when the worker and the scheduler were last seen, for the
admin index, with a warning when one that should run is silent, and where mail goes."""

from django import template
from django.conf import settings

from cdp.heartbeats import heartbeats_status
from cdp.mail import mail_dir, mail_to_files

register = template.Library()


@register.inclusion_tag("admin/cdp/background_status.html", takes_context=True)
def background_status(context):
    statuses = heartbeats_status()
    user = getattr(context.get("request"), "user", None)
    return {
        "worker": statuses["worker"],
        "scheduler": statuses["scheduler"],
        "mail_to_files": mail_to_files(),
        "mail_dir": mail_dir(),
        "mail_host": settings.EMAIL_HOST,
        "may_view_mail": bool(user and user.has_perm("cdp.view_sentmail")),
    }
