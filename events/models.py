"""Event definitions, their properties, events and per-person aggregates (§4, §5)."""

from django.db import models
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce

from people.models import Person, Workspace


class Channel(models.Model):
    """Where events come from: an app, a mini program, a website or a third-party system."""

    class AppType(models.TextChoices):
        APP = "app", "App"
        MINI_PROGRAM = "mini_program", "Mini Program"
        WEB = "web", "Web"
        THIRD_PARTY = "third_party", "Third-party system"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="channels")
    name = models.CharField(max_length=100)
    app_type = models.CharField(max_length=16, choices=AppType.choices)
    app_key = models.CharField(
        max_length=64,
        verbose_name="APP_KEY",
        help_text="Quick Audience's eventSourceCode names the channel by this key.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["workspace", "name"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "app_key"], name="channel_ws_key_uniq"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_app_type_display()})"


class EventDefinition(models.Model):
    """What an event means. Built-in ones (templates, standard) have no workspace."""

    class Kind(models.TextChoices):
        CUSTOM = "custom", "Custom"
        TEMPLATE = "template", "Template"
        STANDARD = "standard", "Standard"

    class Category(models.TextChoices):
        PERSON = "person", "Person"
        CHANNEL = "channel", "Channel"
        PRODUCT = "product", "Product"

    workspace = models.ForeignKey(
        Workspace,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="definitions",
        help_text="Empty for the built-in catalogue shared by every workspace.",
    )
    definition_id = models.CharField(
        max_length=32,
        verbose_name="definition id",
        help_text="The code used when tracking. Custom definitions start with c_.",
    )
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.CUSTOM)
    category = models.CharField(max_length=8, choices=Category.choices, blank=True)
    channel = models.ForeignKey(
        Channel, null=True, blank=True, on_delete=models.SET_NULL, related_name="definitions"
    )
    default_score = models.IntegerField(
        default=0, help_text="Activity score an event adds to its person, unless it sets its own."
    )
    lifecycle_stage = models.CharField(
        max_length=32,
        blank=True,
        help_text="Lifecycle stage code the person moves forward to when this event happens.",
    )
    enabled = models.BooleanField(
        default=True,
        verbose_name="tracking enabled",
        help_text="Events of a disabled definition are rejected.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    modified_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["kind", "definition_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "definition_id"], name="definition_ws_code_uniq"
            ),
            models.UniqueConstraint(
                fields=["definition_id"],
                condition=Q(workspace__isnull=True),
                name="definition_builtin_code_uniq",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.definition_id})"

    @property
    def is_builtin(self) -> bool:
        return self.workspace_id is None


class PropertyDefinition(models.Model):
    """A property of an event definition. Keys and types never change; none is deleted."""

    class Type(models.TextChoices):
        TEXT = "text", "Text"
        NUMBER = "number", "Number"
        BOOLEAN = "boolean", "True/false"
        DATETIME = "datetime", "Date-time"

    class Scope(models.TextChoices):
        EVENT = "event", "This event"
        GLOBAL = "global", "Every event of the channel"

    definition = models.ForeignKey(
        EventDefinition, on_delete=models.CASCADE, related_name="properties"
    )
    key = models.CharField(max_length=64)
    name = models.CharField(max_length=200, blank=True, verbose_name="display name")
    type = models.CharField(max_length=8, choices=Type.choices, default=Type.TEXT)
    required = models.BooleanField(default=False)
    scope = models.CharField(max_length=8, choices=Scope.choices, default=Scope.EVENT)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        verbose_name = "property"
        verbose_name_plural = "properties"
        ordering = ["definition", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["definition", "key"], name="property_def_key_uniq"),
        ]

    def __str__(self) -> str:
        return self.key


class WorkspaceDefinition(models.Model):
    """A definition as seen by one workspace: its enable switch and its sequence number.

    The sequence number is PPMessage's ``N`` in ``event_count_N``: assigned once, in order of
    first use, per workspace.
    """

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    definition = models.ForeignKey(EventDefinition, on_delete=models.CASCADE, related_name="+")
    enabled = models.BooleanField(
        null=True,
        blank=True,
        help_text="Empty: the default (channel events and templates on, other standard off).",
    )
    seq = models.PositiveIntegerField(verbose_name="sequence number")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "definition"], name="wsdef_uniq"),
            models.UniqueConstraint(fields=["workspace", "seq"], name="wsdef_seq_uniq"),
        ]

    def __str__(self) -> str:
        return f"{self.definition_id}#{self.seq}"


class Event(models.Model):
    """Something a person did. Immutable: never updated, deleted only with its person."""

    class Origin(models.TextChoices):
        API = "api", "API"
        SDK = "sdk", "Web SDK"
        INFOBIP = "infobip", "Infobip-compatible"
        DMHUB = "dmhub", "DM Hub-compatible"
        QUICK_AUDIENCE = "quick_audience", "Quick Audience-compatible"
        SEGMENT = "segment", "Segment-compatible"
        ADMIN = "admin", "Admin (try it)"
        FLOW = "flow", "Flow"
        SYSTEM = "system", "System"

    # The foreign keys carry no single-column indexes of their own: the composite indexes
    # below lead with workspace and person, and every extra index slows ingestion.
    # Workspace and definition have no database constraint (``db_constraint=False``): every
    # row of a batch re-checked and share-locked the same one or two parent rows at commit,
    # a fifth of a 1,000-event batch's time (see bench/ingest.py). Django still cascades and
    # protects on delete, and definitions in use cannot be deleted (events.services). The
    # person key keeps its constraint: it catches an insert racing a merge or an erasure.
    id = models.BigAutoField(primary_key=True)
    workspace = models.ForeignKey(
        Workspace,
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    definition = models.ForeignKey(
        EventDefinition,
        on_delete=models.PROTECT,
        related_name="events",
        db_index=False,
        db_constraint=False,
    )
    person = models.ForeignKey(
        Person, on_delete=models.CASCADE, related_name="events", db_index=False
    )
    occurred_at = models.DateTimeField(help_text="When it happened (client time).")
    received_at = models.DateTimeField(help_text="When the platform received it.")
    session_id = models.CharField(max_length=64, null=True, blank=True)
    external_id = models.CharField(max_length=255, null=True, blank=True)
    target_id = models.CharField(max_length=255, blank=True)
    target_name = models.CharField(max_length=255, blank=True)
    source = models.CharField(max_length=255, blank=True)
    content_name = models.CharField(max_length=255, blank=True)
    score = models.IntegerField(null=True, blank=True)
    tags = models.CharField(max_length=255, blank=True, help_text="Comma separated.")
    campaign_code = models.CharField(max_length=64, blank=True)
    campaign_name = models.CharField(max_length=255, blank=True)
    summary = models.CharField(max_length=1024, blank=True)
    properties = models.JSONField(default=dict, blank=True)
    origin = models.CharField(max_length=16, choices=Origin.choices)
    # Set only on events a flow caused (``EventInput.flow_cause``); exports with
    # ``enrichWithMomentsInfo`` copy it into the file (events.exports.writer).
    flow_cause = models.JSONField(
        null=True,
        blank=True,
        editable=False,
        help_text='The flow that caused the event: {"flowId", "campaignName", '
        '"campaignStart", "flowElementId", "elementName"}.',
    )

    class Meta:
        ordering = ["-occurred_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "external_id"],
                condition=Q(external_id__isnull=False),
                name="event_ws_external_id_uniq",
            ),
            # Without an external id, one event per person, definition and time (§5); with
            # one, the workspace-wide external id decides and this key never collides. The
            # same index answers a person's events of a definition in a window (segment
            # updates after a batch, flow waits, explanations, timelines): one index where a
            # partial unique one and a plain one on the same columns were written per event.
            models.UniqueConstraint(
                F("person"),
                F("definition"),
                F("occurred_at"),
                Coalesce("external_id", Value("")),
                name="event_person_def_time_uniq",
            ),
        ]
        indexes = [
            models.Index(fields=["workspace", "occurred_at"], name="event_ws_time_idx"),
            # Segments and analytics read one definition over a time window per workspace;
            # carrying the person answers "who did X N times since T" from the index alone.
            models.Index(
                fields=["workspace", "definition", "occurred_at"],
                include=["person"],
                name="event_ws_def_time_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.definition_id} @ {self.occurred_at:%Y-%m-%d %H:%M:%S}"


class EventAggregate(models.Model):
    """Per person × definition: count, first and last time, last data (PPMessage aggregates)."""

    # No database constraint on workspace and definition, for the reason given on Event.
    workspace = models.ForeignKey(
        Workspace,
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    person = models.ForeignKey(
        Person, on_delete=models.CASCADE, related_name="aggregates", db_index=False
    )
    definition = models.ForeignKey(
        EventDefinition,
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    count = models.PositiveIntegerField(default=0)
    first_at = models.DateTimeField()
    last_at = models.DateTimeField()
    last_data = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["person", "definition"], name="aggregate_uniq"),
        ]

    def __str__(self) -> str:
        # Shown as the row label of the person page's event summary (which selects the
        # definition with it): the definition's name and code, the count in words.
        return f"{self.definition}: {self.count} event{'' if self.count == 1 else 's'}"


class IngestionLogEntry(models.Model):
    """Rejected input from any endpoint, kept with the reason and the payload (§5), so callers
    of fire-and-forget endpoints can see what went wrong. Pruned by age."""

    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    endpoint = models.CharField(max_length=16, choices=Event.Origin.choices)
    code = models.CharField(max_length=32, verbose_name="reason")
    field = models.CharField(max_length=128, blank=True)
    message = models.CharField(max_length=500)
    payload = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = "ingestion log entry"
        verbose_name_plural = "ingestion log"
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["workspace", "created_at"], name="ingestlog_ws_time_idx")]

    def __str__(self) -> str:
        return f"{self.endpoint}: {self.code} ({self.field})"


class Analytics(Event):
    """The admin's "Analytics" entry: a proxy of ``Event`` without a table of its own, so the
    page is listed with the events app and guarded by its own permission
    (``events.view_analytics``, given to the Marketer group)."""

    class Meta:
        proxy = True
        verbose_name = "analytics"
        verbose_name_plural = "analytics"
        default_permissions = ("view",)


from events.analytics.models import SavedInsight  # noqa: E402, F401
from events.exports.models import ExportFile, ExportRequest, ScheduledExport  # noqa: E402, F401
