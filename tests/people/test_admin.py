"""The admin for marketers and developers: workspaces, API keys, attributes and people.

Every test goes through real HTTP requests to the admin (Django's test client) on a real
database. Forms are posted the way a browser would: the page is fetched, its form fields read
from the HTML, some values changed, and the form sent back.
"""

import hashlib
import re
from datetime import timedelta
from html.parser import HTMLParser

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from events.ingestion import events_ingest
from events.inputs import EventInput
from events.models import Event
from events.services import definition_create
from people.inputs import PersonRef
from people.models import ApiKey, AttributeDefinition, Identifier, Person, PersonTag, Workspace
from people.services import attribute_definition_create, person_create
from people.workspaces import api_key_create

# Helpers shared with tests/events/test_admin.py -----------------------------------------------


def make_staff(username: str, *workspaces: Workspace, group: str = "Marketer") -> User:
    """Create a staff user in ``group`` who is a member of ``workspaces``."""
    user = User.objects.create_user(username=username, password="pw", is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    for workspace in workspaces:
        workspace.members.add(user)
    return user


def login(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def make_person(
    workspace: Workspace, first_name: str = "", email: str | None = None, **standard
) -> Person:
    identifiers = {"email": email} if email else {}
    return person_create(
        workspace=workspace, identifiers=identifiers, standard={"firstName": first_name, **standard}
    )


def send_events(
    workspace: Workspace, person: Person, code: str, items: list[dict], start=None
) -> None:
    """Record one event per properties dict, a minute apart, through the ingestion service."""
    start = start or timezone.now() - timedelta(days=1)
    result = events_ingest(
        workspace=workspace,
        origin=Event.Origin.API,
        events=[
            EventInput(
                definition_id=code,
                person=PersonRef(id=person.pk),
                occurred_at=start + timedelta(minutes=i),
                properties=props,
            )
            for i, props in enumerate(items)
        ],
    )
    assert result.rejected == 0, result


class _FormReader(HTMLParser):
    """Collect what a browser would submit for one form of a page."""

    def __init__(self, form_id: str):
        super().__init__()
        self.form_id, self.inside = form_id, False
        self.data: dict[str, list[str]] = {}
        self.select: dict | None = None
        self.textarea: str | None = None
        self.text = ""

    def add(self, name: str, value: str) -> None:
        self.data.setdefault(name, []).append(value)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.inside = self.form_id is not None and a.get("id") == self.form_id
            return
        if not self.inside or "disabled" in a:
            return
        name = a.get("name")
        if tag == "input" and name:
            kind = (a.get("type") or "text").lower()
            if kind in {"submit", "button", "file", "image", "reset"}:
                return
            if kind in {"checkbox", "radio"} and "checked" not in a:
                return
            self.add(name, a.get("value") or ("on" if kind == "checkbox" else ""))
        elif tag == "select" and name:
            self.select = {"name": name, "chosen": [], "first": None, "multiple": "multiple" in a}
        elif tag == "option" and self.select is not None:
            value = a.get("value") or ""
            if self.select["first"] is None:
                self.select["first"] = value
            if "selected" in a:
                self.select["chosen"].append(value)
        elif tag == "textarea" and name:
            self.textarea, self.text = name, ""

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False
        elif tag == "select" and self.select is not None:
            chosen = self.select["chosen"]
            if not chosen and not self.select["multiple"] and self.select["first"] is not None:
                chosen = [self.select["first"]]
            for value in chosen:
                self.add(self.select["name"], value)
            self.select = None
        elif tag == "textarea" and self.textarea:
            self.add(self.textarea, self.text[1:] if self.text.startswith("\n") else self.text)
            self.textarea = None

    def handle_data(self, data):
        if self.textarea:
            self.text += data


def form_data(response, form_id: str) -> dict[str, list[str]]:
    """Return the fields a browser would post for the form ``form_id`` of ``response``."""
    assert response.status_code == 200, response.status_code
    reader = _FormReader(form_id)
    reader.feed(response.content.decode())
    return reader.data


def page_text(response) -> str:
    return response.content.decode()


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def changelist_rows(response) -> list:
    return list(response.context["cl"].result_list)


def admin_url(name: str, *args) -> str:
    return reverse(f"admin:{name}", args=args)


# Fixtures -------------------------------------------------------------------------------------


@pytest.fixture
def marketer(workspace):
    return make_staff("mia", workspace)


@pytest.fixture
def marketer_client(marketer):
    return login(marketer)


@pytest.fixture
def developer(workspace):
    return make_staff("dev", workspace, group="Developer")


@pytest.fixture
def superuser_client(db):
    user = User.objects.create_superuser(username="root", password="pw", email="r@x.io")
    return login(user)


# Groups and scoping ---------------------------------------------------------------------------


def test_groups_carry_their_model_permissions(db):
    """The migration creates Marketer (people, definitions, events) and Developer (keys,
    channels) with model permissions."""
    marketer = set(
        Group.objects.get(name="Marketer").permissions.values_list("codename", flat=True)
    )
    developer = set(
        Group.objects.get(name="Developer").permissions.values_list("codename", flat=True)
    )
    assert {
        "view_person",
        "change_person",
        "add_eventdefinition",
        "change_eventdefinition",
        "delete_eventdefinition",
        "view_event",
        "view_attributedefinition",
    } <= marketer
    assert "add_apikey" not in marketer
    assert {"add_apikey", "view_apikey", "change_apikey", "add_channel"} <= developer
    assert "change_person" not in developer


def test_staff_user_sees_only_people_of_their_workspace(
    workspace, other_workspace, marketer_client
):
    """Changelist, search and change view never show another workspace's people."""
    mine = make_person(workspace, "Alice", email="alice@acme.test")
    theirs = make_person(other_workspace, "Bruno", email="bruno@globex.test")

    listing = marketer_client.get(admin_url("people_person_changelist"))
    assert listing.status_code == 200
    assert [p.pk for p in changelist_rows(listing)] == [mine.pk]
    assert "Bruno" not in page_text(listing)

    search = marketer_client.get(admin_url("people_person_changelist"), {"q": "bruno@globex.test"})
    assert changelist_rows(search) == []

    change = marketer_client.get(admin_url("people_person_change", theirs.pk))
    assert change.status_code == 302
    assert change.url == admin_url("index")
    assert marketer_client.get(admin_url("people_person_change", mine.pk)).status_code == 200


def test_superuser_sees_people_of_every_workspace(workspace, other_workspace, superuser_client):
    """Superusers are not scoped; the list then names each person's workspace."""
    make_person(workspace, "Alice")
    make_person(other_workspace, "Bruno")
    listing = superuser_client.get(admin_url("people_person_changelist"))
    assert len(changelist_rows(listing)) == 2
    assert "Globex" in page_text(listing)


def test_workspace_choices_are_limited_to_the_users_workspaces(workspace, other_workspace):
    """A user of several workspaces picks among theirs only; another workspace is refused."""
    from people.workspaces import workspace_create

    third = workspace_create(slug="initech", name="Initech")
    client = login(make_staff("dana", workspace, third, group="Developer"))
    page = client.get(admin_url("people_apikey_add"))
    choices = [str(c) for c in page.context["adminform"].form.fields["workspace"].queryset]
    assert sorted(choices) == ["Acme", "Initech"]

    data = form_data(page, "apikey_form")
    data["workspace"] = [str(other_workspace.pk)]
    refused = client.post(admin_url("people_apikey_add"), data)
    assert refused.status_code == 200
    assert "Select a valid choice" in page_text(refused)
    assert not ApiKey.objects.exists()


def test_staff_user_sees_only_their_workspace_and_cannot_manage_workspaces(
    workspace, other_workspace, marketer_client
):
    """Staff see their own workspace read-only; adding one is refused."""
    listing = marketer_client.get(admin_url("people_workspace_changelist"))
    assert [w.pk for w in changelist_rows(listing)] == [workspace.pk]
    assert marketer_client.get(admin_url("people_workspace_add")).status_code == 403
    other = marketer_client.get(admin_url("people_workspace_change", other_workspace.pk))
    assert other.status_code == 302
    own = marketer_client.get(admin_url("people_workspace_change", workspace.pk))
    assert own.status_code == 200
    assert own.context["title"].startswith("View")


def test_superuser_creates_a_workspace_with_members(db, superuser_client):
    """A new workspace gets the default lifecycle stages and the chosen members."""
    member = make_staff("mia")
    page = superuser_client.get(admin_url("people_workspace_add"))
    data = form_data(page, "workspace_form")
    data.update(name=["Umbrella"], slug=["umbrella"], members=[str(member.pk)])
    response = superuser_client.post(admin_url("people_workspace_add"), data)
    assert response.status_code == 302
    created = Workspace.objects.get(slug="umbrella")
    assert list(created.members.all()) == [member]
    assert created.stages.filter(code="customer").exists()


# People ---------------------------------------------------------------------------------------


def test_search_people_by_email_identifier(workspace, marketer_client):
    """Searching an email (in any case) finds its owner through the identifier value."""
    ann = make_person(workspace, "Ann", email="ann@example.com")
    make_person(workspace, "Ben", email="ben@example.com")
    response = marketer_client.get(admin_url("people_person_changelist"), {"q": "Ann@Example.COM"})
    assert [p.pk for p in changelist_rows(response)] == [ann.pk]
    assert "ann@example.com" in page_text(response)


def test_search_people_by_phone_and_name(workspace, marketer_client):
    """Phones match in any spelling; names match by word."""
    from people.services import identifier_add

    ann = make_person(workspace, "Ann", lastName="Smith")
    identifier_add(person=ann, type="phone", value="+44 20 7946 0000")
    make_person(workspace, "Ben")
    url = admin_url("people_person_changelist")
    assert [
        p.pk for p in changelist_rows(marketer_client.get(url, {"q": "+44 (20) 79460000"}))
    ] == [ann.pk]
    assert [p.pk for p in changelist_rows(marketer_client.get(url, {"q": "ann smi"}))] == [ann.pk]


def test_person_timeline_is_newest_first_and_paginated(workspace, marketer_client):
    """The person page lists events newest first, 25 a page, with ?events_page=N."""
    person = make_person(workspace, "Tina")
    send_events(workspace, person, "itemViewed", [{"itemId": i} for i in range(30)])
    url = admin_url("people_person_change", person.pk)

    first = marketer_client.get(url)
    assert first.status_code == 200
    shown = [int(n) for n in re.findall(r"itemId=(\d+)", page_text(first))]
    assert shown == list(range(29, 4, -1))
    assert "Page 1 of 2" in page_text(first)

    second = marketer_client.get(url, {"events_page": 2})
    assert [int(n) for n in re.findall(r"itemId=(\d+)", page_text(second))] == [4, 3, 2, 1, 0]
    assert "Item viewed" in page_text(second)


def test_person_page_summarises_events_per_definition(workspace, marketer_client):
    """The person page's event summary (an inline the events app adds) counts the person's
    events per definition."""
    person = make_person(workspace, "Uma")
    send_events(workspace, person, "itemViewed", [{"itemId": i} for i in range(3)])
    page = marketer_client.get(admin_url("people_person_change", person.pk))
    assert "aggregates-TOTAL_FORMS" in page.content.decode()
    assert re.search(r"Event summary.*Item viewed.*\b3\b", page_text(page), re.S)


def test_person_page_shows_attributes_identifiers_and_tags(workspace, marketer_client):
    """Standard and custom attributes, identifiers and tags are on the person page."""
    attribute_definition_create(workspace=workspace, key="plan", name="Plan", type="text")
    person = person_create(
        workspace=workspace,
        identifiers={"email": "zoe@acme.test"},
        standard={"firstName": "Zoe", "city": "Lyon"},
        attributes={"plan": "gold"},
        tags=["vip"],
    )
    text = page_text(marketer_client.get(admin_url("people_person_change", person.pk)))
    for expected in ("Zoe", "Lyon", "gold", "zoe@acme.test", "vip"):
        assert expected in text


def test_person_created_in_admin_goes_through_the_service(workspace, marketer_client):
    """A new person gets the user's only workspace, a normalised email and the tags."""
    page = marketer_client.get(admin_url("people_person_add"))
    data = form_data(page, "person_form")
    data.update(
        {
            "first_name": ["Ann"],
            "identifiers-0-type": ["email"],
            "identifiers-0-value": ["Ann@Example.COM"],
            "tags-0-name": ["vip"],
        }
    )
    response = marketer_client.post(admin_url("people_person_add"), data)
    assert response.status_code == 302, page_text(response)
    person = Person.objects.get(first_name="Ann")
    assert person.workspace == workspace
    assert list(person.identifiers.values_list("type", "value")) == [("email", "ann@example.com")]
    assert list(person.tags.values_list("name", flat=True)) == ["vip"]


def test_identifier_of_another_person_is_refused_with_a_message(workspace, marketer_client):
    """An identifier already used by someone else shows the service's error, not a 500."""
    make_person(workspace, "Owner", email="taken@acme.test")
    page = marketer_client.get(admin_url("people_person_add"))
    data = form_data(page, "person_form")
    data.update(
        {
            "first_name": ["Copy"],
            "identifiers-0-type": ["email"],
            "identifiers-0-value": ["taken@acme.test"],
        }
    )
    response = marketer_client.post(admin_url("people_person_add"), data)
    assert response.status_code == 200
    assert "already used by another person" in page_text(response)
    assert not Person.objects.filter(first_name="Copy").exists()


def test_invalid_identifier_value_is_a_form_error(workspace, marketer_client):
    """An email that is not one is refused on its row."""
    page = marketer_client.get(admin_url("people_person_add"))
    data = form_data(page, "person_form")
    data.update(
        {
            "first_name": ["Eve"],
            "identifiers-0-type": ["email"],
            "identifiers-0-value": ["not-an-email"],
        }
    )
    response = marketer_client.post(admin_url("people_person_add"), data)
    assert response.status_code == 200
    assert "is not an email address" in page_text(response)
    assert not Person.objects.filter(first_name="Eve").exists()


def test_person_edit_updates_attributes_and_tags_through_services(workspace, marketer_client):
    """Custom attributes are typed fields; tags are added and removed; identifiers added."""
    attribute_definition_create(workspace=workspace, key="points", name="Points", type="number")
    person = person_create(workspace=workspace, standard={"firstName": "Max"}, tags=["old"])
    url = admin_url("people_person_change", person.pk)
    data = form_data(marketer_client.get(url), "person_form")
    data.update(
        {
            "city": ["Oslo"],
            "attr__points": ["12"],
            "tags-0-DELETE": ["on"],
            "tags-1-name": ["new"],
            "identifiers-0-type": ["phone"],
            "identifiers-0-value": ["+47 22 00 00 00"],
        }
    )
    response = marketer_client.post(url, data)
    assert response.status_code == 302, page_text(response)
    person.refresh_from_db()
    assert person.city == "Oslo"
    assert person.attributes == {"points": 12}
    assert list(person.tags.values_list("name", flat=True)) == ["new"]
    assert Identifier.objects.get(person=person).value == "+4722000000"


def test_bad_custom_attribute_value_is_a_form_error(workspace, marketer_client):
    """A number attribute refuses text with the field's message; nothing changes."""
    attribute_definition_create(workspace=workspace, key="points", name="Points", type="number")
    person = make_person(workspace, "Max")
    url = admin_url("people_person_change", person.pk)
    data = form_data(marketer_client.get(url), "person_form")
    data["attr__points"] = ["lots"]
    response = marketer_client.post(url, data)
    assert response.status_code == 200
    assert "Enter a number." in page_text(response)
    person.refresh_from_db()
    assert person.attributes == {}


def test_attribute_definition_created_and_duplicate_key_refused(workspace, marketer_client):
    """Attribute definitions are created through the service; a taken key is an error."""
    url = admin_url("people_attributedefinition_add")
    data = form_data(marketer_client.get(url), "attributedefinition_form")
    data.update(key=["tier"], name=["Tier"], type=["text"])
    assert marketer_client.post(url, data).status_code == 302
    assert AttributeDefinition.objects.get(key="tier").workspace == workspace
    again = marketer_client.post(url, data)
    assert again.status_code == 200
    assert "already exists" in page_text(again)
    assert AttributeDefinition.objects.filter(key="tier").count() == 1


# API keys -------------------------------------------------------------------------------------


def test_api_key_is_shown_once_and_only_its_hash_is_stored(workspace, developer):
    """Creating a key shows it once in a message; the database holds only its SHA-256."""
    client = login(developer)
    url = admin_url("people_apikey_add")
    data = form_data(client.get(url), "apikey_form")
    data.update(name=["server"], kind=["secret"])
    response = client.post(url, data, follow=True)
    assert response.status_code == 200
    # The full key appears once; the "added" message names only its 12-character prefix.
    shown = re.findall(r"cdp_sk_[A-Za-z0-9_\-]{20,}", " ".join(messages_of(response)))
    assert len(shown) == 1
    raw = shown[0]
    key = ApiKey.objects.get()
    assert key.workspace == workspace
    assert key.key_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert raw not in {key.prefix, key.name, key.key_hash}
    again = client.get(admin_url("people_apikey_changelist"))
    assert raw not in page_text(again)
    assert raw not in page_text(client.get(admin_url("people_apikey_change", key.pk)))


def test_api_key_revoke_action(workspace, other_workspace, developer):
    """The revoke action revokes the selected keys of the user's workspace only."""
    mine = api_key_create(workspace=workspace).api_key
    theirs = api_key_create(workspace=other_workspace).api_key
    client = login(developer)
    response = client.post(
        admin_url("people_apikey_changelist"),
        {"action": "revoke_keys", "_selected_action": [mine.pk, theirs.pk]},
        follow=True,
    )
    assert response.status_code == 200
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert mine.revoked_at is not None
    assert theirs.revoked_at is None


def test_marketer_cannot_see_api_keys(workspace, marketer_client):
    """Keys belong to the Developer group."""
    assert marketer_client.get(admin_url("people_apikey_changelist")).status_code == 403


def test_tag_filter_and_stage_filter(workspace, marketer_client):
    """The tag filter lists the workspace's tags and narrows the list to their people."""
    tagged = person_create(workspace=workspace, standard={"firstName": "T"}, tags=["vip"])
    make_person(workspace, "U")
    url = admin_url("people_person_changelist")
    response = marketer_client.get(url, {"tag": "vip"})
    assert [p.pk for p in changelist_rows(response)] == [tagged.pk]
    assert PersonTag.objects.filter(name="vip").count() == 1


def test_superuser_edits_lifecycle_stages_and_used_stage_is_kept(workspace, superuser_client):
    """Stages are renamed and added through the services; a stage people are in stays, with
    the service's message on the form."""
    person = make_person(workspace, "Lea")
    Person.objects.filter(pk=person.pk).update(lifecycle_stage="lead")
    url = admin_url("people_workspace_change", workspace.pk)
    data = form_data(superuser_client.get(url), "workspace_form")
    stages = list(workspace.stages.order_by("position"))
    assert stages[0].code == "lead"
    total = int(data["stages-TOTAL_FORMS"][0])
    data.update(
        {
            "stages-1-name": ["Hot prospect"],
            f"stages-{total}-code": ["vip"],
            f"stages-{total}-name": ["VIP"],
            f"stages-{total}-position": ["9"],
            "stages-TOTAL_FORMS": [str(total + 1)],
        }
    )
    assert superuser_client.post(url, data).status_code == 302
    assert workspace.stages.get(code="prospect").name == "Hot prospect"
    assert workspace.stages.filter(code="vip").exists()

    data = form_data(superuser_client.get(url), "workspace_form")
    data["stages-0-DELETE"] = ["on"]
    refused = superuser_client.post(url, data)
    assert refused.status_code == 200
    assert "stage lead cannot be deleted: 1 people are in it" in page_text(refused)
    assert workspace.stages.filter(code="lead").exists()


def test_stage_a_definition_moves_people_to_is_kept(workspace, superuser_client):
    """A stage nobody is in but that a definition moves people to is not deleted: events
    register the check with the people app, and the form shows which definitions use it."""
    definition_create(
        workspace=workspace, definition_id="c_signed", name="Signed", lifecycle_stage="customer"
    )
    url = admin_url("people_workspace_change", workspace.pk)
    data = form_data(superuser_client.get(url), "workspace_form")
    index = [stage.code for stage in workspace.stages.order_by("position")].index("customer")
    data[f"stages-{index}-DELETE"] = ["on"]
    refused = superuser_client.post(url, data)
    assert refused.status_code == 200
    assert "stage customer cannot be deleted: definitions move people to it: c_signed" in (
        page_text(refused)
    )
    assert workspace.stages.filter(code="customer").exists()
