"""``{% background_status %}``: when the worker and the scheduler were last seen, for the
admin index, with a warning when one that should run is silent."""

from django import template

from cdp.heartbeats import heartbeats_status

register = template.Library()


@register.inclusion_tag("admin/cdp/background_status.html")
def background_status():
    statuses = heartbeats_status()
    return {"worker": statuses["worker"], "scheduler": statuses["scheduler"]}
