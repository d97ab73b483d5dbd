"""Flows, their elements and edges, runs and the step log (SPEC §8).

A flow is a graph: one trigger element, then waits, branches and actions joined by edges that
name the outcome they follow (``next``; ``met`` / ``timeout`` after a wait for an event;
``yes`` / ``no`` after a branch). The formats of element configs are in ``flows.elements``;
writes go through ``flows.services``. A run is one entry of one person: where they are
(``current_element``), what started it (``context``), and when a wait ends (``resume_at``).
The runtime that moves runs forward comes next; these tables are shaped for it (the partial
index for the resume scan, the step log's unique key for idempotent steps).
"""

from django.db import models
from django.db.models import F, Q
from django.utils import timezone


class Flow(models.Model):
    """An automation: who enters (the trigger), what happens to them, and until when."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        ACTIVE = "active", "Active"
        PAUSED = "paused", "Paused"
        FINISHED = "finished", "Finished"

    class Reentry(models.TextChoices):
        ONCE = "once", "Once per person"
        RECURRING = "recurring", "Again after a previous run"

    workspace = models.ForeignKey(
        "people.Workspace", on_delete=models.CASCADE, related_name="flows", db_index=False
    )
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.DRAFT)
    starts_at = models.DateTimeField(
        null=True,
        blank=True,
        verbose_name="starts",
        help_text="Nobody enters before this time (empty: as soon as it is active).",
    )
    ends_at = models.DateTimeField(
        null=True,
        blank=True,
        verbose_name="ends",
        help_text="Nobody enters after this time (empty: no end).",
    )
    reentry = models.CharField(
        max_length=9,
        choices=Reentry.choices,
        default=Reentry.ONCE,
        verbose_name="re-entry",
    )
    reentry_interval = models.DurationField(
        null=True,
        blank=True,
        verbose_name="re-entry interval",
        help_text="With recurring re-entry: the least time between two entries of a person.",
    )
    exit_segment = models.ForeignKey(
        "people.Segment",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="exit_of_flows",
        help_text="People in this segment do not enter, and a run ends once its person is in it.",
    )
    dependencies = models.JSONField(
        default=list,
        blank=True,
        editable=False,
        help_text="Definitions and segments the elements name (event:<pk>, segment:<pk>), "
        "derived on save; a definition used by an active flow cannot be deleted.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    modified_at = models.DateTimeField(auto_now=True)
    activated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["workspace", "name"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "name"], name="flow_ws_name_uniq"),
            models.CheckConstraint(
                condition=Q(starts_at__isnull=True)
                | Q(ends_at__isnull=True)
                | Q(ends_at__gt=F("starts_at")),
                name="flow_dates_order",
            ),
            models.CheckConstraint(
                condition=Q(reentry="recurring") | Q(reentry_interval__isnull=True),
                name="flow_interval_recurring_only",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_editable(self) -> bool:
        """Whether the graph and settings may change (a draft, or a paused flow)."""
        return self.status in (self.Status.DRAFT, self.Status.PAUSED)


class FlowElement(models.Model):
    """One step of a flow; ``config`` holds its settings in the kind's format."""

    class Kind(models.TextChoices):
        TRIGGER = "trigger", "Trigger"
        WAIT = "wait", "Wait"
        WAIT_FOR_EVENT = "wait_for_event", "Wait for event"
        BRANCH = "branch", "Branch"
        ACTION = "action", "Action"
        END = "end", "End"

    flow = models.ForeignKey(
        Flow, on_delete=models.CASCADE, related_name="elements", db_index=False
    )
    key = models.SlugField(
        max_length=32, db_index=False, help_text='Short name, unique in the flow ("wait1").'
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    label = models.CharField(max_length=200, blank=True)
    config = models.JSONField(default=dict, blank=True)
    position_x = models.IntegerField(default=0)
    position_y = models.IntegerField(default=0)

    class Meta:
        verbose_name = "flow element"
        ordering = ["flow", "id"]
        constraints = [
            models.UniqueConstraint(fields=["flow", "key"], name="flowelement_flow_key_uniq"),
        ]

    def __str__(self) -> str:
        return f"{self.key} ({self.kind})"


class FlowEdge(models.Model):
    """``source`` leads to ``target`` on ``outcome``."""

    class Outcome(models.TextChoices):
        NEXT = "next", "Next"
        MET = "met", "Event occurred"
        TIMEOUT = "timeout", "Timed out"
        YES = "yes", "Yes"
        NO = "no", "No"

    flow = models.ForeignKey(Flow, on_delete=models.CASCADE, related_name="edges")
    source = models.ForeignKey(
        FlowElement, on_delete=models.CASCADE, related_name="outgoing", db_index=False
    )
    target = models.ForeignKey(FlowElement, on_delete=models.CASCADE, related_name="incoming")
    outcome = models.CharField(max_length=8, choices=Outcome.choices, default=Outcome.NEXT)

    class Meta:
        verbose_name = "flow edge"
        constraints = [
            models.UniqueConstraint(
                fields=["source", "outcome"], name="flowedge_source_outcome_uniq"
            ),
            models.CheckConstraint(condition=~Q(source=F("target")), name="flowedge_no_self_loop"),
        ]

    def __str__(self) -> str:
        return f"{self.source_id} -{self.outcome}-> {self.target_id}"


class FlowRun(models.Model):
    """One entry of one person into a flow, from the trigger until it finishes or exits."""

    class State(models.TextChoices):
        ACTIVE = "active", "Active"
        WAITING = "waiting", "Waiting"
        FINISHED = "finished", "Finished"
        EXITED = "exited", "Exited"
        FAILED = "failed", "Failed"

    LIVE_STATES = (State.ACTIVE, State.WAITING)

    flow = models.ForeignKey(Flow, on_delete=models.CASCADE, related_name="runs", db_index=False)
    person = models.ForeignKey(
        "people.Person", on_delete=models.CASCADE, related_name="flow_runs", db_index=False
    )
    workspace = models.ForeignKey(
        "people.Workspace", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    state = models.CharField(max_length=8, choices=State.choices, default=State.ACTIVE)
    current_element = models.ForeignKey(
        FlowElement,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="runs_here",
    )
    context = models.JSONField(
        default=dict,
        blank=True,
        help_text="What started the run: trigger kind, track_event_seq, track_event_uuid, "
        "track_event_count, track_event_data.",
    )
    resume_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When a waiting run goes on; for an active run, when it is queued again if "
        "its step was lost.",
    )
    step_no = models.PositiveIntegerField(default=0)
    entered_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    exit_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        verbose_name = "flow run"
        ordering = ["-entered_at", "-id"]
        constraints = [
            # A person is in a flow at most once at a time: two triggers racing for the same
            # person start one run.
            models.UniqueConstraint(
                fields=["flow", "person"],
                condition=Q(state__in=["active", "waiting"]),
                name="flowrun_one_live_uniq",
            ),
        ]
        indexes = [
            models.Index(fields=["flow", "person", "entered_at"], name="flowrun_reentry_idx"),
            models.Index(fields=["person", "entered_at"], name="flowrun_person_idx"),
            # The periodic resume scan: live runs whose time (or lease) has come.
            models.Index(
                fields=["resume_at"],
                condition=Q(resume_at__isnull=False),
                name="flowrun_resume_at_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"run {self.pk} of flow {self.flow_id} for person {self.person_id}"


class FlowStepLog(models.Model):
    """What a run did at one element. ``(run, step_no, element)`` is unique, so a retried step
    is logged once and the runtime can use the row as its idempotency key (webhooks, emails)."""

    run = models.ForeignKey(FlowRun, on_delete=models.CASCADE, related_name="steps", db_index=False)
    element = models.ForeignKey(
        FlowElement, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    step_no = models.PositiveIntegerField()
    outcome = models.CharField(max_length=16, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "flow step"
        ordering = ["run", "step_no", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["run", "step_no", "element"], name="flowstep_run_step_uniq"
            ),
        ]

    def __str__(self) -> str:
        return f"run {self.run_id} step {self.step_no}: {self.outcome}"
