"""The admin of event definitions, events, channels, standard-event switches and "try it".

Real HTTP requests through Django's test client, real database; forms are read from the page
and posted back as a browser would (helpers in ``tests/people/test_admin.py``).
"""

import json
import re

import pytest
from django.test import override_settings

from events.models import Channel, Event, EventDefinition, PropertyDefinition
from events.selectors import definition_enabled_map
from events.services import PropertyInput, definition_create
from tests.people.test_admin import (
    admin_url,
    changelist_rows,
    form_data,
    login,
    make_person,
    make_staff,
    messages_of,
    page_text,
    send_events,
)


@pytest.fixture
def marketer_client(workspace):
    return login(make_staff("mia", workspace))


@pytest.fixture
def signup(workspace):
    """A custom definition with two properties."""
    return definition_create(
        workspace=workspace,
        definition_id="c_signup",
        name="Signup",
        properties=[
            PropertyInput(key="plan", type="text"),
            PropertyInput(key="seats", type="number"),
        ],
    )


def add_definition_data(client, definition_id="c_trial", properties=()):
    """Return the add form filled in with ``properties`` as ``(key, type)`` rows."""
    data = form_data(client.get(admin_url("events_eventdefinition_add")), "eventdefinition_form")
    data.update(definition_id=[definition_id], name=["Trial started"])
    for i, (key, type_) in enumerate(properties):
        data.update(
            {
                f"properties-{i}-key": [key],
                f"properties-{i}-name": [key],
                f"properties-{i}-type": [type_],
                f"properties-{i}-scope": ["event"],
            }
        )
    data["properties-TOTAL_FORMS"] = [str(max(len(properties), 1))]
    return data


# Scoping --------------------------------------------------------------------------------------


def test_staff_user_sees_only_definitions_and_events_of_their_workspace(
    workspace, other_workspace, marketer_client, signup
):
    """Another workspace's custom definitions, events and channels are invisible: not listed,
    not openable, not offered as choices."""
    theirs = definition_create(workspace=other_workspace, definition_id="c_secret", name="Secret")
    mine_person = make_person(workspace, "Alice")
    their_person = make_person(other_workspace, "Bruno")
    send_events(workspace, mine_person, "c_signup", [{"plan": "pro"}])
    send_events(other_workspace, their_person, "c_secret", [{}])
    Channel.objects.create(workspace=workspace, name="Shop app", app_type="app", app_key="a1")
    Channel.objects.create(
        workspace=other_workspace, name="Rival app", app_type="app", app_key="b1"
    )

    definitions = marketer_client.get(admin_url("events_eventdefinition_changelist"), {"all": ""})
    codes = {d.definition_id for d in changelist_rows(definitions)}
    assert "c_signup" in codes
    assert "itemViewed" in codes  # the built-in catalogue is shared, read-only
    assert "c_secret" not in codes
    assert (
        marketer_client.get(admin_url("events_eventdefinition_change", theirs.pk)).status_code
        == 302
    )

    events = marketer_client.get(admin_url("events_event_changelist"))
    assert {e.person_id for e in changelist_rows(events)} == {mine_person.pk}
    assert "Bruno" not in page_text(events)
    assert "Secret" not in page_text(events)  # nor in the definition filter
    their_event = Event.objects.get(person=their_person)
    assert marketer_client.get(admin_url("events_event_change", their_event.pk)).status_code == 302

    add = marketer_client.get(admin_url("events_eventdefinition_add"))
    channels = [str(c) for c in add.context["adminform"].form.fields["channel"].queryset]
    assert channels == ["Shop app (App)"]
    assert "workspace" not in add.context["adminform"].form.fields  # implied: only one


def test_built_in_definitions_are_read_only(workspace, marketer_client):
    """A built-in definition opens as a view page and refuses changes and deletion."""
    builtin = EventDefinition.objects.get(workspace=None, definition_id="itemViewed")
    url = admin_url("events_eventdefinition_change", builtin.pk)
    page = marketer_client.get(url)
    assert page.status_code == 200
    assert page.context["title"].startswith("View")
    assert marketer_client.post(url, {"name": "Hacked"}).status_code == 403
    assert (
        marketer_client.post(
            admin_url("events_eventdefinition_delete", builtin.pk), {"post": "yes"}
        ).status_code
        == 403
    )
    builtin.refresh_from_db()
    assert builtin.name == "Item viewed"


# The §4 rules in the form ---------------------------------------------------------------------


def test_custom_definition_id_must_start_with_c_(workspace, marketer_client):
    """A code without the c_ prefix is refused with a clear message."""
    data = add_definition_data(marketer_client, definition_id="signup")
    response = marketer_client.post(admin_url("events_eventdefinition_add"), data)
    assert response.status_code == 200
    assert "custom definition ids must start with c_ (for example c_signup)" in page_text(response)
    assert not EventDefinition.objects.filter(workspace=workspace).exists()


def test_definition_created_with_properties(workspace, marketer_client):
    """A valid definition and its properties are created in the user's workspace."""
    data = add_definition_data(marketer_client, properties=[("plan", "text"), ("seats", "number")])
    response = marketer_client.post(admin_url("events_eventdefinition_add"), data)
    assert response.status_code == 302, page_text(response)
    definition = EventDefinition.objects.get(definition_id="c_trial")
    assert definition.workspace == workspace
    assert list(definition.properties.values_list("key", "type")) == [
        ("plan", "text"),
        ("seats", "number"),
    ]


def test_duplicate_definition_id_is_a_form_error(workspace, marketer_client, signup):
    """A code already used in the workspace is refused on the definition id field."""
    data = add_definition_data(marketer_client, definition_id="c_signup")
    response = marketer_client.post(admin_url("events_eventdefinition_add"), data)
    assert response.status_code == 200
    assert "c_signup already exists" in page_text(response)
    assert EventDefinition.objects.filter(definition_id="c_signup").count() == 1


def test_property_limit_is_enforced_on_the_add_form(workspace, marketer_client):
    """Six properties on a new definition exceed the default limit of five."""
    data = add_definition_data(marketer_client, properties=[(f"p{i}", "text") for i in range(6)])
    response = marketer_client.post(admin_url("events_eventdefinition_add"), data)
    assert response.status_code == 200
    assert "a custom definition has at most 5 custom properties" in page_text(response)
    assert not EventDefinition.objects.filter(definition_id="c_trial").exists()


@override_settings(CDP_MAX_CUSTOM_PROPERTIES=3)
def test_property_limit_counts_existing_properties(workspace, marketer_client, signup):
    """With a limit of 3 and 2 properties, one more is added and two more are refused."""
    url = admin_url("events_eventdefinition_change", signup.pk)
    data = form_data(marketer_client.get(url), "eventdefinition_form")
    data.update(
        {
            "properties-2-key": ["coupon"],
            "properties-2-type": ["text"],
            "properties-2-scope": ["event"],
            "properties-3-key": ["source"],
            "properties-3-type": ["text"],
            "properties-3-scope": ["event"],
            "properties-TOTAL_FORMS": ["4"],
        }
    )
    refused = marketer_client.post(url, data)
    assert refused.status_code == 200
    assert "at most 3 custom properties (2 already, 2 more asked)" in page_text(refused)
    assert signup.properties.count() == 2

    data["properties-TOTAL_FORMS"] = ["3"]
    accepted = marketer_client.post(url, data)
    assert accepted.status_code == 302, page_text(accepted)
    assert list(signup.properties.values_list("key", flat=True)) == ["plan", "seats", "coupon"]


def test_property_limit_is_said_next_to_the_properties(workspace, marketer_client, signup):
    """The limit is written under the properties (the script keeps its count current); at the
    limit, where Django drops the "Add another" row, the note says no more can be added; a
    built-in definition, which has no limit, shows none."""
    url = admin_url("events_eventdefinition_change", signup.pk)
    page = page_text(marketer_client.get(url))
    assert re.search(
        r'<p class="help cdp-property-limit" id="cdp-property-limit" data-prefix="properties" '
        r'data-max="5">A custom definition has at most 5 custom properties\.</p>',
        page,
    )
    assert "cdp/admin/property_limit.js" in page
    full = definition_create(
        workspace=workspace,
        definition_id="c_full",
        name="Full",
        properties=[PropertyInput(key=f"p{i}", type="text") for i in range(5)],
    )
    page = page_text(marketer_client.get(admin_url("events_eventdefinition_change", full.pk)))
    assert "at most 5 custom properties: this one has all 5, so no more can be added." in page
    builtin = EventDefinition.objects.get(workspace=None, definition_id="pageView")
    page = page_text(marketer_client.get(admin_url("events_eventdefinition_change", builtin.pk)))
    assert "cdp-property-limit" not in page


def test_invalid_new_property_key_is_shown_on_its_row(workspace, marketer_client, signup):
    """A key that breaks the service's rule is reported on the row, nothing is added."""
    url = admin_url("events_eventdefinition_change", signup.pk)
    data = form_data(marketer_client.get(url), "eventdefinition_form")
    data.update(
        {
            "properties-2-key": ["1bad key"],
            "properties-2-type": ["text"],
            "properties-TOTAL_FORMS": ["3"],
        }
    )
    response = marketer_client.post(url, data)
    assert response.status_code == 200
    assert "start with a letter" in page_text(response)
    assert signup.properties.count() == 2


def test_existing_property_key_and_type_cannot_change(workspace, marketer_client, signup):
    """Key, type and scope of existing properties are disabled; the display name changes."""
    url = admin_url("events_eventdefinition_change", signup.pk)
    page = marketer_client.get(url)
    form = page.context["inline_admin_formsets"][0].formset.forms[0]
    assert form.fields["key"].disabled
    assert form.fields["type"].disabled
    data = form_data(page, "eventdefinition_form")
    data.update(
        {
            "properties-0-key": ["renamed"],
            "properties-0-type": ["number"],
            "properties-0-name": ["Plan name"],
            "name": ["Signed up"],
        }
    )
    response = marketer_client.post(url, data)
    assert response.status_code == 302, page_text(response)
    plan = PropertyDefinition.objects.get(definition=signup, position=0)
    assert (plan.key, plan.type, plan.name) == ("plan", "text", "Plan name")
    signup.refresh_from_db()
    assert signup.name == "Signed up"
    assert signup.definition_id == "c_signup"


def test_properties_cannot_be_deleted(workspace, marketer_client, signup):
    """The inline has no delete box, and a forged one deletes nothing."""
    url = admin_url("events_eventdefinition_change", signup.pk)
    page = marketer_client.get(url)
    assert 'name="properties-0-DELETE"' not in page_text(page)
    data = form_data(page, "eventdefinition_form")
    data["properties-0-DELETE"] = ["on"]
    marketer_client.post(url, data)
    assert signup.properties.count() == 2


def test_definition_id_is_read_only_after_creation(workspace, marketer_client, signup):
    """A posted definition id is ignored once the definition exists."""
    url = admin_url("events_eventdefinition_change", signup.pk)
    data = form_data(marketer_client.get(url), "eventdefinition_form")
    data["definition_id"] = ["c_other"]
    assert marketer_client.post(url, data).status_code == 302
    signup.refresh_from_db()
    assert signup.definition_id == "c_signup"


# Deletion -------------------------------------------------------------------------------------


def test_definition_with_events_is_not_deleted(workspace, marketer_client, signup):
    """The delete page of a used definition names the uses up front, in the id's own case,
    and offers no confirm button; a forged confirmation deletes nothing."""
    send_events(workspace, make_person(workspace, "Alice"), "c_signup", [{"plan": "pro"}])
    url = admin_url("events_eventdefinition_delete", signup.pk)
    page = marketer_client.get(url)
    assert page.status_code == 200
    text = page_text(page)
    assert "<code>c_signup</code>" in text
    assert "cannot be deleted while it is in use" in text
    assert re.search(r'<ul id="definition-usages">\s*<li>it has recorded events</li>', text)
    assert "Are you sure" not in text
    assert "Yes, I’m sure" not in text  # no confirm button
    assert "C_signup" not in text
    response = marketer_client.post(url, {"post": "yes"}, follow=True)
    assert response.status_code == 200
    assert EventDefinition.objects.filter(pk=signup.pk).exists()


def test_bulk_delete_respects_the_service(workspace, marketer_client, signup):
    """The delete action names the used definitions up front and offers no confirmation; a
    forged confirmation removes the unused ones and refuses the used ones with a message that
    keeps the id's case."""
    unused = definition_create(workspace=workspace, definition_id="c_unused", name="Unused")
    send_events(workspace, make_person(workspace, "Alice"), "c_signup", [{}])
    url = admin_url("events_eventdefinition_changelist")
    selected = {"action": "delete_selected", "_selected_action": [signup.pk, unused.pk]}
    confirm = marketer_client.post(url, selected)
    assert confirm.status_code == 200
    text = page_text(confirm)
    assert "Are you sure" not in text
    assert re.search(r'<ul id="definition-usages">\s*<li>c_signup: it has recorded events', text)
    response = marketer_client.post(url, {**selected, "post": "yes"}, follow=True)
    texts = messages_of(response)
    assert "Deleted 1 event definition(s)." in texts
    assert "Not deleted: c_signup cannot be deleted: it has recorded events" in texts
    assert "C_signup" not in page_text(response)
    assert EventDefinition.objects.filter(pk=signup.pk).exists()
    assert not EventDefinition.objects.filter(pk=unused.pk).exists()
    only_unused = definition_create(workspace=workspace, definition_id="c_spare", name="Spare")
    asked = marketer_client.post(
        url, {"action": "delete_selected", "_selected_action": [only_unused.pk]}
    )
    assert "Are you sure" in page_text(asked)


def test_unused_definition_is_deleted(workspace, marketer_client, signup):
    """An unused custom definition is deleted with its properties."""
    url = admin_url("events_eventdefinition_delete", signup.pk)
    response = marketer_client.post(url, {"post": "yes"})
    assert response.status_code == 302
    assert not EventDefinition.objects.filter(pk=signup.pk).exists()
    assert not PropertyDefinition.objects.filter(definition_id=signup.pk).exists()


# Standard event switches ----------------------------------------------------------------------


def test_standard_event_switches_save(workspace, marketer_client):
    """The switches page shows the workspace's state and saves it through the service."""
    page_view = EventDefinition.objects.get(workspace=None, definition_id="pageView")
    email_sent = EventDefinition.objects.get(workspace=None, definition_id="emailSent")
    url = admin_url("events_eventdefinition_standard")
    page = marketer_client.get(url)
    assert page.status_code == 200
    assert "Person events" in page_text(page)
    assert "Channel events" in page_text(page)
    data = form_data(page, "standard-events-form")
    enabled = set(data["enabled"])
    assert str(page_view.pk) not in enabled  # person events start off
    assert str(email_sent.pk) in enabled  # channel events start on

    enabled = (enabled - {str(email_sent.pk)}) | {str(page_view.pk)}
    response = marketer_client.post(url, {**data, "enabled": sorted(enabled)}, follow=True)
    assert response.status_code == 200
    assert any("2 switch(es) changed" in m for m in messages_of(response))
    state = definition_enabled_map(workspace=workspace, definitions=[page_view, email_sent])
    assert state == {page_view.pk: True, email_sent.pk: False}


def test_standard_switches_pick_among_the_users_workspaces(workspace, other_workspace):
    """A user of several workspaces switches the one they pick, never another's."""
    from people.workspaces import workspace_create

    third = workspace_create(slug="initech", name="Initech")
    client = login(make_staff("dana", workspace, third))
    page_view = EventDefinition.objects.get(workspace=None, definition_id="pageView")
    url = admin_url("events_eventdefinition_standard")
    page = client.get(url, {"workspace": third.pk})
    data = form_data(page, "standard-events-form")
    assert data["workspace"] == [str(third.pk)]
    client.post(url, {**data, "enabled": [*data["enabled"], str(page_view.pk)]})
    assert definition_enabled_map(workspace=third, definitions=[page_view])[page_view.pk]
    assert not definition_enabled_map(workspace=workspace, definitions=[page_view])[page_view.pk]
    # Another workspace's id falls back to the user's own.
    client.post(url, {"workspace": other_workspace.pk, "enabled": [str(page_view.pk)]})
    assert not definition_enabled_map(workspace=other_workspace, definitions=[page_view])[
        page_view.pk
    ]


# "Try it" -------------------------------------------------------------------------------------


def test_try_it_records_an_event(workspace, marketer_client):
    """The try-it page sends through ingestion (origin admin) and links the stored event."""
    person = make_person(workspace, "Alice", email="alice@acme.test")
    url = admin_url("events_event_try")
    data = form_data(marketer_client.get(url, {"person": person.pk}), "try-event-form")
    assert data["person"] == [str(person.pk)]
    data.update(
        definition=["itemViewed"],
        person=["Alice@Acme.test"],
        properties=[json.dumps({"itemId": 7, "duration": 3.5})],
        external_id=["try-1"],
    )
    response = marketer_client.post(url, data)
    assert response.status_code == 200
    event = Event.objects.get(external_id="try-1")
    assert (event.person_id, event.origin) == (person.pk, Event.Origin.ADMIN)
    assert event.definition.definition_id == "itemViewed"
    assert event.properties == {"itemId": 7, "duration": 3.5}
    text = page_text(response)
    assert "Accepted" in text
    assert admin_url("events_event_change", event.pk) in text
    assert admin_url("people_person_change", person.pk) in text

    again = marketer_client.post(url, data)
    assert "Duplicate" in page_text(again)
    assert Event.objects.filter(external_id="try-1").count() == 1


def test_try_it_shows_errors_for_a_bad_property(workspace, marketer_client):
    """A property of the wrong type is named on the form and nothing is stored."""
    person = make_person(workspace, "Alice")
    url = admin_url("events_event_try")
    data = form_data(marketer_client.get(url), "try-event-form")
    data.update(
        definition=["itemViewed"],
        person=[str(person.pk)],
        properties=['{"itemId": "seven", "colour": "red"}'],
    )
    response = marketer_client.post(url, data)
    assert response.status_code == 200
    text = page_text(response)
    assert "itemId: must be a number (not quoted)" in text
    assert "colour: itemViewed has no property" in text
    assert not Event.objects.exists()


def test_try_it_refuses_unknown_people_and_bad_json(workspace, other_workspace, marketer_client):
    """People of other workspaces are unknown here; broken JSON is a form error."""
    stranger = make_person(other_workspace, "Bruno", email="bruno@globex.test")
    url = admin_url("events_event_try")
    data = form_data(marketer_client.get(url), "try-event-form")
    data.update(definition=["itemViewed"], person=[str(stranger.pk)], properties=['{"itemId": 1}'])
    assert "no person with id" in page_text(marketer_client.post(url, data))
    data.update(person=["bruno@globex.test"])
    assert "no person has these identifiers" in page_text(marketer_client.post(url, data))
    data.update(properties=["{itemId: 1"])
    assert "This is not valid JSON" in page_text(marketer_client.post(url, data))
    assert not Event.objects.exists()


def test_try_it_offers_only_enabled_definitions(workspace, marketer_client, signup):
    """Disabled standard events are not offered; custom ones and templates are."""
    page = marketer_client.get(admin_url("events_event_try"))
    codes = {value for value, _ in page.context["form"].fields["definition"].choices}
    assert {"c_signup", "itemViewed", "emailSent"} <= codes
    assert "pageView" not in codes


# Events ---------------------------------------------------------------------------------------


def test_events_are_read_only_and_filter_by_person(workspace, marketer_client):
    """Events cannot be added, changed or deleted; ?person__id__exact= lists one person's."""
    alice, bob = make_person(workspace, "Alice"), make_person(workspace, "Bob")
    send_events(workspace, alice, "itemViewed", [{"itemId": 1}, {"itemId": 2}])
    send_events(workspace, bob, "itemViewed", [{"itemId": 3}])
    assert marketer_client.get(admin_url("events_event_add")).status_code == 403
    event = Event.objects.filter(person=alice).first()
    view = marketer_client.get(admin_url("events_event_change", event.pk))
    assert view.status_code == 200
    assert view.context["title"].startswith("View")
    assert marketer_client.post(admin_url("events_event_change", event.pk), {}).status_code == 403
    listing = marketer_client.get(
        admin_url("events_event_changelist"), {"person__id__exact": alice.pk}
    )
    assert listing.status_code == 200
    assert {e.person_id for e in changelist_rows(listing)} == {alice.pk}
    assert len(changelist_rows(listing)) == 2


def test_events_search_by_external_id_and_filter_by_definition(workspace, marketer_client, signup):
    """Search matches the exact external id; the definition filter narrows the list."""
    from events.ingestion import events_ingest
    from events.inputs import EventInput
    from people.inputs import PersonRef

    person = make_person(workspace, "Alice")
    events_ingest(
        workspace=workspace,
        origin=Event.Origin.API,
        events=[
            EventInput(
                definition_id="c_signup", person=PersonRef(id=person.pk), external_id="order-1"
            ),
            EventInput(
                definition_id="itemViewed",
                person=PersonRef(id=person.pk),
                properties={"itemId": 1},
                external_id="order-2",
            ),
        ],
    )
    url = admin_url("events_event_changelist")
    found = changelist_rows(marketer_client.get(url, {"q": "order-1"}))
    assert [e.external_id for e in found] == ["order-1"]
    filtered = changelist_rows(marketer_client.get(url, {"definition": signup.pk}))
    assert [e.external_id for e in filtered] == ["order-1"]


# Channels -------------------------------------------------------------------------------------


def test_developer_creates_a_channel_in_their_workspace(workspace):
    """A new channel gets the user's only workspace; a taken APP_KEY is refused."""
    client = login(make_staff("dev", workspace, group="Developer"))
    url = admin_url("events_channel_add")
    data = form_data(client.get(url), "channel_form")
    data.update(name=["Shop"], app_type=["web"], app_key=["shop-web"])
    assert client.post(url, data).status_code == 302
    assert Channel.objects.get(app_key="shop-web").workspace == workspace
    again = client.post(url, data)
    assert again.status_code == 200
    assert "another channel of this workspace uses shop-web" in page_text(again)


def test_user_of_several_workspaces_chooses_the_definitions_workspace(workspace, other_workspace):
    """With several workspaces the add form asks which one, among the user's only."""
    from people.workspaces import workspace_create

    third = workspace_create(slug="initech", name="Initech")
    client = login(make_staff("dana", workspace, third))
    page = client.get(admin_url("events_eventdefinition_add"))
    choices = {w.pk for w in page.context["adminform"].form.fields["workspace"].queryset}
    assert choices == {workspace.pk, third.pk}
    data = add_definition_data(client)
    data["workspace"] = [str(third.pk)]
    assert client.post(admin_url("events_eventdefinition_add"), data).status_code == 302
    assert EventDefinition.objects.get(definition_id="c_trial").workspace == third
    data.update(workspace=[str(other_workspace.pk)], definition_id=["c_other"])
    refused = client.post(admin_url("events_eventdefinition_add"), data)
    assert "Select a valid choice" in page_text(refused)
    assert not EventDefinition.objects.filter(definition_id="c_other").exists()


def test_person_event_summary_rows_are_labelled_in_words(workspace, marketer_client, signup):
    """Each row of the person page's event summary reads "<name> (<code>): N events", not
    internal ids."""
    person = make_person(workspace, "Uma")
    send_events(workspace, person, "itemViewed", [{"itemId": i} for i in range(3)])
    send_events(workspace, person, "c_signup", [{"plan": "pro"}])
    page = page_text(marketer_client.get(admin_url("people_person_change", person.pk)))
    labels = re.findall(r'<td class="original">\s*<p>\s*([^<]*?)\s*</p>', page)
    assert sorted(labels) == ["Item viewed (itemViewed): 3 events", "Signup (c_signup): 1 event"]
    assert not re.search(rf"\b{person.pk}/\d+: ", page)
