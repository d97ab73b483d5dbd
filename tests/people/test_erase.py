"""GDPR erasure (SPEC §3): ``person_erase`` deletes everything about a person and writes an
audit row; the admin's "Erase (GDPR)" page and the read-only erasure log."""

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import User
from django.urls import reverse

from cdp.errors import ErrorCode, ServiceError
from events.ingestion import events_ingest
from events.models import Event, EventAggregate, IngestionLogEntry
from people.erasure import person_erase
from people.inputs import PersonRef
from people.models import ErasureRecord, Identifier, Person, PersonTag
from tests.factories import DefinitionFactory, PersonFactory, at, event, props
from tests.people.test_admin import login, make_staff

pytestmark = pytest.mark.django_db


@pytest.fixture
def visit(workspace):
    return DefinitionFactory(
        workspace=workspace, definition_id="c_visit", properties=props(page="text")
    )


@pytest.fixture
def ann(workspace, visit):
    person = PersonFactory(
        workspace=workspace,
        external_id="crm-ann",
        identifiers={"email": "ann@example.com", "phone": "+15550100"},
        standard={"firstName": "Ann", "city": "Leeds"},
        tags=["vip", "app"],
    )
    result = events_ingest(
        workspace=workspace,
        origin="api",
        events=[
            event("c_visit", person, occurred_at=at(i), properties={"page": f"/{i}"})
            for i in range(3)
        ],
    )
    assert result.accepted == 3
    return person


@pytest.fixture
def bob(workspace, visit):
    person = PersonFactory(workspace=workspace, identifiers={"email": "bob@example.com"})
    events_ingest(workspace=workspace, origin="api", events=[event("c_visit", person)])
    return person


def test_erase_deletes_everything_and_writes_the_audit_row(workspace, ann, bob):
    """The person, their identifiers, tags, attributes, events and aggregates are deleted;
    the audit row says who, why, when and how much, and nothing identifying beyond the id."""
    record = person_erase(person=ann, requested_by="dpo@acme.test", reason="ticket GDPR-12")

    assert not Person.objects.filter(pk=ann.pk).exists()
    assert not Identifier.objects.filter(person_id=ann.pk).exists()
    assert not Identifier.objects.filter(value__in=["ann@example.com", "+15550100"]).exists()
    assert not PersonTag.objects.filter(person_id=ann.pk).exists()
    assert not Event.objects.filter(person_id=ann.pk).exists()
    assert not EventAggregate.objects.filter(person_id=ann.pk).exists()

    stored = ErasureRecord.objects.get()
    assert stored == record
    assert (stored.workspace, stored.erased_person_id) == (workspace, ann.pk)
    assert (stored.events_deleted, stored.identifiers_deleted, stored.tags_deleted) == (3, 2, 2)
    assert (stored.requested_by, stored.reason) == ("dpo@acme.test", "ticket GDPR-12")
    assert stored.erased_at is not None
    text = " ".join(str(v) for v in stored.__dict__.values())
    for personal in ("ann@example.com", "+15550100", "crm-ann", "Ann", "Leeds"):
        assert personal not in text

    # Everyone else is untouched.
    assert Event.objects.filter(person=bob).count() == 1
    assert Person.objects.filter(pk=bob.pk).exists()


def test_erase_deletes_ingestion_log_entries_mentioning_the_person(workspace, ann):
    """Rejected payloads naming one of the person's identifiers or external id go too;
    others stay, including ones merely containing a digit of the id."""
    events_ingest(
        workspace=workspace,
        origin="api",
        events=[
            event(
                "c_visit",
                PersonRef(identifiers={"email": "ANN@example.com"}),
                properties={"nope": 1},
            ),
            event("c_visit", PersonRef(external_id="crm-ann"), properties={"nope": 2}),
            event(
                "c_visit",
                PersonRef(identifiers={"email": "zed@example.com"}),
                properties={"nope": str(ann.pk)},
            ),
        ],
    )
    assert IngestionLogEntry.objects.filter(workspace=workspace).count() == 3
    record = person_erase(person=ann, requested_by="dpo")
    assert record.log_entries_deleted == 2
    [left] = IngestionLogEntry.objects.filter(workspace=workspace)
    assert "zed@example.com" in str(left.payload)


def test_erase_deletes_the_admin_history_of_the_person(workspace, ann):
    """Admin change history entries name the person; they are deleted with them."""
    from django.contrib.admin.models import CHANGE
    from django.contrib.contenttypes.models import ContentType

    user = User.objects.create_user("editor")
    LogEntry.objects.create(
        user=user,
        content_type=ContentType.objects.get_for_model(Person),
        object_id=str(ann.pk),
        object_repr=str(ann),
        action_flag=CHANGE,
    )
    person_erase(person=ann, requested_by="dpo")
    assert not LogEntry.objects.filter(object_repr="Ann").exists()


@pytest.mark.parametrize(
    ("kwargs", "field", "code"),
    [
        ({"requested_by": "  "}, "requestedBy", ErrorCode.REQUIRED),
        ({"requested_by": "dpo", "reason": "x" * 2001}, "reason", ErrorCode.TOO_LONG),
    ],
)
def test_erase_input_is_checked(workspace, ann, kwargs, field, code):
    """Who asked is required and the reason is bounded; nothing is deleted on error."""
    with pytest.raises(ServiceError) as caught:
        person_erase(person=ann, **kwargs)
    assert (caught.value.first.field, caught.value.first.code) == (field, code)
    assert Person.objects.filter(pk=ann.pk).exists()
    assert not ErasureRecord.objects.exists()


def test_erasing_twice_is_not_found(workspace, ann):
    """A stale copy of an erased person is answered as not found; one audit row."""
    person_erase(person=ann, requested_by="dpo")
    with pytest.raises(ServiceError) as caught:
        person_erase(person=ann, requested_by="dpo")
    assert caught.value.first.code == ErrorCode.PERSON_NOT_FOUND
    assert ErasureRecord.objects.count() == 1


def test_an_erased_customer_sending_again_is_a_new_person(workspace, ann):
    """After erasure, the same email names nobody; a new event creates a new profile."""
    person_erase(person=ann, requested_by="dpo")
    [item] = events_ingest(
        workspace=workspace,
        origin="api",
        events=[event("c_visit", PersonRef(identifiers={"email": "ann@example.com"}))],
    ).items
    assert item.person_id != ann.pk
    assert Event.objects.filter(workspace=workspace, person_id=item.person_id).count() == 1


# Admin ----------------------------------------------------------------------------------------


def test_admin_erase_button_confirmation_and_audit(workspace, ann):
    """A superuser sees "Erase (GDPR)" on the person page; the confirmation page lists what
    goes; without ticking the confirmation nothing happens; with it, the person is erased and
    the erasure log names the user."""
    admin_user = User.objects.create_superuser("root", "root@example.com", "pw")
    client = login(admin_user)
    change_url = reverse("admin:people_person_change", args=[ann.pk])
    erase_url = reverse("admin:people_person_erase", args=[ann.pk])
    page = client.get(change_url)
    assert page.status_code == 200
    assert erase_url in page.content.decode()
    assert "Erase (GDPR)" in page.content.decode()

    confirm = client.get(erase_url)
    assert confirm.status_code == 200
    body = confirm.content.decode()
    assert "3 event(s)" in body
    assert "2 identifier(s)" in body

    refused = client.post(erase_url, {"reason": "ticket 7"})
    assert refused.status_code == 200
    assert "errornote" in refused.content.decode()
    assert Person.objects.filter(pk=ann.pk).exists()

    done = client.post(erase_url, {"reason": "ticket 7", "confirm": "on"})
    assert done.status_code == 302
    assert done["Location"] == reverse("admin:people_person_changelist")
    assert not Person.objects.filter(pk=ann.pk).exists()
    record = ErasureRecord.objects.get()
    assert (record.requested_by, record.reason, record.events_deleted) == ("root", "ticket 7", 3)

    log = client.get(reverse("admin:people_erasurerecord_changelist"))
    assert log.status_code == 200
    assert "root" in log.content.decode()
    detail = client.get(reverse("admin:people_erasurerecord_change", args=[record.pk]))
    assert detail.status_code == 200
    assert 'name="_save"' not in detail.content.decode()  # read-only


def test_admin_erase_needs_the_delete_permission(workspace, ann):
    """A marketer (no "Can delete person") sees no button and cannot erase by URL, but may
    read the erasure log of their workspace."""
    marketer = make_staff("mia", workspace)
    client = login(marketer)
    erase_url = reverse("admin:people_person_erase", args=[ann.pk])
    page = client.get(reverse("admin:people_person_change", args=[ann.pk]))
    assert page.status_code == 200
    assert erase_url not in page.content.decode()
    assert client.get(erase_url).status_code == 403
    assert client.post(erase_url, {"confirm": "on"}).status_code == 403
    assert Person.objects.filter(pk=ann.pk).exists()
    assert client.get(reverse("admin:people_erasurerecord_changelist")).status_code == 200


def test_admin_erase_and_log_are_workspace_scoped(workspace, other_workspace, ann):
    """A staff user of another workspace with the delete permission cannot reach this
    workspace's people through the erase page, nor see its erasure log rows."""
    from django.contrib.auth.models import Permission

    outsider = make_staff("oz", other_workspace)
    outsider.user_permissions.add(Permission.objects.get(codename="delete_person"))
    client = login(outsider)
    erase_url = reverse("admin:people_person_erase", args=[ann.pk])
    response = client.post(erase_url, {"confirm": "on"})
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:index")
    assert Person.objects.filter(pk=ann.pk).exists()

    person_erase(person=ann, requested_by="dpo", reason="visible only to acme")
    log = client.get(reverse("admin:people_erasurerecord_changelist"))
    assert log.status_code == 200
    assert "dpo" not in log.content.decode()
    record = ErasureRecord.objects.get()
    detail = client.get(reverse("admin:people_erasurerecord_change", args=[record.pk]))
    assert detail.status_code == 302  # "does not exist" redirect, like other scoped admins
