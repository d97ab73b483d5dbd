"""The identity messages of the Segment-compatible API (``identify``, ``alias``, ``group``),
applied through the people services; ``events.compat.segment`` calls these per message and
logs what they return.

- Who: ``userId`` is the external id, ``anonymousId`` an ``anonymous_id`` identifier. When the
  two name different people and the anonymous one has no other external id (a visitor who
  signed in), the anonymous person is merged into the identified one; an anonymous id already
  owned by another signed-in user (a shared device) is left where it is.
- ``identify``: traits (top level, or RudderStack's ``context.traits``; top level wins) map to
  standard attributes (``firstName``/``first_name``, ``lastName``/``last_name``, ``name`` split
  when neither is sent, ``gender`` (m/f/… normalised), ``birthday``, ``city``, ``country``,
  ``address`` (a string, or Segment's object: street, city, country), ``language``,
  ``timezone``), ``email`` and ``phone`` to identifiers, and keys with an
  ``AttributeDefinition`` to custom attributes; other traits are ignored (they are not
  rejected input). Null traits are skipped. A trait the services refuse is dropped and logged;
  the rest still applies.
- ``alias``: ``previousId`` (an external id or anonymous id) and ``userId``: when both name
  people, the previous one is merged into the ``userId`` one (``people.merge.people_merge``);
  when only one exists the other id is attached to it (``previousId`` as an anonymous id).
- ``group``: the person gets the tag ``group:<groupId>`` and, when the workspace defines the
  custom attribute ``groupId``, that attribute; group traits describe the group, not the person,
  and are ignored.

With a public key (SPEC §2) the three messages resolve the person in one
``person_identify_public`` call (``userId``, ``anonymousId`` and, for identify, the ``email``
and ``phone`` traits): anonymous visitors are still signed in and given new identifiers, but
an id held by a known person is ignored, and traits, tags and aliases never change a person
who was known before the message. What is ignored goes to the ingestion log with the message.
"""

import re

from django.db import DataError, connection, transaction

from cdp.errors import ErrorCode, FieldError, ServiceError
from people.identity import normalise_identifier
from people.merge import people_merge
from people.models import AttributeDefinition, Person, Workspace
from people.selectors import person_lookup
from people.services import (
    Identified,
    identifier_add,
    person_identify,
    person_identify_public,
    person_update,
    tags_add,
)

MAX_ID_LENGTH = 255
STANDARD_TRAITS = {
    "firstName": ("firstName", "first_name", "firstname"),
    "lastName": ("lastName", "last_name", "lastname"),
    "gender": ("gender",),
    "birthDate": ("birthday", "birthDate", "birth_date"),
    "city": ("city",),
    "country": ("country",),
    "address": ("address", "street"),
    "language": ("language",),
    "timeZone": ("timezone", "timeZone", "time_zone"),
}
ADDRESS_PARTS = {"city": "city", "country": "country", "address": "street"}
IDENTIFIER_TRAITS = ("email", "phone")
CONSUMED = {key for keys in STANDARD_TRAITS.values() for key in keys} | {
    "name",
    "address",
    *IDENTIFIER_TRAITS,
}
GENDERS = {
    "m": "male",
    "male": "male",
    "man": "male",
    "f": "female",
    "female": "female",
    "woman": "female",
}
DATE_PREFIX = re.compile(r"^\d{4}-\d{2}-\d{2}")


def id_value(value, field: str) -> str | FieldError | None:
    """An id as Segment clients send it (a string or a number) as a string; None when absent."""
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return FieldError(field, ErrorCode.INVALID_TYPE, "must be a string or a number")
    if isinstance(value, float):
        value = int(value) if value.is_integer() else value
    value = str(value).strip()
    if len(value) > MAX_ID_LENGTH:
        return FieldError(field, ErrorCode.TOO_LONG, f"at most {MAX_ID_LENGTH} characters")
    return value or None


def ids(message: dict, prefix: str = "") -> tuple:
    """Return ``(userId, anonymousId)`` as strings or None (or a FieldError each)."""
    return (
        id_value(message.get("userId"), f"{prefix}userId"),
        id_value(message.get("anonymousId"), f"{prefix}anonymousId"),
    )


def people_message_apply(
    *, workspace: Workspace, message: dict, prefix: str = "", trusted: bool = True
) -> list[FieldError]:
    """Apply one identify, alias or group message; return what was refused or ignored
    (logged by the caller). Each message is its own transaction: a refused one changes
    nothing. ``trusted`` is False for a public key."""
    if trusted:
        apply = {"identify": _identify, "alias": _alias, "group": _group}[message["type"]]
    else:
        apply = {"identify": _identify_public, "alias": _alias_public, "group": _group_public}[
            message["type"]
        ]
    try:
        with transaction.atomic():
            return apply(workspace, message, prefix)
    except ServiceError as exc:
        return [
            FieldError(
                f"{prefix}{e.field}" if not e.field.startswith(prefix) else e.field,
                e.code,
                e.message,
            )
            for e in exc.errors
        ]
    except (DataError, connection.Database.DataError):
        return [
            FieldError(
                prefix.rstrip(".") or "body",
                ErrorCode.INVALID,
                "a value contains characters that cannot be stored (such as NUL)",
            )
        ]


def _merge(workspace: Workspace, survivor: Person, merged: Person) -> Person:
    return people_merge(workspace=workspace, survivor=survivor, merged=merged)


def _checked_ids(message: dict, prefix: str) -> tuple[str | None, str | None]:
    """``(userId, anonymousId)``, at least one of them, or a ServiceError naming the field."""
    user_id, anonymous_id = ids(message, prefix)
    errors = [e for e in (user_id, anonymous_id) if isinstance(e, FieldError)]
    if errors:
        raise ServiceError(errors)
    if not user_id and not anonymous_id:
        raise ServiceError(
            FieldError(f"{prefix}userId", "no_user_anon_id", "send userId and/or anonymousId")
        )
    return user_id, anonymous_id


def _who(workspace: Workspace, message: dict, prefix: str) -> Person:
    """The person ``userId``/``anonymousId`` name, created when new, merged when two."""
    user_id, anonymous_id = _checked_ids(message, prefix)
    by_user = (
        person_lookup(workspace=workspace, type="external_id", value=user_id) if user_id else None
    )
    by_anonymous = (
        person_lookup(workspace=workspace, type="anonymous_id", value=anonymous_id)
        if anonymous_id
        else None
    )
    if by_user and by_anonymous and by_user.pk != by_anonymous.pk:
        if by_anonymous.external_id is None:  # the visitor signed in
            return _merge(workspace, survivor=by_user, merged=by_anonymous)
        return by_user  # a device shared with another signed-in user
    if by_anonymous and user_id and not by_user and by_anonymous.external_id:
        return person_identify(workspace=workspace, external_id=user_id)
    return person_identify(
        workspace=workspace,
        external_id=user_id,
        identifiers={"anonymous_id": anonymous_id} if anonymous_id else {},
    )


def _traits(message: dict) -> dict:
    context = message.get("context")
    traits = {}
    for source in (
        context.get("traits") if isinstance(context, dict) else None,
        message.get("traits"),
    ):
        if isinstance(source, dict):
            traits.update(source)
    return traits


def traits_map(traits: dict, attribute_keys) -> tuple[dict, dict, dict, dict]:
    """Return ``(standard, identifiers, custom attributes, sources)``; ``sources`` names the
    trait each standard attribute and identifier came from, for error messages."""
    standard, sources = {}, {}
    address = traits.get("address") if isinstance(traits.get("address"), dict) else {}
    for api_name, keys in STANDARD_TRAITS.items():
        for key in keys:
            value = traits.get(key)
            if value not in (None, "") and not (key == "address" and isinstance(value, dict)):
                standard[api_name], sources[api_name] = value, f"traits.{key}"
                break
        else:
            part = ADDRESS_PARTS.get(api_name)
            if part and address.get(part) not in (None, ""):
                standard[api_name] = address[part]
                sources[api_name] = f"traits.address.{part}"
    name = traits.get("name")
    if isinstance(name, str) and name.strip() and not {"firstName", "lastName"} & set(standard):
        first, _, last = name.strip().partition(" ")
        standard["firstName"], sources["firstName"] = first, "traits.name"
        if last.strip():
            standard["lastName"], sources["lastName"] = last.strip(), "traits.name"
    gender = standard.get("gender")
    if isinstance(gender, str):
        standard["gender"] = GENDERS.get(gender.strip().lower(), "other")
    birth = standard.get("birthDate")
    if isinstance(birth, str) and DATE_PREFIX.match(birth):
        standard["birthDate"] = birth[:10]  # Segment sends ISO-8601 date-times
    identifiers = {}
    for type_ in IDENTIFIER_TRAITS:
        if traits.get(type_) not in (None, ""):
            identifiers[type_] = traits[type_]
            sources[type_] = f"traits.{type_}"
    attributes = {
        key: value
        for key, value in traits.items()
        if key in attribute_keys and key not in CONSUMED and value is not None
    }
    return standard, identifiers, attributes, sources


def _attribute_keys(workspace: Workspace) -> set[str]:
    return set(
        AttributeDefinition.objects.filter(workspace=workspace).values_list("key", flat=True)
    )


def _update(
    person: Person, standard: dict, attributes: dict, sources: dict, prefix: str
) -> list[FieldError]:
    """Update the person, dropping (and returning) each value the service refuses."""
    refused: list[FieldError] = []
    for _ in range(len(standard) + len(attributes) + 1):
        if not standard and not attributes:
            break
        try:
            person_update(person=person, standard=standard, attributes=attributes)
            break
        except ServiceError as exc:
            dropped = False
            for error in exc.errors:
                key = error.field.split(".", 1)[-1]
                field = error.field
                if error.field in standard:
                    standard.pop(error.field)
                    field, dropped = sources.get(error.field, f"traits.{error.field}"), True
                elif "." in error.field and key in attributes:
                    attributes.pop(key)
                    field, dropped = f"traits.{key}", True
                refused.append(FieldError(f"{prefix}{field}", error.code, error.message))
            if not dropped:
                break
    return refused


def _identify(workspace: Workspace, message: dict, prefix: str) -> list[FieldError]:
    person = _who(workspace, message, prefix)
    standard, identifiers, attributes, sources = traits_map(
        _traits(message), _attribute_keys(workspace)
    )
    refused = []
    for type_, value in identifiers.items():
        try:
            with transaction.atomic():
                identifier_add(person=person, type=type_, value=value)
        except ServiceError as exc:
            refused += [
                FieldError(f"{prefix}{sources[type_]}", e.code, e.message) for e in exc.errors
            ]
    return refused + _update(person, standard, attributes, sources, prefix)


def _alias_ids(message: dict, prefix: str) -> tuple[str | None, str | None, list[FieldError]]:
    """Return an alias message's ``previousId`` and ``userId``, and the errors if either is
    missing or not an id."""
    previous = id_value(message.get("previousId"), f"{prefix}previousId")
    user_id = id_value(message.get("userId"), f"{prefix}userId")
    errors = [e for e in (previous, user_id) if isinstance(e, FieldError)]
    errors += [
        FieldError(f"{prefix}{name}", ErrorCode.REQUIRED, "is required for alias")
        for name, value in (("previousId", previous), ("userId", user_id))
        if value is None
    ]
    return previous, user_id, errors


def _alias(workspace: Workspace, message: dict, prefix: str) -> list[FieldError]:
    previous, user_id, errors = _alias_ids(message, prefix)
    if errors:
        return errors
    target = person_lookup(workspace=workspace, type="external_id", value=user_id)
    source = person_lookup(
        workspace=workspace, type="external_id", value=previous
    ) or person_lookup(workspace=workspace, type="anonymous_id", value=previous)
    if source and (target is None or source.pk != target.pk) and (target or source.external_id):
        # Two people (or a known user taking a new id): one person under the new id.
        target = target or person_identify(workspace=workspace, external_id=user_id)
        _merge(workspace, survivor=target, merged=source)
    else:
        # One or no person: the one under userId, with previousId as an anonymous id.
        person_identify(
            workspace=workspace, external_id=user_id, identifiers={"anonymous_id": previous}
        )
    return []


def _group(workspace: Workspace, message: dict, prefix: str) -> list[FieldError]:
    group_id = id_value(message.get("groupId"), f"{prefix}groupId")
    if isinstance(group_id, FieldError):
        return [group_id]
    if group_id is None:
        return [FieldError(f"{prefix}groupId", ErrorCode.REQUIRED, "is required for group")]
    person = _who(workspace, message, prefix)
    tags_add(person=person, names=[f"group:{group_id}"])
    if "groupId" in _attribute_keys(workspace):
        return _update(person, {}, {"groupId": group_id}, {}, prefix)
    return []


# Public keys (SPEC §2) ---------------------------------------------------------------------


def _who_public(
    workspace: Workspace,
    message: dict,
    prefix: str,
    identifiers: dict | None = None,
    sources: dict | None = None,
) -> tuple[Identified, list[FieldError]]:
    """The person a public key's message names, resolved in one call, and the names ignored
    under the message's own field names."""
    user_id, anonymous_id = _checked_ids(message, prefix)
    names = {
        "person.externalId": "userId",
        "person.identifiers.anonymous_id": "anonymousId",
        **{f"person.identifiers.{t}": source for t, source in (sources or {}).items()},
    }
    found = person_identify_public(
        workspace=workspace,
        external_id=user_id,
        identifiers={
            **(identifiers or {}),
            **({"anonymous_id": anonymous_id} if anonymous_id else {}),
        },
    )
    return found, [
        FieldError(f"{prefix}{names.get(e.field, e.field)}", e.code, e.message)
        for e in found.ignored
    ]


def _unchanged(field: str) -> FieldError:
    return FieldError(
        field,
        ErrorCode.KNOWN_PERSON,
        "a public key cannot change a known person's profile: ignored",
    )


def _identify_public(workspace: Workspace, message: dict, prefix: str) -> list[FieldError]:
    standard, identifiers, attributes, sources = traits_map(
        _traits(message), _attribute_keys(workspace)
    )
    refused, valid = [], {}
    for type_, value in identifiers.items():
        try:
            valid[type_] = normalise_identifier(type_, value, sources[type_])[1]
        except ServiceError as exc:
            refused += [FieldError(f"{prefix}{e.field}", e.code, e.message) for e in exc.errors]
    found, ignored = _who_public(workspace, message, prefix, valid, {t: sources[t] for t in valid})
    refused += ignored
    if found.known:
        if standard or attributes:
            refused.append(_unchanged(f"{prefix}traits"))
        return refused
    return refused + _update(found.person, standard, attributes, sources, prefix)


def _alias_public(workspace: Workspace, message: dict, prefix: str) -> list[FieldError]:
    previous, user_id, errors = _alias_ids(message, prefix)
    if errors:
        return errors
    if person_lookup(workspace=workspace, type="external_id", value=previous):
        # Someone's external id: that person is known and keeps it.
        return [_unchanged(f"{prefix}previousId")]
    # An anonymous visitor taking a new user id is signed in; the resolution ignores a
    # userId or previousId held by a known person.
    _, ignored = _who_public(workspace, {"userId": user_id, "anonymousId": previous}, prefix)
    return [
        FieldError(
            e.field.replace(f"{prefix}anonymousId", f"{prefix}previousId"), e.code, e.message
        )
        for e in ignored
    ]


def _group_public(workspace: Workspace, message: dict, prefix: str) -> list[FieldError]:
    group_id = id_value(message.get("groupId"), f"{prefix}groupId")
    if isinstance(group_id, FieldError):
        return [group_id]
    if group_id is None:
        return [FieldError(f"{prefix}groupId", ErrorCode.REQUIRED, "is required for group")]
    found, ignored = _who_public(workspace, message, prefix)
    if found.known:
        return [*ignored, _unchanged(f"{prefix}groupId")]
    tags_add(person=found.person, names=[f"group:{group_id}"])
    if "groupId" in _attribute_keys(workspace):
        return ignored + _update(found.person, {}, {"groupId": group_id}, {}, prefix)
    return ignored
