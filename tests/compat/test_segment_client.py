"""The real RudderStack Python client (``rudder-sdk-python`` from PyPI, module
``rudderstack.analytics``) sends to the Segment-compatible API unchanged: batched by its
consumer thread, gzipped (its default), HTTP Basic with the key, against a live server; its
batches of up to 4 MB are taken whole."""

import logging

import orjson
import pytest
import rudderstack.analytics as rudder_analytics
from rudderstack.analytics import Client, consumer, request
from rudderstack.analytics.request import APIError

from events.models import Event, IngestionLogEntry
from events.selectors import definition_get
from events.services import definition_set_enabled
from people.models import Identifier, Person
from people.services import attribute_definition_create

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _no_keep_alive():
    """Ask the live server to close each connection after its answer (the client's requests
    session keeps connections alive): an idle kept-alive connection holds a server thread and
    its database connection past the test, and the thread dies noisily at exit."""
    request._session.headers["Connection"] = "close"
    yield
    del request._session.headers["Connection"]
    request._session.close()


@pytest.fixture
def client_log(caplog):
    """Everything the client and its retry library log (retries are ``backoff`` records)."""
    caplog.set_level(logging.DEBUG, logger="rudderstack")
    caplog.set_level(logging.DEBUG, logger="backoff")

    def problems():
        return [
            r
            for r in caplog.records
            if r.name in {"rudderstack", "backoff"} and r.levelno >= logging.INFO
        ]

    return problems


@pytest.fixture
def errors():
    return []


@pytest.fixture
def rudder(live_server, secret_key, errors):
    """A client as an application would configure it, pointed at the live server."""
    client = Client(
        write_key=secret_key,
        host=live_server.url,
        max_retries=2,
        upload_interval=0.1,
        on_error=lambda exc, batch: errors.append(exc),
    )
    yield client
    client.shutdown()


@pytest.fixture
def page_view_enabled(workspace):
    page_view = definition_get(workspace=workspace, definition_id="pageView")
    definition_set_enabled(workspace=workspace, definition=page_view, enabled=True)
    return page_view


def test_client_track_identify_page_are_stored(
    rudder, workspace, page_view_enabled, errors, client_log
):
    """identify, track, page, screen and group from the client arrive in gzipped batches and
    are stored: the person with traits and custom attribute, the events with their
    properties and message ids; the client reports no error and retries nothing."""
    attribute_definition_create(workspace=workspace, key="plan", name="Plan", type="text")
    rudder.identify(
        user_id="u-100",
        anonymous_id="anon-100",
        traits={
            "firstName": "Ada",
            "lastName": "Lovelace",
            "email": "Ada@Example.com",
            "plan": "pro",
        },
    )
    rudder.track(
        user_id="u-100",
        event="Order Completed",
        message_id="order-1",
        properties={"orderId": "o-1", "total": 42.5},
    )
    rudder.page(
        user_id="u-100",
        name="Home",
        properties={"url": "https://shop.example.com/", "path": "/", "title": "Shop"},
    )
    rudder.screen(anonymous_id="anon-100", name="Basket")
    rudder.group(user_id="u-100", group_id="acme-corp", traits={"name": "Acme"})
    rudder.flush()

    assert errors == []
    assert client_log() == []
    ada = Person.objects.get()
    assert (ada.external_id, ada.first_name, ada.last_name) == ("u-100", "Ada", "Lovelace")
    assert ada.attributes == {"plan": "pro"}
    assert set(Identifier.objects.filter(person=ada).values_list("type", "value")) == {
        ("email", "ada@example.com"),
        ("anonymous_id", "anon-100"),
    }
    assert list(ada.tags.values_list("name", flat=True)) == ["group:acme-corp"]
    events = {e.definition.definition_id: e for e in Event.objects.filter(person=ada)}
    assert set(events) == {"c_order_completed", "pageView", "c_screen_viewed"}
    order = events["c_order_completed"]
    assert (order.external_id, order.properties) == ("order-1", {"orderId": "o-1", "total": 42.5})
    assert order.source == "analytics-python"
    assert events["pageView"].properties == {
        "url": "https://shop.example.com/",
        "path": "/",
        "pageTitle": "Shop",
        "domain": "shop.example.com",
    }
    assert events["c_screen_viewed"].properties == {"name": "Basket"}
    assert not IngestionLogEntry.objects.exists()


def test_client_retry_of_the_same_message_is_stored_once(rudder, errors, client_log):
    """The client resending a message (same messageId) does not store it twice."""
    for _ in range(2):
        rudder.track(
            user_id=7, event="Signed Up", message_id="signup-7", properties={"plan": "free"}
        )
        rudder.flush()
    assert errors == []
    assert client_log() == []
    event = Event.objects.get()
    assert (event.person.external_id, event.external_id) == ("7", "signup-7")


def test_client_sync_mode_without_gzip(live_server, public_key, client_log):
    """sync_mode posts each call at once; a public key ingests; plain JSON works too."""
    client = Client(write_key=public_key, host=live_server.url, sync_mode=True, gzip=False)
    client.track(anonymous_id="anon-1", event="Opened App")
    assert client_log() == []
    assert Event.objects.get().definition.definition_id == "c_opened_app"


def test_client_module_api(live_server, secret_key, client_log):
    """The module-level API of the README snippet: write_key and dataPlaneUrl, then calls."""
    rudder_analytics.write_key = secret_key
    rudder_analytics.dataPlaneUrl = live_server.url
    try:
        rudder_analytics.identify("u-5", {"email": "eve@example.com"})
        rudder_analytics.track("u-5", "Article Bookmarked", {"articleId": 12})
        rudder_analytics.flush()
    finally:
        rudder_analytics.shutdown()
        rudder_analytics.default_client = None
        rudder_analytics.write_key = None
    assert client_log() == []
    eve = Person.objects.get()
    assert eve.identifiers.get().value == "eve@example.com"
    assert Event.objects.get(person=eve).properties == {"articleId": 12}


def test_client_gets_the_error_of_a_wrong_key(live_server, errors, client_log):
    """A wrong key reaches ``on_error`` as the client's APIError with our code and message,
    and the client gives up at once (a 4xx is final for it)."""
    client = Client(
        write_key="wrong",
        host=live_server.url,
        max_retries=3,
        upload_interval=0.1,
        on_error=lambda exc, batch: errors.append(exc),
    )
    client.track(user_id="u-1", event="Signed Up")
    client.flush()
    client.shutdown()
    [error] = errors
    assert isinstance(error, APIError)
    assert (error.status, error.code) == (401, "unauthorized")
    assert any("error uploading" in r.getMessage() for r in client_log())
    assert not [r for r in client_log() if r.name == "backoff" and "Backing off" in r.getMessage()]
    assert not Event.objects.exists()


def test_client_batch_over_500_kb_is_stored(
    live_server, secret_key, errors, client_log, monkeypatch
):
    """The client batches up to its 4 MB limit (``BATCH_SIZE_LIMIT``): 40 messages of 20 KB
    leave in one gzipped batch of about 800 KB, over Segment's 500 KB, and with the default
    ``CDP_SEGMENT_MAX_BATCH_BYTES`` every event is stored (a refused batch would be dropped
    by the client)."""
    sent = []

    def post(*args, batch, **kwargs):  # the client's own request, measured on the way
        sent.append(len(orjson.dumps(batch)))
        return request.post(*args, batch=batch, **kwargs)

    monkeypatch.setattr(consumer, "post", post)
    client = Client(
        write_key=secret_key,
        host=live_server.url,
        max_retries=0,
        upload_interval=2,
        on_error=lambda exc, batch: errors.append(exc),
    )
    properties = {key: "x" * 4000 for key in "abcde"}  # 20 KB a message
    for i in range(40):
        client.track(
            user_id="u-big", event="Chunk Sent", message_id=f"chunk-{i}", properties=properties
        )
    client.flush()
    client.shutdown()
    assert errors == []
    assert client_log() == []
    [size] = sent  # one batch…
    assert size > 800_000  # …well over 500 KB
    assert Event.objects.filter(person__external_id="u-big").count() == 40
    assert not IngestionLogEntry.objects.exists()
