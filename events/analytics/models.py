"""Saved insights (the admin's "Analytics" entry, a proxy of ``Event``, lives with ``Event`` in
``events.models``, which imports this module so Django finds the model).

``SavedInsight`` is a named analytics query (a funnel, a segmentation or a retention
table) of a workspace, kept to be opened again or pinned to the admin index's dashboard; its
``query`` is exactly the body of the kind's analytics API (``events.analytics.insights``).
"""

from django.conf import settings
from django.db import models


class SavedInsight(models.Model):
    class Kind(models.TextChoices):
        FUNNEL = "funnel", "funnel"
        SEGMENTATION = "segmentation", "segmentation"
        RETENTION = "retention", "retention"

    workspace = models.ForeignKey(
        "people.Workspace", on_delete=models.CASCADE, related_name="saved_insights"
    )
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    query = models.JSONField(help_text="The body of the kind's analytics API.")
    pinned = models.BooleanField(default=False, help_text="Shown on the admin index.")
    position = models.PositiveIntegerField(default=0, help_text="Order on the dashboard.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    modified_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("position", "pk")
        verbose_name = "saved insight"
        indexes = [models.Index(fields=["workspace", "pinned", "position"])]

    def __str__(self) -> str:
        return self.name
