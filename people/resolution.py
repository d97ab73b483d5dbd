"""Identity resolution for a batch: map person references to person ids in a few queries.

One query per kind of reference (ids, external ids, identifiers), then one bulk insert of
the people to create, one of the identifiers to attach and, where an anonymous person learns
their external id, one update. References are grouped with a union-find over what they name
(stored people and unknown keys), so that one new customer named twice in a batch becomes
one person, and an unknown identifier sent with a known person is attached to that person.

When one group holds two stored people (a reference names identifiers of both, or two
references share an unknown identifier), they are one customer: they are merged with
``people.merge.people_merge`` into the person the reference names explicitly by id or
external id, else into the oldest (lowest id). Only such groups pay for the merge; the common
case stays set-based. A batch that needs merges takes the workspace's merge lock
(``people.merge.merge_lock``) and reads again, so it sees every merge committed before it; it
then locks all people to merge in id order. One that a concurrent call erased meanwhile raises
``ResolutionConflict`` (an ``IntegrityError``): resolution reads again a few times, then leaves
it to the callers' retry.

Public keys (``trusted=False``, SPEC §2) resolve under one more rule. A person is **known**
when they have an external id or a trusted identity (``Person.trusted``: created or given an
identifier by a secret key, the admin or the system). A public reference that names a known
person together with anything else (another person, an identifier or external id nobody
holds) drops what names the known person: the rest resolves as usual (anonymous people may be
merged, new identifiers linked, a new person created), and each dropped name is returned in
``Resolution.ignored`` for the ingestion log. A public reference naming only one known person
reaches them (their events are theirs) but changes nothing on them; one naming only several
known people keeps the first it names (external id first) and drops the others. Public
references may not name people by internal id, and people they create are untrusted.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field

from django.db import IntegrityError, connection
from django.db.models import BooleanField, Case, ExpressionWrapper, Q, Value, When
from django.utils import timezone

from cdp.errors import ErrorCode, FieldError, ServiceError
from people.changes import contact_change, profile_change_codes, profile_changes_record
from people.identity import EXTERNAL_ID_ALIASES, normalise_identifier
from people.inputs import PersonRef
from people.merge import merge_lock, people_lock, people_merge
from people.models import Identifier, Person, Workspace

LOCAL_ATTEMPTS = 3
KNOWN_PERSON_MESSAGE = (
    "held by a known person: a public key cannot merge, move or relabel "
    "them, so it was ignored; the event was stored without it"
)


class ResolutionConflict(IntegrityError):
    """A person to merge was erased (or merged) by a concurrent call: resolve again."""


class _MergeLockTaken(Exception):
    """The batch needs merges and has just taken the workspace's merge lock."""


@dataclass
class Resolution:
    person_ids: list[int | None]
    errors: list[tuple[FieldError, ...]]
    stages: dict[int, str]
    created: int = 0
    merged: int = 0
    # People created, or given an identifier or external id, by this batch: their profile
    # changed beyond what the events say, so every segment re-checks them.
    touched: frozenset[int] = frozenset()
    # Public keys only: per item, the names dropped because they hold a known person, and
    # whether the person resolved was known before the batch (a public key changes nothing on
    # them but their events).
    ignored: dict[int, tuple[FieldError, ...]] = field(default_factory=dict)
    known: list[bool] = field(default_factory=list)


def _normalise(ref: PersonRef) -> tuple[str | None, list[tuple[str, str]]]:
    external_id = ref.external_id
    pairs: list[tuple[str, str]] = []
    if not isinstance(ref.identifiers, dict):
        raise ServiceError(
            FieldError(
                "person.identifiers", ErrorCode.INVALID_TYPE, "must be an object of type: value"
            )
        )
    for type_, value in ref.identifiers.items():
        if value is None or value == "":
            continue
        if type_ in EXTERNAL_ID_ALIASES:
            external_id = external_id or value
            continue
        pairs.append(normalise_identifier(type_, value, f"person.identifiers.{type_}"))
    if external_id is not None:
        if isinstance(external_id, bool) or not isinstance(external_id, str | int):
            raise ServiceError(
                FieldError("person.externalId", ErrorCode.INVALID_TYPE, "must be a string")
            )
        external_id = str(external_id).strip() or None
        if external_id and len(external_id) > 255:
            raise ServiceError(
                FieldError("person.externalId", ErrorCode.TOO_LONG, "at most 255 characters")
            )
    return external_id, pairs


class _Groups:
    """Union-find over hashable nodes; a node never joined to another is its own root."""

    def __init__(self):
        self.parent: dict = {}

    def find(self, key):
        parent = self.parent
        if key not in parent:
            return key
        while parent.setdefault(key, key) != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    def union(self, a, b) -> None:
        root_a, root_b = self.find(a), self.find(b)
        if root_a != root_b:
            self.parent[root_b] = root_a
            self.parent.setdefault(root_a, root_a)


def _people_rows(workspace_id: int, ids: set[int], exts: set[str]) -> list[tuple]:
    """(id, external id, lifecycle stage, trusted) of the workspace's people named by id or
    external id. One query; on PostgreSQL the keys travel as two array parameters rather than one
    placeholder each, which keeps a 1,000-event batch's lookup cheap to build and parse."""
    if not ids and not exts:
        return []
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT id, external_id, lifecycle_stage, trusted "
                f"FROM {Person._meta.db_table} "
                "WHERE workspace_id = %s AND (id = ANY(%s) OR external_id = ANY(%s))",
                [workspace_id, list(ids), list(exts)],
            )
            return cursor.fetchall()
    return list(
        Person.objects.filter(workspace_id=workspace_id)
        .filter(Q(pk__in=ids) | Q(external_id__in=exts))
        .values_list("pk", "external_id", "lifecycle_stage", "trusted")
    )


def _identifier_rows(workspace_id: int, pairs: set[tuple[str, str]]) -> list[tuple]:
    """(type, value, person id, lifecycle stage, trusted, known) of stored identifiers among
    ``pairs`` (and possibly a few more of the same types and values, filtered by the
    caller)."""
    if not pairs:
        return []
    types, values = {t for t, _ in pairs}, {v for _, v in pairs}
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT i.type, i.value, i.person_id, p.lifecycle_stage, p.trusted, "
                f"p.trusted OR p.external_id IS NOT NULL "
                f"FROM {Identifier._meta.db_table} i JOIN {Person._meta.db_table} p "
                "ON p.id = i.person_id WHERE i.workspace_id = %s AND i.type = ANY(%s) "
                "AND i.value = ANY(%s)",
                [workspace_id, list(types), list(values)],
            )
            return cursor.fetchall()
    return list(
        Identifier.objects.filter(workspace_id=workspace_id, type__in=types, value__in=values)
        .annotate(
            known=ExpressionWrapper(
                Q(person__trusted=True) | Q(person__external_id__isnull=False),
                output_field=BooleanField(),
            )
        )
        .values_list(
            "type", "value", "person_id", "person__lifecycle_stage", "person__trusted", "known"
        )
    )


def people_resolve(
    *, workspace: Workspace, refs: Sequence[PersonRef | None], create: bool, trusted: bool = True
) -> Resolution:
    """Resolve each reference to a person id (None where the item is skipped or fails),
    merging people that one reference shows to be the same customer. ``trusted`` is False
    for a public key's references: they never merge, move or relabel a known person."""
    merge_locked, conflicts = False, 0
    while True:
        try:
            return _resolve(workspace, refs, create, trusted, merge_locked=merge_locked)
        except _MergeLockTaken:
            # Merges of a workspace run one at a time; having waited for the others, read
            # again what they committed.
            merge_locked = True
        except ResolutionConflict:
            # Raised before anything was written: reading again sees the concurrent erasure
            # (each statement reads what is committed), without rolling the caller back.
            conflicts += 1
            if conflicts == LOCAL_ATTEMPTS:
                raise


def _public_nodes(
    nodes: list[tuple], fields: list[str], known: dict[int, bool]
) -> tuple[list[tuple], tuple[FieldError, ...]]:
    """A public reference's nodes without those naming a known person when it names anything
    else; return the nodes kept and an error per name dropped."""
    held = [node[0] == "p" and known[node[1]] for node in nodes]
    if not any(held):
        return nodes, ()
    kept = [node for node, is_known in zip(nodes, held, strict=True) if not is_known]
    if not kept:
        first = nodes[0]
        if all(node == first for node in nodes):
            return nodes, ()  # one known person, named alone: their events are theirs
        kept = [first]
    dropped = tuple(
        FieldError(name, ErrorCode.KNOWN_PERSON, KNOWN_PERSON_MESSAGE)
        for node, name in zip(nodes, fields, strict=True)
        if node not in kept
    )
    return kept, dropped


def _resolve(
    workspace: Workspace,
    refs: Sequence[PersonRef | None],
    create: bool,
    trusted: bool,
    *,
    merge_locked: bool,
) -> Resolution:
    n = len(refs)
    person_ids: list[int | None] = [None] * n
    errors: list[tuple[FieldError, ...]] = [()] * n
    normalised: list[tuple[int | None, str | None, list[tuple[str, str]]] | None] = [None] * n
    for i, ref in enumerate(refs):
        if ref is None:
            continue
        try:
            ext, pairs = _normalise(ref)
        except ServiceError as exc:
            errors[i] = tuple(exc.errors)
            continue
        pid = ref.id
        if pid is not None and (isinstance(pid, bool) or not isinstance(pid, int)):
            errors[i] = (FieldError("person.id", ErrorCode.INVALID_TYPE, "must be an integer"),)
            continue
        if pid is not None and not trusted:
            # Internal ids are never shown to public keys; accepting them would answer
            # whether a person exists.
            errors[i] = (
                FieldError(
                    "person.id",
                    ErrorCode.INVALID,
                    "a public key names people by externalId or identifiers",
                ),
            )
            continue
        if pid is None and not ext and not pairs:
            errors[i] = (
                FieldError(
                    "person", ErrorCode.REQUIRED, "name the person by id, externalId or identifiers"
                ),
            )
            continue
        normalised[i] = (pid, ext, pairs)

    wanted_ids = {r[0] for r in normalised if r and r[0] is not None}
    wanted_ext = {r[1] for r in normalised if r and r[1]}
    wanted_pairs = {p for r in normalised if r for p in r[2]}
    stages: dict[int, str] = {}
    by_ext: dict[str, int] = {}
    trusted_of: dict[int, bool] = {}
    known: dict[int, bool] = {}
    for pk, ext, stage, is_trusted in _people_rows(workspace.pk, wanted_ids, wanted_ext):
        stages[pk] = stage
        trusted_of[pk] = is_trusted
        known[pk] = is_trusted or ext is not None
        if ext:
            by_ext[ext] = pk
    owner: dict[tuple[str, str], int] = {}
    for type_, value, pk, stage, is_trusted, is_known in _identifier_rows(
        workspace.pk, wanted_pairs
    ):
        if (type_, value) in wanted_pairs:
            owner[(type_, value)] = pk
            stages[pk] = stage
            trusted_of[pk] = is_trusted
            known[pk] = is_known
    ignored: dict[int, tuple[FieldError, ...]] = {}

    # Group what each reference names: stored people ("p", id) and unknown external ids
    # ("x", id) or identifiers ("k", type, value).
    groups = _Groups()
    nodes_of: dict[int, list[tuple]] = {}
    named: set[int] = set()  # people a reference names by id or external id
    # References naming only a stored external id (most, once people are known) join no
    # group of their own: they take their person, or its survivor if a merge takes it.
    plain: list[tuple[int, int]] = []
    for i, item in enumerate(normalised):
        if item is None:
            continue
        pid, ext, pairs = item
        if pid is None and not pairs and ext in by_ext:
            named.add(by_ext[ext])
            plain.append((i, by_ext[ext]))
            continue
        nodes = []
        if pid is not None:
            if pid not in stages:
                errors[i] = (
                    FieldError("person.id", ErrorCode.PERSON_NOT_FOUND, f"no person with id {pid}"),
                )
                continue
            nodes.append(("p", pid))
        if ext and ext in by_ext:
            nodes.append(("p", by_ext[ext]))
        elif ext:
            nodes.append(("x", ext))
        for pair in pairs:
            nodes.append(("p", owner[pair]) if pair in owner else ("k", *pair))
        if not trusted:
            fields = (["person.externalId"] if ext else []) + [
                f"person.identifiers.{type_}" for type_, _ in pairs
            ]
            nodes, ignored[i] = _public_nodes(nodes, fields, known)
            if not ignored[i]:
                del ignored[i]
            elif ext in by_ext and ("p", by_ext[ext]) not in nodes:
                normalised[i] = (pid, None, pairs)  # the external id was dropped
        if pid is not None:
            named.add(pid)
        if ext and ext in by_ext and ("p", by_ext[ext]) in nodes:
            named.add(by_ext[ext])
        nodes_of[i] = nodes
        for node in nodes[1:]:
            groups.union(nodes[0], node)

    find = groups.find
    people_of: dict[tuple, set[int]] = {}
    for nodes in nodes_of.values():
        for node in nodes:
            if node[0] == "p":
                people_of.setdefault(find(node), set()).add(node[1])
    person_of: dict[tuple, int] = {}
    merges: list[tuple[int, list[int]]] = []
    for root, people in people_of.items():
        if len(people) == 1:
            person_of[root] = next(iter(people))
            continue
        survivor = min(people & named or people)
        person_of[root] = survivor
        merges.append((survivor, sorted(people - {survivor})))
    if merges and not merge_locked and merge_lock(workspace=workspace):
        raise _MergeLockTaken
    merged = _merge(workspace, merges, stages) if merges else 0

    new_roots: dict[tuple, list[int]] = {}
    for i, nodes in nodes_of.items():
        root = find(nodes[0])
        if root in person_of:
            person_ids[i] = person_of[root]
        elif create:
            new_roots.setdefault(root, []).append(i)
        else:
            errors[i] = (
                FieldError("person", ErrorCode.PERSON_NOT_FOUND, "no person has these identifiers"),
            )
    for i, pk in plain:
        person_ids[i] = person_of.get(find(("p", pk)), pk)

    created = 0
    if new_roots:
        exts = {
            root: next((normalised[i][1] for i in members if normalised[i][1]), None)
            for root, members in new_roots.items()
        }
        # Inserted in external id order, as identifiers below in (type, value) order: one
        # order for every writer, so concurrent batches wait on a unique key rather than
        # deadlock.
        roots = sorted(new_roots, key=lambda root: (exts[root] is None, exts[root] or ""))
        new_people = [
            Person(workspace=workspace, external_id=exts[root], trusted=trusted) for root in roots
        ]
        Person.objects.bulk_create(new_people)
        created = len(new_people)
        for person, root in zip(new_people, roots, strict=True):
            stages[person.pk] = ""
            person_of[root] = person.pk
            for i in new_roots[root]:
                person_ids[i] = person.pk

    # Attach what nobody owns yet to the person it was sent with: identifiers, and an external
    # id to a stored person who has none (an anonymous visitor who logs in). New people got
    # theirs when created.
    attach: dict[tuple[str, str], int] = {}
    external: dict[int, str] = {}
    new_ids = {person_of[root] for root in new_roots}
    for i in nodes_of:
        if person_ids[i] is None:
            continue
        _, ext, pairs = normalised[i]
        for pair in pairs:
            if pair not in owner and pair not in attach:
                attach[pair] = person_ids[i]
        if ext and ext not in by_ext and person_ids[i] not in new_ids:
            external.setdefault(person_ids[i], ext)
    if external:
        # Conditional: a person keeps the external id they have. A concurrent batch that gave
        # the same external id to someone else fails this one (unique index), and the retry
        # merges the two.
        Person.objects.filter(pk__in=list(external), external_id__isnull=True).update(
            external_id=Case(*[When(pk=pk, then=Value(ext)) for pk, ext in external.items()]),
            modified_at=timezone.now(),
        )
    # A trusted source giving an untrusted person an identifier or external id vouches for
    # them: from now on they are known.
    vouched = [pk for pk in {*attach.values(), *external} if not trusted_of.get(pk, True)]
    if trusted and vouched:
        Person.objects.filter(pk__in=vouched).update(trusted=True)
    if attach:
        now = timezone.now()
        # No ignore_conflicts: an identifier taken meanwhile by a concurrent batch must fail
        # this batch (IntegrityError), so that the ingestion retry resolves to that person
        # instead of keeping a second person for the same customer.
        Identifier.objects.bulk_create(
            [
                Identifier(workspace=workspace, person_id=pk, type=t, value=v, created_at=now)
                for (t, v), pk in sorted(attach.items())
            ],
        )
        # Contacts given to people who existed before (a new person's are no change).
        codes = profile_change_codes(workspace_id=workspace.pk)
        if codes:
            changes = [
                contact_change(pk, t, "Added", v)
                for (t, v), pk in sorted(attach.items())
                if pk not in new_ids
            ]
            profile_changes_record(
                workspace_id=workspace.pk,
                changes=[c for c in changes if c is not None and c.code in codes],
            )
    touched = frozenset(new_ids | set(attach.values()) | set(external))
    return Resolution(
        person_ids=person_ids,
        errors=errors,
        stages=stages,
        created=created,
        touched=touched,
        merged=merged,
        ignored=ignored,
        known=[] if trusted else [known.get(pk, False) for pk in person_ids],
    )


def _merge(
    workspace: Workspace, merges: list[tuple[int, list[int]]], stages: dict[int, str]
) -> int:
    """Merge each group into its survivor; return how many people were merged away."""
    everyone = {pk for survivor, others in merges for pk in (survivor, *others)}
    locked = people_lock(workspace=workspace, person_ids=everyone)
    if len(locked) != len(everyone):
        raise ResolutionConflict("a person to merge was merged or erased by a concurrent call")
    for survivor_id, others in merges:
        survivor = locked[survivor_id]
        for other in others:
            survivor = people_merge(workspace=workspace, survivor=survivor, merged=locked[other])
            stages.pop(other, None)
        stages[survivor_id] = survivor.lifecycle_stage
    return sum(len(others) for _, others in merges)
