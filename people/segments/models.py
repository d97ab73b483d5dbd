"""Segments and their materialised membership (SPEC §7).

Imported by ``people.models`` so Django registers them in the people app. A membership row is
one stay of a person in a segment: ``exited_at`` is empty while they are in it; a person who
leaves and comes back gets a new row, so the history of entries and exits is kept.
"""

from django.db import models
from django.db.models import Q


class Segment(models.Model):
    """An audience: dynamic (a rule tree evaluated in SQL) or static (a list of people)."""

    class Kind(models.TextChoices):
        DYNAMIC = "dynamic", "Dynamic (rules)"
        STATIC = "static", "Static (uploaded list)"

    class RefreshStatus(models.TextChoices):
        IDLE = "idle", "Up to date"
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Refreshing"
        FAILED = "failed", "Failed"

    workspace = models.ForeignKey(
        "people.Workspace", on_delete=models.CASCADE, related_name="segments", db_index=False
    )
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.DYNAMIC)
    rules = models.JSONField(
        default=dict,
        blank=True,
        help_text='Rule tree: {"all"|"any"|"none": [conditions or nested groups]}.',
    )
    dependencies = models.JSONField(
        default=list,
        blank=True,
        editable=False,
        help_text="What the rules read (definitions, attributes, tags…), derived on save; "
        "decides which changes re-evaluate this segment.",
    )
    refresh_status = models.CharField(
        max_length=8, choices=RefreshStatus.choices, default=RefreshStatus.IDLE
    )
    refresh_progress = models.PositiveSmallIntegerField(
        default=0, help_text="Percent of the last refresh done."
    )
    refresh_error = models.CharField(max_length=500, blank=True)
    last_refreshed_at = models.DateTimeField(null=True, blank=True)
    member_count = models.PositiveIntegerField(default=0, verbose_name="members")
    created_at = models.DateTimeField(auto_now_add=True)
    modified_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["workspace", "name"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "name"], name="segment_ws_name_uniq"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_dynamic(self) -> bool:
        return self.kind == self.Kind.DYNAMIC


class SegmentMembership(models.Model):
    """One stay of a person in a segment, from ``entered_at`` until ``exited_at``."""

    # No key carries a database constraint: a refresh entering 50,000 people spent longer at
    # commit re-checking the parent rows (a row lock per person) than computing the audience
    # and inserting the rows (3.3 s against 1.3 s without; bench/segments.py). Deleting a
    # segment, workspace or person still cascades through Django. Stays are only opened by
    # the refresh, the incremental update and the static segment services, each holding the
    # segment's row lock; an erasure takes the workspace's segment locks before it deletes
    # (``people.erasure``), so no stay is opened for a person being erased.
    workspace = models.ForeignKey(
        "people.Workspace",
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    segment = models.ForeignKey(
        Segment,
        on_delete=models.CASCADE,
        related_name="memberships",
        db_index=False,
        db_constraint=False,
    )
    person = models.ForeignKey(
        "people.Person",
        on_delete=models.CASCADE,
        related_name="segment_memberships",
        db_index=False,
        db_constraint=False,
    )
    entered_at = models.DateTimeField()
    exited_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "segment membership"
        ordering = ["-entered_at", "-id"]
        constraints = [
            # One current stay per person; it also serves "members of a segment" and
            # "is this person a member" lookups.
            models.UniqueConstraint(
                fields=["segment", "person"],
                condition=Q(exited_at__isnull=True),
                name="membership_current_uniq",
            ),
        ]
        indexes = [
            models.Index(fields=["person", "segment"], name="membership_person_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.person_id} in {self.segment_id}"
