"""Event definitions (SPEC §4): the c_ rule, the property limit, editing rules, deletion
protection and the built-in catalogue loaded by the data migration."""

import pytest

from cdp.errors import ErrorCode, ServiceError
from events.catalogue import CHANNEL_EVENTS, PERSON_EVENTS, PRODUCT_EVENTS, TEMPLATES
from events.ingestion import events_ingest
from events.inputs import Status
from events.models import Event, EventDefinition, PropertyDefinition
from events.selectors import definition_enabled_map, definition_get
from events.services import (
    PropertyInput,
    definition_create,
    definition_delete,
    definition_set_enabled,
    definition_update,
    properties_sync,
    property_add,
)
from people.inputs import PersonRef
from tests.factories import DefinitionFactory, PersonFactory, WorkspaceFactory, event, props

pytestmark = pytest.mark.django_db


def builtin(code: str) -> EventDefinition:
    return EventDefinition.objects.get(workspace__isnull=True, definition_id=code)


def property_types(definition: EventDefinition) -> dict[str, tuple[str, bool]]:
    return {p.key: (p.type, p.required) for p in definition.properties.all()}


def edit(via: str, definition: EventDefinition, wanted: list[PropertyInput], **fields) -> None:
    """Edit properties through definition_update or properties_sync."""
    if via == "definition_update":
        definition_update(definition=definition, fields=fields, properties=wanted)
    else:
        properties_sync(definition=definition, properties=wanted)


def raises_field(excinfo) -> tuple[str, str, str]:
    first = excinfo.value.first
    return first.field, first.code, first.message


# The c_ rule --------------------------------------------------------------------------------


def test_custom_definition_id_must_start_with_c(workspace):
    """A custom code without the c_ prefix is refused with custom_prefix_required on
    definitionId, and nothing is stored."""
    with pytest.raises(ServiceError) as excinfo:
        definition_create(workspace=workspace, definition_id="purchase", name="Purchase")
    field, code, message = raises_field(excinfo)
    assert (field, code) == ("definitionId", ErrorCode.CUSTOM_PREFIX)
    assert "c_" in message
    assert not EventDefinition.objects.filter(workspace=workspace).exists()


def test_custom_definition_with_prefix_is_created(workspace):
    """A c_ code is stored as a custom definition of the workspace with its properties."""
    definition = definition_create(
        workspace=workspace,
        definition_id="c_purchase",
        name="Purchase",
        properties=props(orderId="text!", total="number"),
    )
    stored = EventDefinition.objects.get(pk=definition.pk)
    assert stored.workspace_id == workspace.pk
    assert stored.kind == EventDefinition.Kind.CUSTOM
    assert property_types(stored) == {"orderId": ("text", True), "total": ("number", False)}


@pytest.mark.parametrize("code", ["c_bad-code", "c_with space", "c_é", "c_" + "x" * 31])
def test_definition_id_characters_and_length(workspace, code):
    """Codes with characters other than letters, digits and _ or longer than 32 characters
    give invalid_definition_id on definitionId."""
    with pytest.raises(ServiceError) as excinfo:
        definition_create(workspace=workspace, definition_id=code, name="Bad")
    assert raises_field(excinfo)[:2] == ("definitionId", ErrorCode.INVALID_DEFINITION_ID)


def test_definition_id_of_exactly_32_characters_is_accepted(workspace):
    """The 32-character limit is inclusive."""
    code = "c_" + "x" * 30
    assert definition_create(workspace=workspace, definition_id=code, name="Long").pk


def test_duplicate_definition_id_is_refused(workspace):
    """The same code twice in one workspace is refused as duplicate on definitionId."""
    DefinitionFactory(workspace=workspace, definition_id="c_signup")
    with pytest.raises(ServiceError) as excinfo:
        DefinitionFactory(workspace=workspace, definition_id="c_signup")
    assert raises_field(excinfo)[:2] == ("definitionId", ErrorCode.DUPLICATE)
    assert EventDefinition.objects.filter(definition_id="c_signup").count() == 1


# The property limit -------------------------------------------------------------------------


def test_six_properties_at_creation_exceed_the_limit(workspace):
    """Six properties at creation fail with property_limit; the message names the limit."""
    six = props(a="text", b="text", c="text", d="text", e="text", f="text")
    with pytest.raises(ServiceError) as excinfo:
        definition_create(workspace=workspace, definition_id="c_big", name="Big", properties=six)
    field, code, message = raises_field(excinfo)
    assert (field, code) == ("properties", ErrorCode.PROPERTY_LIMIT)
    assert "at most 5" in message
    assert not EventDefinition.objects.filter(definition_id="c_big").exists()


def test_property_add_up_to_the_limit_then_one_more_fails(workspace):
    """property_add accepts properties up to the limit; the next one fails with
    property_limit and is not stored."""
    definition = DefinitionFactory(workspace=workspace, properties=props(a="text", b="number"))
    property_add(definition=definition, properties=props(c="boolean", d="datetime"))
    property_add(definition=definition, properties=props(e="text"))
    assert definition.properties.count() == 5
    with pytest.raises(ServiceError) as excinfo:
        property_add(definition=definition, properties=props(f="text"))
    field, code, message = raises_field(excinfo)
    assert (field, code) == ("properties", ErrorCode.PROPERTY_LIMIT)
    assert "at most 5" in message
    assert sorted(definition.properties.values_list("key", flat=True)) == list("abcde")


def test_property_limit_follows_the_setting(workspace, settings):
    """CDP_MAX_CUSTOM_PROPERTIES overrides the limit both at creation and when adding."""
    settings.CDP_MAX_CUSTOM_PROPERTIES = 2
    with pytest.raises(ServiceError) as excinfo:
        definition_create(
            workspace=workspace,
            definition_id="c_three",
            name="Three",
            properties=props(a="text", b="text", c="text"),
        )
    assert raises_field(excinfo)[1] == ErrorCode.PROPERTY_LIMIT
    assert "at most 2" in raises_field(excinfo)[2]
    definition = definition_create(
        workspace=workspace, definition_id="c_two", name="Two", properties=props(a="text", b="text")
    )
    with pytest.raises(ServiceError):
        property_add(definition=definition, properties=props(c="text"))
    settings.CDP_MAX_CUSTOM_PROPERTIES = 8
    definition_create(
        workspace=workspace,
        definition_id="c_eight",
        name="Eight",
        properties=props(**{k: "text" for k in "abcdefgh"}),
    )
    assert PropertyDefinition.objects.filter(definition__definition_id="c_eight").count() == 8


def test_property_add_refuses_an_existing_key(workspace):
    """Adding a key the definition already has is a duplicate naming the key."""
    definition = DefinitionFactory(workspace=workspace, properties=props(a="text"))
    with pytest.raises(ServiceError) as excinfo:
        property_add(definition=definition, properties=props(a="number"))
    _, code, message = raises_field(excinfo)
    assert code == ErrorCode.DUPLICATE
    assert "'a'" in message
    assert property_types(definition) == {"a": ("text", False)}


# Editing rules ------------------------------------------------------------------------------


def test_definition_id_is_immutable(workspace):
    """definition_update refuses a new definitionId with immutable; the code stays."""
    definition = DefinitionFactory(workspace=workspace, definition_id="c_order")
    with pytest.raises(ServiceError) as excinfo:
        definition_update(
            definition=definition, fields={"definition_id": "c_renamed", "name": "Renamed"}
        )
    assert raises_field(excinfo)[:2] == ("definitionId", ErrorCode.IMMUTABLE)
    stored = EventDefinition.objects.get(pk=definition.pk)
    assert (stored.definition_id, stored.name) == ("c_order", definition.name)


def test_display_names_and_description_can_change(workspace):
    """Name, description and a property's display name may change."""
    definition = DefinitionFactory(workspace=workspace, properties=props(total="number"))
    definition_update(
        definition=definition,
        fields={
            "name": "Order placed",
            "description": "Checkout done",
            "definition_id": definition.definition_id,
        },
        properties=[PropertyInput(key="total", name="Order total", type="number")],
    )
    stored = EventDefinition.objects.get(pk=definition.pk)
    assert (stored.name, stored.description) == ("Order placed", "Checkout done")
    assert stored.properties.get(key="total").name == "Order total"


@pytest.mark.parametrize("via", ["definition_update", "properties_sync"])
def test_property_type_cannot_change(workspace, via):
    """Changing a property's type is refused with immutable, naming the property, and no
    other change of the same call is kept."""
    definition = DefinitionFactory(
        workspace=workspace, properties=props(coupon="text", total="number")
    )
    wanted = [
        PropertyInput(key="coupon", name="Coupon code", type="text"),
        PropertyInput(key="total", name="Renamed", type="text"),
    ]
    with pytest.raises(ServiceError) as excinfo:
        edit(via, definition, wanted)
    field, code, message = raises_field(excinfo)
    assert code == ErrorCode.IMMUTABLE
    assert "total" in message
    assert field == "properties[1].type"
    names = dict(definition.properties.values_list("key", "name"))
    assert names == {"coupon": "coupon", "total": "total"}
    assert property_types(definition)["total"] == ("number", False)


@pytest.mark.parametrize("via", ["definition_update", "properties_sync"])
def test_property_cannot_be_deleted(workspace, via):
    """Leaving a property out is refused with immutable; the error names the property."""
    definition = DefinitionFactory(
        workspace=workspace, properties=props(total="number", coupon="text")
    )
    wanted = [PropertyInput(key="total", type="number")]
    with pytest.raises(ServiceError) as excinfo:
        edit(via, definition, wanted, name="X")
    field, code, message = raises_field(excinfo)
    assert (field, code) == ("properties", ErrorCode.IMMUTABLE)
    assert "coupon" in message
    assert sorted(definition.properties.values_list("key", flat=True)) == ["coupon", "total"]
    assert EventDefinition.objects.get(pk=definition.pk).name != "X"


def test_new_property_can_be_added_within_the_limit(workspace):
    """definition_update with the existing properties plus a new one adds it; beyond the
    limit it fails with property_limit."""
    definition = DefinitionFactory(workspace=workspace, properties=props(a="text", b="text"))
    existing = [PropertyInput(key="a"), PropertyInput(key="b")]
    definition_update(
        definition=definition,
        fields={},
        properties=[*existing, PropertyInput(key="c", type="boolean")],
    )
    assert property_types(definition)["c"] == ("boolean", False)
    more = [*existing, PropertyInput(key="c", type="boolean"), *props(d="text", e="text", f="text")]
    with pytest.raises(ServiceError) as excinfo:
        definition_update(definition=definition, fields={}, properties=more)
    assert raises_field(excinfo)[1] == ErrorCode.PROPERTY_LIMIT
    assert definition.properties.count() == 3


def test_builtin_definitions_cannot_be_edited_or_deleted(workspace):
    """Templates and standard definitions refuse updates, new properties, property edits and
    deletion."""
    item_viewed = builtin("itemViewed")
    with pytest.raises(ServiceError) as excinfo:
        definition_update(definition=item_viewed, fields={"name": "Changed"})
    assert raises_field(excinfo)[1] == ErrorCode.IMMUTABLE
    with pytest.raises(ServiceError):
        property_add(definition=item_viewed, properties=props(extra="text"))
    with pytest.raises(ServiceError):
        properties_sync(
            definition=item_viewed,
            properties=[
                PropertyInput(key="itemId", name="Renamed", type="number", required=True),
                PropertyInput(key="duration", type="number"),
            ],
        )
    with pytest.raises(ServiceError) as excinfo:
        definition_delete(definition=builtin("pageView"))
    assert raises_field(excinfo)[1] == ErrorCode.PROTECTED
    stored = builtin("itemViewed")
    assert stored.name == "Item viewed"
    assert property_types(stored) == {"itemId": ("number", True), "duration": ("number", False)}
    assert stored.properties.get(key="itemId").name == "itemId"
    assert EventDefinition.objects.filter(workspace__isnull=True, definition_id="pageView").exists()


# Deletion protection ------------------------------------------------------------------------


def test_definition_with_events_is_protected(workspace):
    """A definition with recorded events cannot be deleted; the error says why."""
    definition = DefinitionFactory(workspace=workspace, definition_id="c_used")
    person = PersonFactory(workspace=workspace)
    result = events_ingest(workspace=workspace, events=[event("c_used", person)], origin="api")
    assert result.accepted == 1
    with pytest.raises(ServiceError) as excinfo:
        definition_delete(definition=definition)
    field, code, message = raises_field(excinfo)
    assert (field, code) == ("definitionId", ErrorCode.PROTECTED)
    assert "c_used" in message
    assert "events" in message
    assert EventDefinition.objects.filter(pk=definition.pk).exists()


def test_unused_definition_is_deleted(workspace):
    """An unused custom definition and its properties are deleted."""
    definition = DefinitionFactory(workspace=workspace, properties=props(a="text"))
    definition_delete(definition=definition)
    assert not EventDefinition.objects.filter(pk=definition.pk).exists()
    assert not PropertyDefinition.objects.filter(definition_id=definition.pk).exists()


# Built-in catalogue -------------------------------------------------------------------------

TEMPLATE_PROPERTIES = {
    "itemViewed": {"itemId": ("number", True), "duration": ("number", False)},
    "itemPurchased": {
        "itemId": ("number", True),
        "amount": ("number", False),
        "price": ("number", False),
        "profit": ("number", False),
    },
    "ratingAdded": {"itemId": ("number", True), "rating": ("number", False)},
    "addedToCart": {
        "itemId": ("number", True),
        "amount": ("number", False),
        "price": ("number", False),
    },
    "addedToFavourites": {"itemId": ("number", True)},
    "viewPortionSet": {
        "itemId": ("number", True),
        "portion": ("number", False),
        "sessionId": ("text", False),
    },
}
UTM_KEYS = {"utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content"}
STANDARD_KEYS = {
    "sessionStarted": {"sessionId", "sessionStart", "sessionType"} | UTM_KEYS,
    "pageView": {
        "pageTitle",
        "url",
        "domain",
        "path",
        "deviceType",
        "timestamp",
        "browserName",
        "browserVersion",
        "browserOS",
        "referrer",
        "browserLanguage",
        "websiteLanguage",
    },
    "sessionEnded": {"sessionId", "sessionEnd", "sessionDuration", "sessionType"} | UTM_KEYS,
}


@pytest.mark.parametrize("code", sorted(TEMPLATE_PROPERTIES))
def test_catalogue_templates(code):
    """The migration loads each template with its properties, types and required flags."""
    definition = builtin(code)
    assert definition.kind == EventDefinition.Kind.TEMPLATE
    assert property_types(definition) == TEMPLATE_PROPERTIES[code]


@pytest.mark.parametrize("code", sorted(STANDARD_KEYS))
def test_catalogue_standard_person_events(code):
    """sessionStarted, pageView and sessionEnded are standard person events with their
    properties."""
    definition = builtin(code)
    assert (definition.kind, definition.category) == ("standard", "person")
    assert set(property_types(definition)) == STANDARD_KEYS[code]


def test_catalogue_typed_standard_properties():
    """Times are date-times and the session duration is a number; personMerged exists."""
    assert property_types(builtin("sessionStarted"))["sessionStart"] == ("datetime", False)
    assert property_types(builtin("sessionEnded"))["sessionDuration"] == ("number", False)
    assert property_types(builtin("pageView"))["timestamp"] == ("datetime", False)
    merged = builtin("personMerged")
    assert (merged.kind, merged.category) == ("standard", "person")


def test_catalogue_is_complete():
    """Every catalogue entry is in the database once, with no workspace."""
    expected = {c for c, _, _ in TEMPLATES + PERSON_EVENTS + CHANNEL_EVENTS + PRODUCT_EVENTS}
    stored = list(
        EventDefinition.objects.filter(workspace__isnull=True).values_list(
            "definition_id", flat=True
        )
    )
    assert set(stored) == expected
    assert len(stored) == len(expected)
    categories = dict(
        EventDefinition.objects.filter(workspace__isnull=True, kind="standard").values_list(
            "definition_id", "category"
        )
    )
    assert categories["emailOpened"] == "channel"
    assert categories["flowEntered"] == "product"
    assert categories["tagAdded"] == "person"


def test_default_enablement(workspace):
    """Templates and channel events are on by default; person and product events are off."""
    codes = [
        "itemViewed",
        "emailOpened",
        "smsDelivered",
        "pageView",
        "sessionStarted",
        "flowEntered",
        "formSubmitted",
    ]
    definitions = [builtin(c) for c in codes]
    enabled = definition_enabled_map(workspace=workspace, definitions=definitions)
    by_code = {d.definition_id: enabled[d.pk] for d in definitions}
    assert by_code == {
        "itemViewed": True,
        "emailOpened": True,
        "smsDelivered": True,
        "pageView": False,
        "sessionStarted": False,
        "flowEntered": False,
        "formSubmitted": False,
    }


@pytest.mark.parametrize("code", ["pageView", "formSubmitted"])
def test_disabled_standard_event_is_rejected_until_enabled(workspace, code):
    """Person and product events are rejected with definition_disabled until the workspace
    enables them, and only for that workspace."""
    person = PersonFactory(workspace=workspace)
    first = events_ingest(workspace=workspace, events=[event(code, person)], origin="api")
    [item] = first.items
    assert item.status == Status.REJECTED
    assert [(e.field, e.code) for e in item.errors] == [
        ("definitionId", ErrorCode.DEFINITION_DISABLED)
    ]
    definition_set_enabled(workspace=workspace, definition=builtin(code), enabled=True)
    second = events_ingest(workspace=workspace, events=[event(code, person)], origin="api")
    assert second.items[0].status == Status.ACCEPTED
    assert Event.objects.filter(workspace=workspace, definition__definition_id=code).count() == 1


def test_channel_event_can_be_switched_off(workspace, other_workspace):
    """A workspace can switch a channel event off; other workspaces keep it on."""
    definition_set_enabled(workspace=workspace, definition=builtin("emailOpened"), enabled=False)
    mine = PersonFactory(workspace=workspace)
    theirs = PersonFactory(workspace=other_workspace)
    rejected = events_ingest(workspace=workspace, events=[event("emailOpened", mine)], origin="api")
    accepted = events_ingest(
        workspace=other_workspace, events=[event("emailOpened", theirs)], origin="api"
    )
    assert rejected.items[0].errors[0].code == ErrorCode.DEFINITION_DISABLED
    assert accepted.items[0].status == Status.ACCEPTED


def test_definition_of_another_workspace_is_unknown(workspace, other_workspace):
    """A custom definition of workspace B is unknown in workspace A; a parent's applies to
    its sub-accounts."""
    DefinitionFactory(workspace=other_workspace, definition_id="c_theirs")
    assert definition_get(workspace=workspace, definition_id="c_theirs") is None
    result = events_ingest(
        workspace=workspace, events=[event("c_theirs", PersonRef(external_id="p1"))], origin="api"
    )
    assert result.items[0].errors[0].code == ErrorCode.UNKNOWN_DEFINITION
    child = WorkspaceFactory(parent=other_workspace)
    assert definition_get(workspace=child, definition_id="c_theirs") is not None
    child_result = events_ingest(
        workspace=child, events=[event("c_theirs", PersonRef(external_id="p1"))], origin="api"
    )
    assert child_result.items[0].status == Status.ACCEPTED
