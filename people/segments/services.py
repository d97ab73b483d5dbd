"""Write paths for segments: create, change, delete, preview, static members.

The API, the admin and tasks call these; nothing else writes segments or memberships. A
saved dynamic segment is refreshed by ``segment_refresh_task`` after commit; refreshes and
incremental updates live in ``people.segments.refresh``.
"""

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from cdp.errors import ErrorCode, FieldError, ServiceError
from people.errors import SegmentErrorCode
from people.identity import EXTERNAL_ID_ALIASES, normalise_identifier
from people.models import Identifier, Person, Workspace
from people.segments.compiler import audience_settings_apply, people_matching
from people.segments.conditions import operators_normalise
from people.segments.incremental import segments_reevaluate
from people.segments.models import Segment, SegmentMembership
from people.segments.refresh import segment_changes_announce
from people.segments.rules import rules_validate
from people.segments.selectors import segment_usages
from people.tasks import segment_refresh_task

MAX_IMPORT_ROWS = 100_000


@dataclass(frozen=True)
class ImportResult:
    """What a CSV import did: people added, rows that named nobody, rows with bad values."""

    added: int
    unmatched: int
    invalid: tuple[FieldError, ...]


def segment_refresh_queue(*, segment: Segment) -> None:
    """Mark a dynamic segment queued and run ``segment_refresh_task`` after commit."""
    if segment.is_dynamic:
        Segment.objects.filter(pk=segment.pk).update(refresh_status=Segment.RefreshStatus.QUEUED)
        transaction.on_commit(lambda: segment_refresh_task.delay(segment.pk))


def _check_name(workspace: Workspace, name, exclude: int | None = None) -> str:
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise ServiceError(
            FieldError(
                "name", ErrorCode.REQUIRED, "give the segment a name (at most 200 characters)"
            )
        )
    taken = Segment.objects.filter(workspace=workspace, name=name.strip())
    if taken.exclude(pk=exclude).exists():
        raise ServiceError(
            FieldError(
                "name", ErrorCode.DUPLICATE, f"a segment named {name.strip()!r} already exists"
            )
        )
    return name.strip()


def segment_create(
    *,
    workspace: Workspace,
    name: str,
    kind: str = Segment.Kind.DYNAMIC,
    rules: dict | None = None,
    description: str = "",
) -> Segment:
    """Create a segment; a dynamic one's rules are checked and its first refresh queued."""
    if kind not in Segment.Kind.values:
        raise ServiceError(
            FieldError("kind", SegmentErrorCode.SEGMENT_KIND, "kind is dynamic or static")
        )
    name = _check_name(workspace, name)
    rules = operators_normalise(rules)  # stored in one vocabulary (SPEC §8)
    dependencies: tuple[str, ...] = ()
    if kind == Segment.Kind.DYNAMIC:
        dependencies = rules_validate(workspace=workspace, rules=rules).dependencies
    elif rules:
        raise ServiceError(
            FieldError(
                "rules", SegmentErrorCode.SEGMENT_KIND, "a static segment has members, not rules"
            )
        )
    try:
        with transaction.atomic():
            segment = Segment.objects.create(
                workspace=workspace,
                name=name,
                kind=kind,
                description=description or "",
                rules=rules if kind == Segment.Kind.DYNAMIC else {},
                dependencies=list(dependencies),
            )
            segment_refresh_queue(segment=segment)
    except IntegrityError as exc:  # a concurrent create took the name
        raise ServiceError(
            FieldError("name", ErrorCode.DUPLICATE, f"a segment named {name!r} already exists")
        ) from exc
    return segment


def segment_update(
    *,
    segment: Segment,
    name: str | None = None,
    description: str | None = None,
    rules: dict | None = None,
) -> Segment:
    """Change a segment; new rules are checked (cycles included) and a refresh is queued."""
    with transaction.atomic():
        segment = Segment.objects.select_for_update().get(pk=segment.pk)
        if name is not None:
            segment.name = _check_name(segment.workspace, name, exclude=segment.pk)
        if description is not None:
            segment.description = description
        if rules is not None:
            if not segment.is_dynamic:
                raise ServiceError(
                    FieldError(
                        "rules",
                        SegmentErrorCode.SEGMENT_KIND,
                        "a static segment has members, not rules",
                    )
                )
            rules = operators_normalise(rules)
            checked = rules_validate(
                workspace=segment.workspace, rules=rules, segment_id=segment.pk
            )
            segment.rules, segment.dependencies = rules, list(checked.dependencies)
        segment.save()
        if rules is not None:
            _dependents_update(segment)
            segment_refresh_queue(segment=segment)
    return segment


def _dependents_update(segment: Segment) -> None:
    """Segments that include ``segment`` read what it reads: recompute their dependencies."""
    marker = f"segment:{segment.pk}"
    for other in Segment.objects.filter(
        workspace_id=segment.workspace_id, kind=Segment.Kind.DYNAMIC
    ).exclude(pk=segment.pk):
        if marker in other.dependencies:
            checked = rules_validate(
                workspace=other.workspace, rules=other.rules, segment_id=other.pk
            )
            Segment.objects.filter(pk=other.pk).update(dependencies=list(checked.dependencies))
            _dependents_update(other)


def segment_delete(*, segment: Segment) -> None:
    """Delete a segment and its membership history, unless something uses it (another
    segment includes it, an active or paused flow names it, a flow exits on it); the error
    names each use."""
    usages = segment_usages(segment=segment)
    if usages:
        raise ServiceError(
            FieldError(
                "segment",
                ErrorCode.PROTECTED,
                f"segment {segment.name!r} cannot be deleted: " + "; ".join(usages),
            )
        )
    Segment.objects.filter(pk=segment.pk).delete()


def segment_preview(*, workspace: Workspace, rules: dict, segment: Segment | None = None) -> int:
    """Count the people an unsaved rule tree selects now (``segment``: the one being edited,
    so that a tree including it is refused as a cycle)."""
    checked = rules_validate(
        workspace=workspace, rules=rules, segment_id=segment.pk if segment is not None else None
    )
    with transaction.atomic():
        audience_settings_apply(checked.tree)
        return people_matching(
            workspace_id=workspace.pk, tree=checked.tree, now=timezone.now()
        ).count()


def _static(segment: Segment) -> None:
    if segment.is_dynamic:
        raise ServiceError(
            FieldError(
                "segment",
                SegmentErrorCode.SEGMENT_KIND,
                "members of a dynamic segment follow its rules; only "
                "static segments take members directly",
            )
        )


def segment_members_add(*, segment: Segment, person_ids: Iterable[int]) -> list[int]:
    """Add people (of the segment's workspace) to a static segment; return those added."""
    _static(segment)
    now = timezone.now()
    wanted = Person.objects.filter(workspace_id=segment.workspace_id, pk__in=list(person_ids))
    with transaction.atomic():
        # The segment's lock orders this after an erasure in progress (stays carry no key).
        list(
            Segment.objects.select_for_update(of=("self",))
            .filter(pk=segment.pk)
            .values_list("pk", flat=True)
        )
        current = SegmentMembership.objects.filter(segment=segment, exited_at__isnull=True)
        new = list(wanted.exclude(pk__in=current.values("person_id")).values_list("pk", flat=True))
        SegmentMembership.objects.bulk_create(
            [
                SegmentMembership(
                    workspace_id=segment.workspace_id, segment=segment, person_id=pk, entered_at=now
                )
                for pk in new
            ],
            ignore_conflicts=True,
        )
        _members_changed(segment, sorted(new), [])
    return sorted(new)


def segment_members_remove(*, segment: Segment, person_ids: Iterable[int]) -> list[int]:
    """Remove people from a static segment (their stay ends now); return those removed."""
    _static(segment)
    with transaction.atomic():
        rows = SegmentMembership.objects.filter(
            segment=segment, exited_at__isnull=True, person_id__in=list(person_ids)
        )
        gone = sorted(rows.values_list("person_id", flat=True))
        rows.update(exited_at=timezone.now())
        _members_changed(segment, [], gone)
    return gone


def _members_changed(segment: Segment, entered: list[int], exited: list[int]) -> None:
    if not entered and not exited:
        return
    Segment.objects.filter(pk=segment.pk).update(
        member_count=F("member_count") + len(entered) - len(exited),
        last_refreshed_at=timezone.now(),
    )
    segment_changes_announce(segment=segment, entered=entered, exited=exited)
    segments_reevaluate(
        workspace_id=segment.workspace_id,
        person_ids=[*entered, *exited],
        changes=[f"segment:{segment.pk}"],
    )


def segment_members_import(*, segment: Segment, csv_text: str) -> ImportResult:
    """Add the people named by a CSV to a static segment.

    The header names identifier columns (``email``, ``phone``, ``external_id``, …); a row
    names a person by any of its values. Rows naming nobody are counted, not created.
    """
    _static(segment)
    # newline="": the csv module reads line ends itself (a lone CR inside a line is one).
    reader = csv.reader(io.StringIO(csv_text, newline=""))
    try:
        return _members_import(segment, reader)
    except csv.Error as exc:  # a field over the csv module's limit (128 KB)
        raise ServiceError(
            FieldError(
                "file",
                ErrorCode.INVALID,
                f"is not readable as CSV at line {reader.line_num}: {exc}",
            )
        ) from exc


def _members_import(segment: Segment, reader) -> ImportResult:
    header = [h.strip() for h in next(reader, [])]
    if not header or not any(header):
        raise ServiceError(
            FieldError(
                "file",
                ErrorCode.REQUIRED,
                "the first line names the identifier columns, e.g. email,phone,external_id",
            )
        )
    invalid: list[FieldError] = []
    wanted: dict[str, set[str]] = {}
    rows: list[list[tuple[str, str]]] = []
    for number, row in enumerate(reader, start=2):
        if number > MAX_IMPORT_ROWS + 1:
            raise ServiceError(
                FieldError(
                    "file", ErrorCode.BATCH_TOO_LARGE, f"at most {MAX_IMPORT_ROWS} rows per file"
                )
            )
        keys = []
        for column, raw in zip(header, row, strict=False):
            if not raw.strip():
                continue
            try:
                pair = (
                    ("external_id", raw.strip())
                    if column in EXTERNAL_ID_ALIASES
                    else normalise_identifier(column, raw, f"line {number}.{column}")
                )
            except ServiceError as exc:
                invalid.extend(exc.errors)
                continue
            wanted.setdefault(pair[0], set()).add(pair[1])
            keys.append(pair)
        if keys:
            rows.append(keys)
    found: dict[tuple[str, str], int] = {}
    for type_, values in wanted.items():
        if type_ == "external_id":
            query = Person.objects.filter(
                workspace_id=segment.workspace_id, external_id__in=values
            ).values_list("external_id", "pk")
        else:
            query = Identifier.objects.filter(
                workspace_id=segment.workspace_id, type=type_, value__in=values
            ).values_list("value", "person_id")
        found.update({(type_, value): pk for value, pk in query})
    people = {next((found[k] for k in keys if k in found), None) for keys in rows}
    unmatched = sum(1 for keys in rows if not any(k in found for k in keys))
    added = segment_members_add(segment=segment, person_ids=people - {None})
    return ImportResult(added=len(added), unmatched=unmatched, invalid=tuple(invalid[:20]))
