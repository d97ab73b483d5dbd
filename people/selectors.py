"""Read paths for people, shared by the API and the admin."""

from django.db.models import Q, QuerySet

from cdp.errors import ErrorCode, FieldError, ServiceError
from people.identity import (
    EXTERNAL_ID_ALIASES,
    IDENTIFIER_TYPES,
    normalise_identifier,
    normalise_type,
)
from people.models import Identifier, Person, Workspace


def person_list(*, workspace: Workspace) -> QuerySet[Person]:
    return Person.objects.filter(workspace=workspace).prefetch_related("identifiers", "tags")


def person_search(*, workspace: Workspace, query: str) -> QuerySet[Person]:
    """People whose identifier, external id or name contains ``query``."""
    query = query.strip()
    matching = Identifier.objects.filter(
        workspace=workspace, value__icontains=query.lower()
    ).values("person_id")
    return person_list(workspace=workspace).filter(
        Q(pk__in=matching)
        | Q(external_id=query)
        | Q(first_name__icontains=query)
        | Q(last_name__icontains=query)
    )


def person_lookup(*, workspace: Workspace, type: str, value: str) -> Person | None:
    """The person with identifier ``(type, value)``; ``type=external_id`` looks up the
    external id. Raises ServiceError for an unknown type or malformed value."""
    if type in EXTERNAL_ID_ALIASES:
        return person_list(workspace=workspace).filter(external_id=value).first()
    if normalise_type(type) not in IDENTIFIER_TYPES:
        # Name the parameter at fault (normalise_identifier would name ``value``).
        raise ServiceError(
            FieldError(
                "type",
                ErrorCode.INVALID,
                f"unknown identifier type {type!r}; use external_id or "
                "one of " + ", ".join(sorted(IDENTIFIER_TYPES)),
            )
        )
    type_, value = normalise_identifier(type, value, "value")
    return (
        person_list(workspace=workspace)
        .filter(identifiers__type=type_, identifiers__value=value)
        .first()
    )
