"""Event times before 1970-01-01T00:00:00Z are refused (SPEC §5 "Times"), as ISO-8601
strings and as negative epoch milliseconds, with a 400 naming the field; the epoch itself is
accepted, and a datetime property (a birth date) may be older."""

import pytest

from events.models import Event
from people.services import person_create
from tests.api_helpers import assert_error, workspace_api
from tests.factories import DefinitionFactory, props

pytestmark = pytest.mark.django_db

BEFORE_1970 = [
    "1969-12-31T23:59:59Z",
    "1970-01-01T00:59:59+01:00",
    "1900-01-01T00:00:00Z",
    "0001-01-01T00:00:00+01:00",
    -1,
    -86_400_000,
]


@pytest.fixture
def api(workspace):
    DefinitionFactory(
        workspace=workspace, definition_id="c_signup", properties=props(born="datetime")
    )
    person_create(workspace=workspace, external_id="ann")
    return workspace_api(workspace)


def _native(api, occurred, **properties):
    return api.secret.post(
        "/api/v1/events",
        {
            "definitionId": "c_signup",
            "person": {"externalId": "ann"},
            "occurredTime": occurred,
            "properties": properties,
        },
    )


@pytest.mark.parametrize("occurred", BEFORE_1970)
def test_native_api_refuses_times_before_1970(api, occurred):
    """The native API answers 400 naming ``occurredTime`` and stores nothing."""
    error = assert_error(_native(api, occurred), 400, code="invalid", field="occurredTime")
    assert "1970-01-01T00:00:00Z" in error["message"]
    assert not Event.objects.exists()


@pytest.mark.parametrize("occurred", ["1970-01-01T00:00:00Z", 0, "2024-05-01T12:00:00Z"])
def test_the_epoch_and_later_are_accepted(api, occurred):
    assert _native(api, occurred).status_code == 201


def test_a_datetime_property_may_be_older(api):
    """Only the event's time is bounded: a birth date in 1960 is a valid property value."""
    assert _native(api, "2024-05-01T12:00:00Z", born="1960-04-02T00:00:00Z").status_code == 201


@pytest.mark.parametrize("date", ["1969-12-31T23:59:59Z", -1])
def test_dmhub_refuses_dates_before_1970(api, client, date):
    """The DM Hub-compatible endpoint refuses the event's ``date`` before 1970 as a 400 in its
    own shape naming the field."""
    response = client.post(
        f"/v1/customerevents?access_token={api.secret_raw}",
        {"customerId": "ann", "event": "c_signup", "date": date},
        content_type="application/json",
    )
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert "1970" in error["message"]
    assert error["field"] == "date"
    assert not Event.objects.exists()


def _stored_time(api, occurred) -> str:
    answer = _native(api, occurred)
    assert answer.status_code == 201, answer.content
    return api.secret.get(f"/api/v1/events/{answer.json()['eventId']}").json()["occurredTime"]


def test_a_number_below_10_to_the_11_is_seconds(api):
    """PPMessage's ``event_timestamp`` is seconds: a number below 10^11 is read as seconds
    (10^11 ms would be March 1973), never stored as a day in January 1970."""
    assert _stored_time(api, 1_714_564_800).startswith("2024-05-01T12:00:00")


def test_milliseconds_stay_milliseconds(api):
    assert _stored_time(api, 1_714_564_800_123).startswith("2024-05-01T12:00:00.123")


def test_seconds_far_ahead_are_refused_not_stored_in_1970(api):
    """Just below 10^11 seconds is the year 5138: refused as the future, naming the field."""
    assert_error(_native(api, 99_999_999_999), 400, code="invalid", field="occurredTime")
    assert not Event.objects.exists()
