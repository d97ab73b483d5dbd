"""Merging two people who turn out to be one customer (SPEC §3).

``people_merge`` is the one write path for a merge: the API's merge endpoint, the
Segment-compatible ``alias`` call and identity resolution (``people.resolution``, when one
reference names identifiers of two people) all call it. It runs in one transaction that takes
the workspace's merge lock (a PostgreSQL advisory lock: merges of one workspace run one at a
time, which is cheap because merges are rare, and spares them deadlocks with each other), then
locks both person rows in id order (``SELECT … FOR UPDATE``), so concurrent ingestion
serialises on the rows instead of interleaving; a concurrent batch that inserts events for the
merged person waits for the lock and then fails its foreign key check, and the ingestion retry
resolves it to the survivor.

What moves to the survivor: identifiers, events, per-definition aggregates (counts summed,
first = min, last = max, last data from the later one), tags, blank standard attributes,
missing custom attributes, score (summed), first/last seen (min/max), the external id when the
survivor has none, trust (``Person.trusted``: either was vouched for), the further lifecycle
stage and the earlier creation time.

Duplicate events: an event of the merged person that repeats one of the survivor's under the
§5 dedupe rule (no external id, same definition and occurred time) is the same happening
reported under two identities. Had the identities been known, ingestion would have answered it
as a duplicate and stored it once, so the merge drops it and takes its contribution off the
aggregate count and the score. Events with an external id are unique per workspace already
and always move.

Apps that keep rows per person (events and aggregates, segment memberships, flow runs)
register a function in ``MERGE_HANDLERS`` at ``AppConfig.ready()``; it is called inside the
transaction, before the merged person is deleted. The events app moves events and aggregates
that way (``events.people_handlers``) and records ``personMerged`` through ``MERGED_HANDLERS``.
"""

from collections.abc import Callable

from django.db import connection, transaction

from cdp.errors import ErrorCode, FieldError, ServiceError
from cdp.outbox import outbox_write
from people.changes import (
    TAG_ADDED,
    ProfileChange,
    contact_change,
    profile_change_codes,
    profile_changes_record,
    profile_diff,
)
from people.models import LifecycleStage, Person, PersonTag, Workspace

STANDARD_FIELDS = (
    "first_name",
    "last_name",
    "gender",
    "birth_date",
    "country",
    "city",
    "address",
    "language",
    "time_zone",
)

# ``handler(survivor=…, merged=…)``: move the app's rows of ``merged`` to ``survivor``; return
# the score the merged person's rows no longer add (events dropped as repeats), or None.
MERGE_HANDLERS: list[Callable[..., int | None]] = []
# ``handler(workspace=…, survivor=…, merged_id=…, merged_external_id=…)``: after the merge, in
# its transaction (events record ``personMerged`` on the survivor).
MERGED_HANDLERS: list[Callable[..., None]] = []


# Namespace of the PostgreSQL advisory lock serialising the merges of one workspace.
MERGE_LOCK_NAMESPACE = 0x4D455247 << 32  # "MERG"


def merge_lock(*, workspace: Workspace) -> bool:
    """Wait until no other transaction merges people of ``workspace``, and hold that until
    this transaction ends; return whether a lock was taken (PostgreSQL only: SQLite
    transactions already hold the database's write lock)."""
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [MERGE_LOCK_NAMESPACE + workspace.pk])
    return True


def people_lock(*, workspace: Workspace, person_ids: set[int] | list[int]) -> dict[int, Person]:
    """Lock people of ``workspace`` in id order (one fixed order for every caller, so merges
    and erasures never wait on each other crosswise) and return those that still exist."""
    query = (
        Person.objects.select_for_update()
        .filter(workspace=workspace, pk__in=list(person_ids))
        .order_by("pk")
    )
    return {person.pk: person for person in query}


def people_merge(*, workspace: Workspace, survivor: Person, merged: Person) -> Person:
    """Move everything of ``merged`` to ``survivor``, delete ``merged``, and return the
    survivor as stored; records ``personMerged`` when the workspace has it enabled."""
    if survivor.pk == merged.pk:
        raise ServiceError(
            FieldError("personId", ErrorCode.INVALID, "a person cannot be merged into themselves")
        )
    for person, field in ((survivor, "id"), (merged, "personId")):
        if person.workspace_id != workspace.pk:
            raise ServiceError(
                FieldError(
                    field,
                    ErrorCode.PERSON_NOT_FOUND,
                    f"no person with id {person.pk} in this workspace",
                )
            )
    with transaction.atomic():
        merge_lock(workspace=workspace)
        locked = people_lock(workspace=workspace, person_ids=[survivor.pk, merged.pk])
        for pk, field in ((survivor.pk, "id"), (merged.pk, "personId")):
            if pk not in locked:  # erased or merged away by a concurrent call
                raise ServiceError(
                    FieldError(
                        field,
                        ErrorCode.PERSON_NOT_FOUND,
                        f"no person with id {pk} in this workspace",
                    )
                )
        survivor, merged = locked[survivor.pk], locked[merged.pk]
        codes = profile_change_codes(workspace_id=workspace.pk)
        gained = _gained(survivor, merged, codes) if codes else []
        before = {field: getattr(survivor, field) for field in STANDARD_FIELDS}
        before_custom = dict(survivor.attributes or {})
        taken = PersonTag.objects.filter(person_id=survivor.pk).values("name")
        PersonTag.objects.filter(person_id=merged.pk).exclude(name__in=taken).update(
            person_id=survivor.pk
        )
        merged.identifiers.update(person_id=survivor.pk)
        dropped_score = 0
        for handler in MERGE_HANDLERS:
            dropped_score += handler(survivor=survivor, merged=merged) or 0
        changed = _profile_combine(workspace, survivor, merged, dropped_score)
        merged_id, merged_external_id = merged.pk, merged.external_id
        merged.delete()  # what is left: tags the survivor already had
        survivor.save(update_fields=[*changed, "modified_at"])
        if codes:
            after = {field: getattr(survivor, field) for field in STANDARD_FIELDS}
            gained += profile_diff(
                survivor.pk, codes, before, after, before_custom, survivor.attributes or {}
            )
            profile_changes_record(workspace_id=workspace.pk, changes=gained)
        _merge_record(workspace, survivor, merged_id, merged_external_id)
    return survivor


def _gained(survivor: Person, merged: Person, codes: frozenset[str]) -> list[ProfileChange]:
    """The tags and contacts the survivor gains from the merged person, as profile changes
    (only those switched on in ``codes``)."""
    changes: list[ProfileChange] = []
    if TAG_ADDED in codes:
        theirs = PersonTag.objects.filter(person_id=merged.pk).exclude(
            name__in=PersonTag.objects.filter(person_id=survivor.pk).values("name")
        )
        changes += [
            ProfileChange(survivor.pk, TAG_ADDED, {"tagName": name})
            for name in theirs.order_by("name").values_list("name", flat=True)
        ]
    for type_, value in merged.identifiers.order_by("type", "value").values_list("type", "value"):
        change = contact_change(survivor.pk, type_, "Added", value)
        if change is not None and change.code in codes:
            changes.append(change)
    return changes


def _profile_combine(
    workspace: Workspace, survivor: Person, merged: Person, dropped_score: int
) -> list[str]:
    """Fill the survivor's blanks from the merged person; return the fields changed."""
    changed = ["score"]
    survivor.score = survivor.score + merged.score - dropped_score
    for field in STANDARD_FIELDS:
        if getattr(survivor, field) in ("", None) and getattr(merged, field) not in ("", None):
            setattr(survivor, field, getattr(merged, field))
            changed.append(field)
    missing = {
        k: v for k, v in (merged.attributes or {}).items() if k not in (survivor.attributes or {})
    }
    if missing:
        survivor.attributes = {**(survivor.attributes or {}), **missing}
        changed.append("attributes")
    if not survivor.external_id and merged.external_id:
        survivor.external_id = merged.external_id
        changed.append("external_id")
    if merged.trusted and not survivor.trusted:
        survivor.trusted = True
        changed.append("trusted")
    seen_first = [t for t in (survivor.first_seen_at, merged.first_seen_at) if t]
    seen_last = [t for t in (survivor.last_seen_at, merged.last_seen_at) if t]
    survivor.first_seen_at = min(seen_first, default=None)
    survivor.last_seen_at = max(seen_last, default=None)
    changed += ["first_seen_at", "last_seen_at"]
    if merged.created_at < survivor.created_at:
        survivor.created_at = merged.created_at
        changed.append("created_at")
    if merged.lifecycle_stage and merged.lifecycle_stage != survivor.lifecycle_stage:
        positions = dict(
            LifecycleStage.objects.filter(workspace=workspace).values_list("code", "position")
        )
        if positions.get(merged.lifecycle_stage, -1) > positions.get(survivor.lifecycle_stage, -1):
            survivor.lifecycle_stage = merged.lifecycle_stage
            changed.append("lifecycle_stage")
    return changed


def _merge_record(
    workspace: Workspace, survivor: Person, merged_id: int, merged_external_id: str | None
) -> None:
    """Tell other apps, after commit (the outbox) and now (``MERGED_HANDLERS``)."""
    outbox_write(
        workspace=workspace,
        topic="people.merged",
        payload={"survivor_id": survivor.pk, "merged_id": merged_id},
    )
    for handler in MERGED_HANDLERS:
        handler(
            workspace=workspace,
            survivor=survivor,
            merged_id=merged_id,
            merged_external_id=merged_external_id,
        )
