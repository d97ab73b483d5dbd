"""PPMessage's track_event through the web SDK's collect endpoint (SPEC §6): the SDK sends
``event_data`` as the item's ``data`` and ``event_timestamp`` unchanged (seconds); the
definition is named by ``event_name`` as another system's name (``c_`` + snake case)."""

import pytest

from events.services import PropertyInput, definition_create
from tests.api_helpers import workspace_api

pytestmark = pytest.mark.django_db

# Seed 004's event, as the page builds it (pageX/pageY of a click, the page's URL).
EVENT_DATA = {"x": 120, "y": 48, "page_url": "https://shop.example.com/products"}
EVENT_TIMESTAMP = 1_714_564_800  # Math.round(new Date().getTime()/1000)


@pytest.fixture
def api(workspace):
    definition_create(
        workspace=workspace,
        definition_id="c_webclick",
        name="webclick",
        properties=[PropertyInput("x", type="number"), PropertyInput("y", type="number")],
    )
    return workspace_api(workspace)


def _collect(api, **item):
    return api.public.post(
        "/api/v1/collect",
        {"anonymousId": "visitor-1", "events": [{"type": "track", **item}]},
    )


def test_event_data_is_kept_whole_and_the_time_is_seconds(api):
    answer = _collect(
        api, event="webclick", data=EVENT_DATA, timestamp=EVENT_TIMESTAMP, messageId="m-1"
    )
    assert answer.status_code == 200, answer.content
    assert answer.json()["accepted"] == 1, answer.json()
    [event] = api.secret.get("/api/v1/events?definitionId=c_webclick").json()["results"]
    assert event["properties"] == EVENT_DATA
    assert event["occurredTime"].startswith("2024-05-01T12:00:00")


def test_declared_properties_are_validated_from_event_data(api):
    """A declared number sent as text is refused, named under ``data``; nothing is stored."""
    answer = _collect(api, event="webclick", data={**EVENT_DATA, "x": "120"})
    body = answer.json()
    assert answer.status_code == 200, answer.content
    assert body["rejected"] == 1
    assert body["errors"][0]["field"] == "events[0].data.x"
    assert api.secret.get("/api/v1/events").json()["results"] == []


def test_data_must_be_an_object(api):
    body = _collect(api, event="webclick", data=[1, 2]).json()
    assert body["rejected"] == 1
    assert body["errors"][0]["field"] == "events[0].data"
