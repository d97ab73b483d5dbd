"""Write paths for people: profiles, custom attributes, tags and identifiers.

Views, admin, ingestion and tasks call these only; workspaces and API keys are
``people.workspaces``.
"""

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.dateparse import parse_date

from cdp.errors import ErrorCode, FieldError, ServiceError
from people.changes import (
    TAG_ADDED,
    TAG_REMOVED,
    ProfileChange,
    contact_change,
    profile_change_codes,
    profile_changes_record,
    profile_diff,
)
from people.identity import EXTERNAL_ID_ALIASES, normalise_identifier
from people.inputs import PersonRef
from people.models import (
    AttributeDefinition,
    Identifier,
    Person,
    PersonTag,
    Workspace,
)
from people.resolution import people_resolve
from people.segments.incremental import profiles_changed

ATTRIBUTE_KEY_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")
STANDARD_ATTRIBUTES = {
    "firstName": "first_name",
    "lastName": "last_name",
    "gender": "gender",
    "birthDate": "birth_date",
    "country": "country",
    "city": "city",
    "address": "address",
    "language": "language",
    "timeZone": "time_zone",
}


# Custom attributes -------------------------------------------------------------------------


def _coerce_attribute(definition: AttributeDefinition, value, field: str):
    if value is None:
        return None
    kind = definition.type
    ok = True
    if kind == AttributeDefinition.Type.TEXT:
        ok = isinstance(value, str) and len(value) <= 1024
    elif kind == AttributeDefinition.Type.NUMBER:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    elif kind == AttributeDefinition.Type.BOOLEAN:
        ok = isinstance(value, bool)
    elif kind == AttributeDefinition.Type.DATE:
        ok = date_or_none(value) is not None
    elif kind == AttributeDefinition.Type.LIST:
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
    if not ok:
        raise ServiceError(
            FieldError(
                field,
                ErrorCode.INVALID_TYPE,
                f"must be a {definition.get_type_display().lower()} value",
            )
        )
    return value


def attributes_validate(
    *, workspace: Workspace, attributes: Mapping, field: str = "customAttributes"
) -> dict:
    """Check custom attribute values against the workspace's attribute definitions."""
    if not isinstance(attributes, Mapping):
        raise ServiceError(FieldError(field, ErrorCode.INVALID_TYPE, "must be an object"))
    definitions = {d.key: d for d in AttributeDefinition.objects.filter(workspace=workspace)}
    clean, errors = {}, []
    for key, value in attributes.items():
        definition = definitions.get(key)
        if definition is None:
            errors.append(
                FieldError(
                    f"{field}.{key}",
                    ErrorCode.UNKNOWN_PROPERTY,
                    "no attribute definition with this key",
                )
            )
            continue
        try:
            clean[key] = _coerce_attribute(definition, value, f"{field}.{key}")
        except ServiceError as exc:
            errors.extend(exc.errors)
    if errors:
        raise ServiceError(errors)
    return clean


def attribute_definition_create(
    *, workspace: Workspace, key: str, name: str, type: str
) -> AttributeDefinition:
    """Create a custom attribute; the key is unique per workspace and never changes."""
    if not isinstance(key, str) or not ATTRIBUTE_KEY_RE.match(key):
        raise ServiceError(
            FieldError(
                "key", ErrorCode.INVALID, "start with a letter; letters, digits, _ or -; at most 64"
            )
        )
    if type not in AttributeDefinition.Type.values:
        raise ServiceError(
            FieldError(
                "type",
                ErrorCode.INVALID,
                "use one of " + ", ".join(AttributeDefinition.Type.values),
            )
        )
    if AttributeDefinition.objects.filter(workspace=workspace, key=key).exists():
        raise ServiceError(
            FieldError("key", ErrorCode.DUPLICATE, f"an attribute with key {key!r} already exists")
        )
    return AttributeDefinition.objects.create(
        workspace=workspace, key=key, name=name or key, type=type
    )


def date_or_none(value) -> date | None:
    """Parse ``YYYY-MM-DD``; None for anything else, including impossible days (2024-02-30)."""
    if not isinstance(value, str):
        return None
    try:
        return parse_date(value)
    except ValueError:
        return None


# People ------------------------------------------------------------------------------------


def _changed(person: Person, changes: Iterable[str] | None) -> None:
    """Tell segments (through the outbox, after commit) what changed on the profile."""
    _people_changed(person.workspace_id, [person.pk], changes)


def _people_changed(
    workspace_id: int, person_ids: list[int], changes: Iterable[str] | None
) -> None:
    profiles_changed(workspace_id=workspace_id, person_ids=person_ids, changes=changes)


def _standard_values(values: Mapping) -> dict:
    clean = {}
    for api_name, field in STANDARD_ATTRIBUTES.items():
        if api_name in values:
            value = values[api_name]
            if field == "birth_date" and value is not None and not isinstance(value, date):
                parsed = date_or_none(value)
                if parsed is None:
                    raise ServiceError(
                        FieldError(api_name, ErrorCode.INVALID, "must be a date like 1990-01-31")
                    )
                value = parsed
            elif field == "gender" and value and value not in Person.Gender.values:
                raise ServiceError(
                    FieldError(api_name, ErrorCode.INVALID, "use female, male or other")
                )
            elif field != "birth_date" and value is not None and not isinstance(value, str):
                raise ServiceError(FieldError(api_name, ErrorCode.INVALID_TYPE, "must be a string"))
            max_length = Person._meta.get_field(field).max_length
            if isinstance(value, str) and max_length and len(value) > max_length:
                raise ServiceError(
                    FieldError(api_name, ErrorCode.TOO_LONG, f"at most {max_length} characters")
                )
            clean[field] = value if value is not None or field == "birth_date" else ""
    return clean


def person_create(
    *,
    workspace: Workspace,
    external_id: str | None = None,
    identifiers: Mapping[str, str] | None = None,
    standard: Mapping | None = None,
    attributes: Mapping | None = None,
    tags: Iterable[str] = (),
) -> Person:
    """Create a person with identifiers, attributes and tags; identifiers must be free."""
    pairs = []
    for type_, value in (identifiers or {}).items():
        if type_ in EXTERNAL_ID_ALIASES:
            external_id = external_id or str(value)
            continue
        pairs.append(normalise_identifier(type_, value, f"identifiers.{type_}"))
    clean_attributes = attributes_validate(workspace=workspace, attributes=attributes or {})
    with transaction.atomic():
        taken = [
            f"{t}:{v}"
            for t, v in Identifier.objects.filter(
                workspace=workspace, type__in=[t for t, _ in pairs], value__in=[v for _, v in pairs]
            ).values_list("type", "value")
            if (t, v) in pairs
        ]
        if taken:
            raise ServiceError(
                FieldError(
                    "identifiers",
                    ErrorCode.DUPLICATE,
                    "already used by another person: " + ", ".join(taken),
                )
            )
        if (
            external_id
            and Person.objects.filter(workspace=workspace, external_id=external_id).exists()
        ):
            raise ServiceError(
                FieldError("externalId", ErrorCode.DUPLICATE, "another person has this external id")
            )
        person = Person.objects.create(
            workspace=workspace,
            external_id=external_id or None,
            attributes=clean_attributes,
            **_standard_values(standard or {}),
        )
        Identifier.objects.bulk_create(
            Identifier(workspace=workspace, person=person, type=t, value=v) for t, v in pairs
        )
        tags_add(person=person, names=tags)
        _changed(person, None)
    return person


def tags_add(*, person: Person, names: Iterable[str]) -> None:
    people_tags_add(workspace_id=person.workspace_id, person_ids=[person.pk], names=names)


def tags_remove(*, person: Person, names: Iterable[str]) -> None:
    people_tags_remove(workspace_id=person.workspace_id, person_ids=[person.pk], names=names)


def person_score_change(*, person: Person, by: int) -> None:
    """Add ``by`` (negative: take away) to the person's activity score."""
    people_score_change(workspace_id=person.workspace_id, person_ids=[person.pk], by=by)


def people_tags_add(*, workspace_id: int, person_ids: Iterable[int], names: Iterable[str]) -> None:
    """Give every one of ``person_ids`` (of the workspace) the tags ``names``, in one insert."""
    names = {n.strip()[:64] for n in names if n and n.strip()}
    person_ids = list(person_ids)
    record = bool(names) and TAG_ADDED in profile_change_codes(workspace_id=workspace_id)
    had: set[tuple[int, str]] = set()
    if record:
        had = set(_tag_pairs(workspace_id, person_ids, names))
    PersonTag.objects.bulk_create(
        [
            PersonTag(workspace_id=workspace_id, person_id=pk, name=n)
            for pk in person_ids
            for n in names
        ],
        ignore_conflicts=True,
    )
    if names:
        _people_changed(workspace_id, person_ids, ["tags"])
    if record:
        profile_changes_record(
            workspace_id=workspace_id,
            changes=[
                ProfileChange(pk, TAG_ADDED, {"tagName": name})
                for pk in person_ids
                for name in sorted(names)
                if (pk, name) not in had
            ],
        )


def _tag_pairs(workspace_id: int, person_ids: list[int], names) -> list[tuple[int, str]]:
    return list(
        PersonTag.objects.filter(
            workspace_id=workspace_id, person_id__in=person_ids, name__in=list(names)
        )
        .order_by("person_id", "name")
        .values_list("person_id", "name")
    )


def people_tags_remove(
    *, workspace_id: int, person_ids: Iterable[int], names: Iterable[str]
) -> None:
    """Take the tags ``names`` from every one of ``person_ids`` (of the workspace)."""
    person_ids, names = list(person_ids), list(names)
    removed: list[tuple[int, str]] = []
    if TAG_REMOVED in profile_change_codes(workspace_id=workspace_id):
        removed = _tag_pairs(workspace_id, person_ids, names)
    deleted, _ = PersonTag.objects.filter(
        workspace_id=workspace_id, person_id__in=person_ids, name__in=names
    ).delete()
    if deleted:
        _people_changed(workspace_id, person_ids, ["tags"])
    if removed:
        profile_changes_record(
            workspace_id=workspace_id,
            changes=[ProfileChange(pk, TAG_REMOVED, {"tagName": name}) for pk, name in removed],
        )


def people_score_change(*, workspace_id: int, person_ids: Iterable[int], by: int) -> None:
    """Add ``by`` (negative: take away) to the activity score of each of ``person_ids``."""
    person_ids = list(person_ids)
    Person.objects.filter(workspace_id=workspace_id, pk__in=person_ids).update(
        score=F("score") + by, modified_at=timezone.now()
    )
    _people_changed(workspace_id, person_ids, ["attribute:score"])


def profile_values_validate(
    *, workspace: Workspace, standard: Mapping | None = None, attributes: Mapping | None = None
) -> None:
    """Raise the ServiceError ``person_update`` would raise for these values, writing
    nothing (a public key's traits are checked alike whether or not they will apply)."""
    _standard_values(standard or {})
    attributes_validate(workspace=workspace, attributes=attributes or {})


def person_update(
    *, person: Person, standard: Mapping | None = None, attributes: Mapping | None = None
) -> Person:
    """Update standard attributes and merge custom attribute values (None removes one)."""
    values = _standard_values(standard or {})
    clean = attributes_validate(workspace=person.workspace, attributes=attributes or {})
    codes = profile_change_codes(workspace_id=person.workspace_id)
    with transaction.atomic():
        person = Person.objects.select_for_update().get(pk=person.pk)
        before = {field: getattr(person, field) for field in values}
        before_custom = dict(person.attributes or {})
        for field, value in values.items():
            setattr(person, field, value)
        merged = dict(person.attributes)
        for key, value in clean.items():
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = value
        person.attributes = merged
        person.save()
        _changed(person, [f"attribute:{f}" for f in values] + [f"custom:{k}" for k in clean])
        if codes:
            profile_changes_record(
                workspace_id=person.workspace_id,
                changes=profile_diff(
                    person.pk,
                    codes,
                    before,
                    {field: getattr(person, field) for field in values},
                    before_custom,
                    merged,
                ),
            )
    return person


def identifier_add(*, person: Person, type: str, value: str) -> Identifier:
    type_, value = normalise_identifier(type, value, "value")
    existing = Identifier.objects.filter(
        workspace_id=person.workspace_id, type=type_, value=value
    ).first()
    if existing and existing.person_id != person.pk:
        raise ServiceError(
            FieldError("value", ErrorCode.DUPLICATE, "this identifier belongs to another person")
        )
    if existing:
        return existing
    identifier = Identifier.objects.create(
        workspace_id=person.workspace_id, person=person, type=type_, value=value
    )
    if not person.trusted:  # a secret key or the admin vouches for them: now they are known
        Person.objects.filter(pk=person.pk).update(trusted=True)
        person.trusted = True
    _changed(person, ["identifiers"])
    _contacts_record(person.workspace_id, [(person.pk, type_, value)], "Added")
    return identifier


def _contacts_record(workspace_id: int, rows: list[tuple[int, str, str]], verb: str) -> None:
    """Record ``emailAdded`` / ``phoneRemoved`` … for (person id, type, value) rows."""
    codes = profile_change_codes(workspace_id=workspace_id) if rows else frozenset()
    if codes:
        changes = [contact_change(pk, type_, verb, value) for pk, type_, value in rows]
        profile_changes_record(
            workspace_id=workspace_id,
            changes=[c for c in changes if c is not None and c.code in codes],
        )


def identifier_remove(*, person: Person, type: str, value: str) -> None:
    """Remove one of a person's identifiers (an unknown one is an error naming the value)."""
    type_, value = normalise_identifier(type, value, "value")
    deleted, _ = Identifier.objects.filter(person=person, type=type_, value=value).delete()
    if not deleted:
        raise ServiceError(
            FieldError("value", ErrorCode.INVALID, "this person has no such identifier")
        )
    _changed(person, ["identifiers"])
    _contacts_record(person.workspace_id, [(person.pk, type_, value)], "Removed")


@dataclass(frozen=True)
class Identified:
    """What ``person_identify_public`` found: the person, whether they were known before the
    call (a public key then changes nothing on them), and the names it ignored."""

    person: Person
    known: bool
    ignored: tuple[FieldError, ...]


def person_identify(
    *,
    workspace: Workspace,
    external_id: str | None = None,
    identifiers: Mapping[str, str] | None = None,
) -> Person:
    """Find the person these identifiers name, or create one; attach identifiers they lack."""
    return _identify(workspace, external_id, identifiers, trusted=True).person


def person_identify_public(
    *,
    workspace: Workspace,
    external_id: str | None = None,
    identifiers: Mapping[str, str] | None = None,
) -> Identified:
    """``person_identify`` for a public key (SPEC §2): anonymous people may be merged and
    given identifiers nobody holds; a name held by a known person is ignored and returned."""
    return _identify(workspace, external_id, identifiers, trusted=False)


def _identify(
    workspace: Workspace,
    external_id: str | None,
    identifiers: Mapping[str, str] | None,
    *,
    trusted: bool,
) -> Identified:
    ref = PersonRef(external_id=external_id, identifiers=dict(identifiers or {}))
    if ref.is_empty():
        raise ServiceError(
            FieldError(
                "identifiers", ErrorCode.REQUIRED, "name the person by externalId or identifiers"
            )
        )
    for attempt in range(3):
        try:
            with transaction.atomic():
                resolution = people_resolve(
                    workspace=workspace, refs=[ref], create=True, trusted=trusted
                )
            break
        except IntegrityError:  # a concurrent call created the same person: resolve again
            if attempt == 2:
                raise
    if resolution.errors[0]:
        raise ServiceError(list(resolution.errors[0]))
    return Identified(
        person=Person.objects.get(pk=resolution.person_ids[0]),
        known=bool(resolution.known and resolution.known[0]),
        ignored=resolution.ignored.get(0, ()),
    )
