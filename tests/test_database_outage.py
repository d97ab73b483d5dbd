"""A PostgreSQL outage answers 503 with ``Retry-After``, never a 500, and stores nothing.

The outage is real: the test closes the connection and points it at a port nobody listens
on, so the next request's connection attempt is refused by the operating system, as when the
server is down.
"""

import base64
import socket
from contextlib import contextmanager

import pytest
from django.db import connection

from tests.api_helpers import JsonClient, workspace_api
from tests.factories import DefinitionFactory, props

pytestmark = pytest.mark.django_db(transaction=True)

BATCH = {
    "events": [
        {"definitionId": "c_p", "person": {"externalId": f"cust-{i}"}, "properties": {"total": i}}
        for i in range(50)
    ]
}


@pytest.fixture(autouse=True)
def _postgresql_only():
    if connection.vendor != "postgresql":
        pytest.skip("a refused connection needs PostgreSQL (set DATABASE_URL); SQLite is a file")


@contextmanager
def database_down():
    """While inside, every new connection to the database is refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    port = connection.settings_dict["PORT"]
    connection.close()
    connection.settings_dict["PORT"] = closed_port
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict["PORT"] = port


def assert_unavailable(response, *, json_body: bool = True):
    assert response.status_code == 503, response.content[:300]
    assert int(response["Retry-After"]) > 0
    if json_body:
        error = response.json()["error"]
        assert error["code"] == "unavailable"
        assert error["message"]


@pytest.fixture
def api(workspace):
    DefinitionFactory(workspace=workspace, definition_id="c_p", properties=props(total="number"))
    return workspace_api(workspace)


def test_a_batch_during_an_outage_is_a_503_and_nothing_is_stored(api):
    """The native batch answers 503 ``unavailable`` with Retry-After; after the outage no
    event and no person of the batch exists, and the same batch is then accepted."""
    from events.models import Event
    from people.models import Person

    client = api.secret
    with database_down():
        assert_unavailable(client.post("/api/v1/events/batch", BATCH))
        assert_unavailable(client.get("/api/v1/events"))
    assert not Event.objects.exists()
    assert not Person.objects.filter(external_id__startswith="cust-").exists()
    response = client.post("/api/v1/events/batch", BATCH)
    assert response.status_code == 200, response.content[:300]
    assert Event.objects.count() == 50


def test_compatible_endpoints_and_collect_answer_503_during_an_outage(api):
    """The SDK's collect, Segment, DM Hub, Infobip and Quick Audience endpoints answer 503
    with Retry-After (JSON) while the database is down, and store nothing."""
    from events.models import Event

    basic = base64.b64encode(f"{api.secret_raw}:".encode()).decode()
    segment = JsonClient(headers={"Authorization": f"Basic {basic}"})
    with database_down():
        assert_unavailable(
            api.public.post(
                "/api/v1/collect",
                {
                    "anonymousId": "a-1",
                    "events": [{"type": "track", "event": "c_p", "properties": {"total": 1}}],
                },
            )
        )
        assert_unavailable(
            segment.post("/v1/track", {"userId": "u-1", "event": "c_p", "properties": {"total": 1}})
        )
        assert_unavailable(
            JsonClient().post(
                f"/v1/customerevents?access_token={api.secret_raw}",
                {"customerId": "u-1", "event": "c_p", "total": 1},
            )
        )
        assert_unavailable(
            api.secret.post(
                "/peopleevents/1/persons/u-1/definitions/c_p/events", {"properties": {"total": 1}}
            )
        )
        assert_unavailable(
            api.secret.post(
                "/quickaudience/v1/event-messages",
                [{"customerId": "u-1", "eventCode": "c_p", "eventTime": 1714564800000}],
            )
        )
    assert not Event.objects.exists()


def test_admin_pages_answer_a_plain_503_during_an_outage(admin_client):
    """An admin page whose view needs the database answers a plain-text 503 with
    Retry-After."""
    admin_client.get("/admin/")  # the session is loaded before the outage
    with database_down():
        response = admin_client.get("/admin/people/person/")
    assert_unavailable(response, json_body=False)
    assert response["Content-Type"].startswith("text/plain")
