"""GDPR erasure of a person (SPEC §3): the one write path that deletes events.

``person_erase`` deletes, in one transaction, the person's events, aggregates, identifiers,
tags, custom attributes and segment stays (the person row itself; the segments' member counts
drop and the exits are announced), plus rejected payloads in the ingestion log
that mention one of their identifiers and the admin's change history of the person (its
entries name the person), and writes an ``ErasureRecord`` that keeps who asked,
why, when and how much was deleted, but nothing identifying beyond the internal id. The person
row is locked first, so a concurrent merge or ingestion either finishes before or sees the
person gone (its foreign key check fails and the ingestion retry resolves again). Events and
log entries are deleted by the handler the events app registers in ``ERASE_HANDLERS``.
"""

from collections import Counter
from collections.abc import Callable, Mapping

from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import transaction

from cdp.errors import ErrorCode, FieldError, ServiceError
from people.merge import people_lock
from people.models import ErasureRecord, Identifier, Person, PersonTag
from people.segments.incremental import memberships_end
from people.segments.models import Segment

MAX_REQUESTED_BY = ErasureRecord._meta.get_field("requested_by").max_length
MAX_REASON = 2000
# ``handler(person=…, mentions=[identifier values, external id])``: delete the app's rows about
# the person (events register theirs: events, aggregates, ingestion log entries mentioning
# the person) and return how many by kind (``events``, ``log_entries``).
ERASE_HANDLERS: list[Callable[..., Mapping[str, int]]] = []


def person_erase(*, person: Person, requested_by: str, reason: str = "") -> ErasureRecord:
    """Delete everything stored about ``person`` and record the erasure in the audit log."""
    if not isinstance(requested_by, str) or not requested_by.strip():
        raise ServiceError(
            FieldError("requestedBy", ErrorCode.REQUIRED, "say who asked for the erasure")
        )
    if not isinstance(reason, str):
        raise ServiceError(FieldError("reason", ErrorCode.INVALID_TYPE, "must be a string"))
    if len(reason) > MAX_REASON:
        raise ServiceError(
            FieldError("reason", ErrorCode.TOO_LONG, f"at most {MAX_REASON} characters")
        )
    workspace = person.workspace
    with transaction.atomic():
        person = people_lock(workspace=workspace, person_ids=[person.pk]).get(person.pk)
        if person is None:  # erased or merged away by a concurrent call
            raise ServiceError(
                FieldError("id", ErrorCode.PERSON_NOT_FOUND, "no such person in this workspace")
            )
        values = list(
            Identifier.objects.filter(person_id=person.pk).values_list("value", flat=True)
        )
        deleted: Counter = Counter()
        for handler in ERASE_HANDLERS:
            deleted.update(handler(person=person, mentions=[*values, person.external_id or ""]))
        identifiers, _ = Identifier.objects.filter(person_id=person.pk).delete()
        tags, _ = PersonTag.objects.filter(person_id=person.pk).delete()
        LogEntry.objects.filter(
            content_type=ContentType.objects.get_for_model(Person), object_id=str(person.pk)
        ).delete()
        # Stays carry no foreign key (a refresh would lock every member it enters): waiting
        # for the segments' locks lets a running refresh or member import finish first, and
        # one starting later reads the person gone.
        list(
            Segment.objects.select_for_update(of=("self",))
            .filter(workspace=workspace)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        memberships_end(person_id=person.pk)
        Person.objects.filter(pk=person.pk).delete()
        return ErasureRecord.objects.create(
            workspace=workspace,
            erased_person_id=person.pk,
            events_deleted=deleted["events"],
            identifiers_deleted=identifiers,
            tags_deleted=tags,
            log_entries_deleted=deleted["log_entries"],
            requested_by=requested_by.strip()[:MAX_REQUESTED_BY],
            reason=reason.strip(),
        )
