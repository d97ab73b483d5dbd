"""Identity resolution for a batch: map person references to person ids in a few queries.

One query per kind of reference (ids, external ids, identifiers), then one bulk insert of
the people to create, one of the identifiers to attach and, where an anonymous person learns
their external id, one update. References are grouped with a union-find over what they name
(stored people and unknown keys), so that one new customer named twice in a batch becomes
one person, and an unknown identifier sent with a known person is attached to that person.

When one group holds two stored people (a reference names identifiers of both, or two
references share an unknown identifier), they are one customer: they are merged with
``people.merge.persons_merge`` into the person the reference names explicitly by id or
external id, else into the oldest (lowest id). Only such groups pay for the merge; the common
case stays set-based. A batch that needs merges takes the workspace's merge lock
(``people.merge.merge_lock``) and reads again, so it sees every merge committed before it; it
then locks all people to merge in id order. One that a concurrent call erased meanwhile raises
``ResolutionConflict`` (an ``IntegrityError``): resolution reads again a few times, then leaves
it to the callers' retry.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from django.db import IntegrityError, connection
from django.db.models import Case, Q, Value, When
from django.utils import timezone

from events.errors import ErrorCode, FieldError, ServiceError
from events.inputs import PersonRef
from people.identity import EXTERNAL_ID_ALIASES, normalise_identifier
from people.merge import merge_lock, persons_lock, persons_merge
from people.models import Identifier, Person, Workspace

LOCAL_ATTEMPTS = 3


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


def _normalise(ref: PersonRef) -> tuple[str | None, list[tuple[str, str]]]:
    external_id = ref.external_id
    pairs: list[tuple[str, str]] = []
    if not isinstance(ref.identifiers, dict):
        raise ServiceError(FieldError("person.identifiers", ErrorCode.INVALID_TYPE,
                                      "must be an object of type: value"))
    for type_, value in ref.identifiers.items():
        if value is None or value == "":
            continue
        if type_ in EXTERNAL_ID_ALIASES:
            external_id = external_id or value
            continue
        pairs.append(normalise_identifier(type_, value, f"person.identifiers.{type_}"))
    if external_id is not None:
        if isinstance(external_id, bool) or not isinstance(external_id, str | int):
            raise ServiceError(FieldError("person.externalId", ErrorCode.INVALID_TYPE,
                                          "must be a string"))
        external_id = str(external_id).strip() or None
        if external_id and len(external_id) > 255:
            raise ServiceError(FieldError("person.externalId", ErrorCode.TOO_LONG,
                                          "at most 255 characters"))
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
    """(id, external id, lifecycle stage) of the workspace's people named by id or external
    id. One query; on PostgreSQL the keys travel as two array parameters rather than one
    placeholder each, which keeps a 1,000-event batch's lookup cheap to build and parse."""
    if not ids and not exts:
        return []
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT id, external_id, lifecycle_stage FROM {Person._meta.db_table} "
                "WHERE workspace_id = %s AND (id = ANY(%s) OR external_id = ANY(%s))",
                [workspace_id, list(ids), list(exts)])
            return cursor.fetchall()
    return list(Person.objects.filter(workspace_id=workspace_id)
                .filter(Q(pk__in=ids) | Q(external_id__in=exts))
                .values_list("pk", "external_id", "lifecycle_stage"))


def _identifier_rows(workspace_id: int, pairs: set[tuple[str, str]]) -> list[tuple]:
    """(type, value, person id, lifecycle stage) of stored identifiers among ``pairs`` (and
    possibly a few more of the same types and values, filtered by the caller)."""
    if not pairs:
        return []
    types, values = {t for t, _ in pairs}, {v for _, v in pairs}
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT i.type, i.value, i.person_id, p.lifecycle_stage "
                f"FROM {Identifier._meta.db_table} i JOIN {Person._meta.db_table} p "
                "ON p.id = i.person_id WHERE i.workspace_id = %s AND i.type = ANY(%s) "
                "AND i.value = ANY(%s)", [workspace_id, list(types), list(values)])
            return cursor.fetchall()
    return list(Identifier.objects.filter(workspace_id=workspace_id, type__in=types,
                                          value__in=values)
                .values_list("type", "value", "person_id", "person__lifecycle_stage"))


def persons_resolve(*, workspace: Workspace, refs: Sequence[PersonRef | None],
                    create: bool) -> Resolution:
    """Resolve each reference to a person id (None where the item is skipped or fails),
    merging people that one reference shows to be the same customer."""
    merge_locked, conflicts = False, 0
    while True:
        try:
            return _resolve(workspace, refs, create, merge_locked=merge_locked)
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


def _resolve(workspace: Workspace, refs: Sequence[PersonRef | None], create: bool, *,
             merge_locked: bool) -> Resolution:
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
        if pid is None and not ext and not pairs:
            errors[i] = (FieldError("person", ErrorCode.REQUIRED,
                                    "name the person by id, externalId or identifiers"),)
            continue
        normalised[i] = (pid, ext, pairs)

    wanted_ids = {r[0] for r in normalised if r and r[0] is not None}
    wanted_ext = {r[1] for r in normalised if r and r[1]}
    wanted_pairs = {p for r in normalised if r for p in r[2]}
    stages: dict[int, str] = {}
    by_ext: dict[str, int] = {}
    for pk, ext, stage in _people_rows(workspace.pk, wanted_ids, wanted_ext):
        stages[pk] = stage
        if ext:
            by_ext[ext] = pk
    owner: dict[tuple[str, str], int] = {}
    for type_, value, pk, stage in _identifier_rows(workspace.pk, wanted_pairs):
        if (type_, value) in wanted_pairs:
            owner[(type_, value)] = pk
            stages[pk] = stage

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
                errors[i] = (FieldError("person.id", ErrorCode.PERSON_NOT_FOUND,
                                        f"no person with id {pid}"),)
                continue
            nodes.append(("p", pid))
            named.add(pid)
        if ext and ext in by_ext:
            nodes.append(("p", by_ext[ext]))
            named.add(by_ext[ext])
        elif ext:
            nodes.append(("x", ext))
        for pair in pairs:
            nodes.append(("p", owner[pair]) if pair in owner else ("k", *pair))
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
            errors[i] = (FieldError("person", ErrorCode.PERSON_NOT_FOUND,
                                    "no person has these identifiers"),)
    for i, pk in plain:
        person_ids[i] = person_of.get(find(("p", pk)), pk)

    created = 0
    if new_roots:
        exts = {root: next((normalised[i][1] for i in members if normalised[i][1]), None)
                for root, members in new_roots.items()}
        # Inserted in external id order, as identifiers below in (type, value) order: one
        # order for every writer, so concurrent batches wait on a unique key rather than
        # deadlock.
        roots = sorted(new_roots, key=lambda root: (exts[root] is None, exts[root] or ""))
        new_people = [Person(workspace=workspace, external_id=exts[root]) for root in roots]
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
            modified_at=timezone.now())
    if attach:
        now = timezone.now()
        # No ignore_conflicts: an identifier taken meanwhile by a concurrent batch must fail
        # this batch (IntegrityError), so that the ingestion retry resolves to that person
        # instead of keeping a second person for the same customer.
        Identifier.objects.bulk_create(
            [Identifier(workspace=workspace, person_id=pk, type=t, value=v, created_at=now)
             for (t, v), pk in sorted(attach.items())],
        )
    touched = frozenset(new_ids | set(attach.values()) | set(external))
    return Resolution(person_ids=person_ids, errors=errors, stages=stages, created=created,
                      touched=touched,
                      merged=merged)


def _merge(workspace: Workspace, merges: list[tuple[int, list[int]]],
           stages: dict[int, str]) -> int:
    """Merge each group into its survivor; return how many people were merged away."""
    everyone = {pk for survivor, others in merges for pk in (survivor, *others)}
    locked = persons_lock(workspace=workspace, person_ids=everyone)
    if len(locked) != len(everyone):
        raise ResolutionConflict("a person to merge was merged or erased by a concurrent call")
    for survivor_id, others in merges:
        survivor = locked[survivor_id]
        for other in others:
            survivor = persons_merge(workspace=workspace, survivor=survivor,
                                     merged=locked[other])
            stages.pop(other, None)
        stages[survivor_id] = survivor.lifecycle_stage
    return sum(len(others) for _, others in merges)
