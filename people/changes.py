"""Profile-change events (SPEC §6): what changed on people, handed to whoever records it.

The people services call ``profile_change_codes`` to learn which of the standard profile-change
definitions (``nameChanged``, ``locationChanged``, ``standardAttributeChanged``, ``tagAdded``,
``tagRemoved``, ``customAttributeChanged``, ``emailAdded`` … ``otherContactChanged``) the
workspace has switched on, build ``ProfileChange``s only for those, and pass them all at once to
``profile_changes_record``. People sits below events, so it does not import them: the events
app registers a recorder in ``PROFILE_CHANGE_RECORDERS`` at ``AppConfig.ready()``, which stores
the changes as events in one ingestion batch, inside the caller's transaction. With no recorder
(or nothing switched on) nothing is built, and a change costs one cached lookup.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Protocol

NAME_CHANGED = "nameChanged"
LOCATION_CHANGED = "locationChanged"
STANDARD_CHANGED = "standardAttributeChanged"
TAG_ADDED = "tagAdded"
TAG_REMOVED = "tagRemoved"
CUSTOM_CHANGED = "customAttributeChanged"
OTHER_CONTACT_CHANGED = "otherContactChanged"
# Identifier type → the contact the seed names (email, push, Facebook, phone for SMS/voice).
CONTACTS = {"email": "email", "phone": "phone", "mobile": "phone", "push": "push"}
CONTACTS["facebook"] = "facebook"
# Not contact information: the web cookie's id says nothing about how to reach someone.
NOT_CONTACT = frozenset({"anonymous_id"})
# Standard attribute (API name) → the definition its change records.
NAME_FIELDS = frozenset({"firstName", "lastName"})
LOCATION_FIELDS = frozenset({"country", "city", "address"})
STANDARD_API_NAMES = {
    "first_name": "firstName",
    "last_name": "lastName",
    "gender": "gender",
    "birth_date": "birthDate",
    "country": "country",
    "city": "city",
    "address": "address",
    "language": "language",
    "time_zone": "timeZone",
}


@dataclass(frozen=True)
class ProfileChange:
    """One change of one person, as the event of definition ``code`` records it."""

    person_id: int
    code: str
    properties: dict = field(default_factory=dict)


class ProfileChangeRecorder(Protocol):
    def enabled(self, workspace_id: int) -> frozenset[str]:
        """The profile-change codes the workspace has switched on."""

    def record(self, workspace_id: int, changes: list[ProfileChange]) -> None:
        """Store ``changes`` (all at once)."""


PROFILE_CHANGE_RECORDERS: list[ProfileChangeRecorder] = []


def profile_change_codes(*, workspace_id: int) -> frozenset[str]:
    """The profile-change definitions switched on in the workspace (empty: record nothing)."""
    codes: set[str] = set()
    for recorder in PROFILE_CHANGE_RECORDERS:
        codes |= recorder.enabled(workspace_id)
    return frozenset(codes)


def profile_changes_record(*, workspace_id: int, changes: Iterable[ProfileChange]) -> None:
    changes = list(changes)
    if changes:
        for recorder in PROFILE_CHANGE_RECORDERS:
            recorder.record(workspace_id, changes)


def text(value) -> str | None:
    """A profile value as the events carry it (text; None for blank)."""
    if value in (None, ""):
        return None
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _old_new(old, new) -> dict:
    values = {"oldValue": text(old), "newValue": text(new)}
    return {k: v for k, v in values.items() if v is not None}


def standard_change(person_id: int, field_name: str, old, new) -> ProfileChange:
    """The change of a standard attribute (model field name) from ``old`` to ``new``."""
    api_name = STANDARD_API_NAMES.get(field_name, field_name)
    if api_name in NAME_FIELDS:
        return ProfileChange(person_id, NAME_CHANGED, _old_new(old, new))
    code = LOCATION_CHANGED if api_name in LOCATION_FIELDS else STANDARD_CHANGED
    return ProfileChange(person_id, code, {"attribute": api_name, **_old_new(old, new)})


def custom_change(person_id: int, key: str, old, new) -> ProfileChange:
    return ProfileChange(person_id, CUSTOM_CHANGED, {"attribute": key, **_old_new(old, new)})


def contact_change(
    person_id: int, type_: str, verb: str, value: str | None, old: str | None = None
) -> ProfileChange | None:
    """``emailAdded`` / ``phoneRemoved`` … for contact types, ``otherContactChanged`` for
    the other identifiers; None for ids that are no contact (the web cookie's)."""
    if type_ in NOT_CONTACT:
        return None
    contact = CONTACTS.get(type_)
    if contact is None:
        props = {"type": type_, "value": text(value), "oldValue": text(old)}
        if verb == "Removed":
            props = {"type": type_, "oldValue": text(value)}
        return ProfileChange(
            person_id, OTHER_CONTACT_CHANGED, {k: v for k, v in props.items() if v is not None}
        )
    props = {"value": text(value), "oldValue": text(old)}
    return ProfileChange(
        person_id, f"{contact}{verb}", {k: v for k, v in props.items() if v is not None}
    )


def profile_diff(
    person_id: int,
    codes: frozenset[str],
    before: Mapping[str, object],
    after: Mapping[str, object],
    before_custom: Mapping[str, object],
    after_custom: Mapping[str, object],
) -> list[ProfileChange]:
    """The changes between two states of one profile (standard fields by model name, and
    custom attributes), only those whose definition is in ``codes``."""
    changes = []
    for name, old in before.items():
        new = after.get(name)
        if text(old) != text(new):
            change = standard_change(person_id, name, old, new)
            if change.code in codes:
                changes.append(change)
    if CUSTOM_CHANGED in codes:
        for key in sorted(set(before_custom) | set(after_custom)):
            old, new = before_custom.get(key), after_custom.get(key)
            if old != new:
                changes.append(custom_change(person_id, key, old, new))
    return changes
