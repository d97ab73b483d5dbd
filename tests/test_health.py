"""``/healthz`` (SPEC §11): reports the database and the broker, 503 when one is down."""

import pytest

from tests.factories import UNREACHABLE_BROKER, unreachable_broker

pytestmark = pytest.mark.django_db


def test_healthz_ok(client):
    """With the database reachable and Celery in-process (or a live broker) it answers 200."""
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"]["ok"] is True
    assert body["database"]["vendor"] in {"sqlite", "postgresql"}
    assert body["broker"]["ok"] is True


def test_healthz_in_process_mode(client, settings):
    """Without a broker (eager Celery) the broker is reported as in-process."""
    settings.CELERY_TASK_ALWAYS_EAGER = True
    body = client.get("/healthz").json()
    assert body["broker"] == {"ok": True, "mode": "in-process"}


def test_healthz_broker_unreachable(client, settings):
    """With a broker configured but unreachable it answers 503 naming the broker."""
    settings.CELERY_TASK_ALWAYS_EAGER = False
    with unreachable_broker():
        response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["database"]["ok"] is True
    assert body["broker"]["ok"] is False
    assert body["broker"]["mode"] == "broker"
    assert body["broker"]["error"]
    assert UNREACHABLE_BROKER not in str(body)  # no broker URL (credentials) in the answer
