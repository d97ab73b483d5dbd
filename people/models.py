"""Workspaces, API keys, people, their identifiers, tags and custom attributes (SPEC §2, §3)."""

from django.conf import settings
from django.db import models
from django.db.models import Q


class Workspace(models.Model):
    """An account. Sub-accounts point at their parent and inherit its event definitions."""

    class UnknownTrack(models.TextChoices):
        AUTO_DEFINE = "auto_define", "Define a custom event automatically"
        REJECT = "reject", "Reject into the ingestion log"

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=64, unique=True)
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
        help_text="Sub-accounts use the event definitions of their parent.",
    )
    unknown_track = models.CharField(
        max_length=16,
        choices=UnknownTrack.choices,
        default=UnknownTrack.AUTO_DEFINE,
        verbose_name="unknown tracked events",
        help_text="What Segment-style track calls with an unknown event name do.",
    )
    allowed_origins = models.JSONField(
        default=list,
        blank=True,
        verbose_name="allowed origins",
        help_text="Web pages whose browsers may send to the Segment-compatible endpoints "
        "(scheme://host[:port], e.g. https://shop.example.com), one per line; * allows any "
        "page. Empty: none (server-side clients are never affected).",
    )
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="workspaces",
        help_text="Staff users who see this workspace's data in the admin.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def lineage_ids(self) -> list[int]:
        """Return this workspace's id followed by its ancestors' ids."""
        ids, node, seen = [], self, set()
        while node is not None and node.pk not in seen:
            ids.append(node.pk)
            seen.add(node.pk)
            node = node.parent
        return ids


class ApiKey(models.Model):
    """A workspace key. Only its SHA-256 hash is stored; the key is shown once at creation."""

    class Kind(models.TextChoices):
        SECRET = "secret", "Secret (server: ingest, read, manage)"
        PUBLIC = "public", "Public (browser SDK: ingest only)"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100, blank=True)
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.SECRET)
    prefix = models.CharField(max_length=16, help_text="First characters, to recognise the key.")
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API key"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.get_kind_display()})"

    @property
    def is_secret(self) -> bool:
        """Secret keys read and manage; public ones only ingest."""
        return self.kind == self.Kind.SECRET


class LifecycleStage(models.Model):
    """A configurable lifecycle stage; people only move forward (higher position)."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="stages")
    code = models.SlugField(max_length=32)
    name = models.CharField(max_length=100)
    position = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["workspace", "position"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "code"], name="stage_ws_code_uniq"),
        ]

    def __str__(self) -> str:
        return self.name


class Person(models.Model):
    """One customer profile in a workspace."""

    class Gender(models.TextChoices):
        FEMALE = "female", "Female"
        MALE = "male", "Male"
        OTHER = "other", "Other"

    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="people", db_index=False
    )
    external_id = models.CharField(max_length=255, null=True, blank=True)
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    gender = models.CharField(max_length=8, choices=Gender.choices, blank=True)
    birth_date = models.DateField(null=True, blank=True)
    country = models.CharField(max_length=64, blank=True)
    city = models.CharField(max_length=100, blank=True)
    address = models.CharField(max_length=255, blank=True)
    language = models.CharField(max_length=16, blank=True)
    time_zone = models.CharField(max_length=64, blank=True)
    lifecycle_stage = models.CharField(max_length=32, blank=True)
    score = models.IntegerField(default=0, help_text="Activity score added by events.")
    first_seen_at = models.DateTimeField(null=True, blank=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    attributes = models.JSONField(
        default=dict,
        blank=True,
        verbose_name="custom attributes",
        help_text="Values of the workspace's attribute definitions.",
    )
    trusted = models.BooleanField(
        default=True,
        verbose_name="identity from a trusted source",
        help_text="Set when a secret key, the admin or the system created this person or gave "
        "them an identifier. A trusted person, or anyone with an external id, is "
        "known: public keys never merge, move or relabel them (SPEC §2).",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    modified_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "people"
        # Newest first by primary key: ingestion updates last_seen_at on every batch, and an
        # index on it would turn those cheap in-place (HOT) updates into index writes.
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "external_id"],
                condition=Q(external_id__isnull=False),
                name="person_ws_external_id_uniq",
            ),
        ]
        # A workspace's people in id order from the index alone: audiences (a person id set
        # sorted by grouping events per person) merge-join with it instead of reading every
        # person row, and the people list pages through it.
        indexes = [models.Index(fields=["workspace", "id"], name="person_ws_id_idx")]

    def __str__(self) -> str:
        name = f"{self.first_name} {self.last_name}".strip()
        return name or self.external_id or f"Person {self.pk}"


class Identifier(models.Model):
    """Contact information or an identity of a person: ``(type, value)`` unique per workspace."""

    class Type(models.TextChoices):
        EMAIL = "email", "Email"
        PHONE = "phone", "Phone"
        PUSH = "push", "Push registration id"
        ANONYMOUS = "anonymous_id", "Anonymous id (web cookie)"
        FACEBOOK = "facebook", "Facebook"
        ONEID = "oneid", "OneID"
        MOBILE = "mobile", "Mobile"
        TAOBAO_ID = "taobao_id", "Taobao id"
        TAOBAO_NICK = "taobao_nick", "Taobao nick"
        IMEI = "imei", "IMEI"
        IDFA = "idfa", "IDFA"
        MAC = "mac", "MAC address"
        WEIBO_ID = "weibo_id", "Weibo id"
        ALIPAY_ID = "alipay_id", "Alipay id"
        OPEN_ID = "open_id", "WeChat OpenID"
        UNION_ID = "union_id", "WeChat UnionID"

    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    person = models.ForeignKey(
        Person, on_delete=models.CASCADE, related_name="identifiers", db_index=False
    )
    type = models.CharField(max_length=16, choices=Type.choices)
    value = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "type", "value"], name="identifier_ws_type_value_uniq"
            ),
        ]
        indexes = [models.Index(fields=["person", "type"], name="identifier_person_idx")]

    def __str__(self) -> str:
        return f"{self.type}: {self.value}"


class PersonTag(models.Model):
    """A tag on a person (from the admin, the API or an event's ``tags``)."""

    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    person = models.ForeignKey(
        Person, on_delete=models.CASCADE, related_name="tags", db_index=False
    )
    name = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "tag"
        constraints = [
            models.UniqueConstraint(fields=["person", "name"], name="tag_person_name_uniq"),
        ]
        indexes = [models.Index(fields=["workspace", "name"], name="tag_ws_name_idx")]

    def __str__(self) -> str:
        return self.name


class AttributeDefinition(models.Model):
    """A custom person attribute of a workspace; values are validated against its type."""

    class Type(models.TextChoices):
        TEXT = "text", "Text"
        NUMBER = "number", "Number"
        BOOLEAN = "boolean", "True/false"
        DATE = "date", "Date"
        LIST = "list", "List of texts"

    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="attribute_definitions"
    )
    key = models.SlugField(max_length=64, help_text="Used in the API and in segments.")
    name = models.CharField(max_length=100)
    type = models.CharField(max_length=8, choices=Type.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["workspace", "key"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "key"], name="attrdef_ws_key_uniq"),
        ]

    def __str__(self) -> str:
        return self.name or self.key


class ErasureRecord(models.Model):
    """Audit log of GDPR erasures (§3): who asked, why, when and how much was deleted.

    Written by ``people.erasure.person_erase`` in the same transaction as the deletion. It
    keeps nothing that identifies the person beyond the internal id they had: no name, no
    identifier, no external id (a hash of an email or customer number can be reversed by
    trying candidates, so it would still be personal data).
    """

    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    erased_person_id = models.BigIntegerField(
        verbose_name="erased person id", help_text="The internal id the person had."
    )
    events_deleted = models.PositiveIntegerField(default=0)
    identifiers_deleted = models.PositiveIntegerField(default=0)
    tags_deleted = models.PositiveIntegerField(default=0)
    log_entries_deleted = models.PositiveIntegerField(
        default=0,
        verbose_name="ingestion log entries deleted",
        help_text="Rejected payloads that mentioned one of the person's identifiers.",
    )
    requested_by = models.CharField(
        max_length=200, help_text="Who asked for the erasure (user or API key)."
    )
    reason = models.TextField(blank=True, help_text="Ticket or request reference.")
    erased_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "erasure record"
        ordering = ["-erased_at", "-id"]
        indexes = [models.Index(fields=["workspace", "erased_at"], name="erasure_ws_time_idx")]

    def __str__(self) -> str:
        return f"Person {self.erased_person_id} erased {self.erased_at:%Y-%m-%d %H:%M}"


# Segments live in their own package but belong to this app (one migration history).
from people.segments.models import Segment, SegmentMembership  # noqa: E402, F401
