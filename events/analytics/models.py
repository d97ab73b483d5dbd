"""The admin's "Analytics" entry: a proxy of ``Event`` without a table of its own, so the page
is listed with the events app and guarded by its own permission (``events.view_analytics``,
given to the Marketer group)."""

from events.models import Event


class Analytics(Event):
    class Meta:
        proxy = True
        verbose_name = "analytics"
        verbose_name_plural = "analytics"
        default_permissions = ("view",)
