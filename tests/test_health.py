"""``/healthz`` (SPEC §11): reports the database, the broker and when the worker and the
scheduler were last seen; 503 when the database or broker is down or an expected worker is
silent. The admin index says the same to people."""

from datetime import timedelta

import pytest
from django.utils import timezone

from cdp.heartbeats import SCHEDULER, WORKER, heartbeat_record
from cdp.models import Heartbeat
from tests.factories import UNREACHABLE_BROKER, unreachable_broker

pytestmark = pytest.mark.django_db


def test_healthz_ok(client):
    """With the database reachable, Celery in-process (or a live broker with a worker heard
    from) it answers 200."""
    heartbeat_record(kind=WORKER, node="celery@here")
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"]["ok"] is True
    assert body["database"]["vendor"] in {"sqlite", "postgresql"}
    assert body["broker"]["ok"] is True
    assert body["worker"]["ok"] is True


def test_healthz_in_process_mode(client, settings):
    """Without a broker (eager Celery) the broker is reported as in-process and no worker is
    expected, so none heard from is fine."""
    settings.CELERY_TASK_ALWAYS_EAGER = True
    response = client.get("/healthz")
    body = response.json()
    assert response.status_code == 200
    assert body["broker"] == {"ok": True, "mode": "in-process"}
    assert body["worker"] == {
        "expected": False,
        "mode": "in-process",
        "lastSeen": None,
        "ageSeconds": None,
        "ok": True,
    }


def test_healthz_broker_unreachable(client, settings):
    """With a broker configured but unreachable it answers 503 naming the broker."""
    settings.CELERY_TASK_ALWAYS_EAGER = False
    heartbeat_record(kind=WORKER, node="celery@here")
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


@pytest.mark.parametrize("worker_age", [None, 91])
def test_healthz_503_when_the_worker_of_a_broker_deployment_is_silent(client, settings, worker_age):
    """With a broker, a worker never heard from, or last heard from longer ago than
    ``CDP_HEARTBEAT_SILENT_SECONDS``, makes ``/healthz`` answer 503 saying when it was seen;
    a fresh heartbeat makes it 200 again."""
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CDP_HEARTBEAT_SILENT_SECONDS = 90
    if worker_age is not None:
        Heartbeat.objects.create(
            name="worker:celery@old",
            kind=WORKER,
            seen_at=timezone.now() - timedelta(seconds=worker_age),
        )
    response = client.get("/healthz")
    body = response.json()
    assert body["broker"]["ok"] is True
    assert response.status_code == 503
    assert body["status"] == "unavailable"
    assert body["worker"]["ok"] is False
    assert body["worker"]["expected"] is True
    if worker_age is None:
        assert body["worker"]["lastSeen"] is None
    else:
        assert 90 < body["worker"]["ageSeconds"] < 120

    heartbeat_record(kind=WORKER, node="celery@new")
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["worker"]["ageSeconds"] < 5


def test_a_silent_scheduler_is_reported_without_failing_healthz(client, settings):
    """The scheduler's last heartbeat is reported; silent, it is ``ok: false`` while
    ``/healthz`` still answers 200 (web processes serve without it)."""
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.CDP_HEARTBEAT_SILENT_SECONDS = 60
    Heartbeat.objects.create(
        name=SCHEDULER, kind=SCHEDULER, seen_at=timezone.now() - timedelta(minutes=5)
    )
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["scheduler"]["ok"] is False
    heartbeat_record(kind=SCHEDULER)
    assert client.get("/healthz").json()["scheduler"]["ok"] is True


def test_admin_index_says_when_worker_and_scheduler_were_last_seen(admin_client, settings):
    """The admin index shows the worker and the scheduler, and warns when one that should
    run is silent."""
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CDP_HEARTBEAT_SILENT_SECONDS = 60
    page = admin_client.get("/admin/").content.decode()
    assert "Background work" in page
    assert "No worker has been heard from lately" in page
    assert "No scheduler has been heard from lately" in page

    heartbeat_record(kind=WORKER, node="celery@here")
    heartbeat_record(kind=SCHEDULER)
    page = admin_client.get("/admin/").content.decode()
    assert "No worker has been heard from lately" not in page
    assert "No scheduler has been heard from lately" not in page
    assert page.count("last seen") == 2

    settings.CELERY_TASK_ALWAYS_EAGER = True
    page = admin_client.get("/admin/").content.decode()
    assert "tasks run inside the web process" in page


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_database_outage_does_not_stop_the_process_reporting_it():
    """Recording a heartbeat while the database is unreachable logs and returns (so the
    worker's timer and the scheduler keep running), and the next one reconnects."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("needs a database server to make unreachable")
    saved = connection.settings_dict.copy()
    connection.close()
    connection.settings_dict["PORT"] = "1"
    try:
        heartbeat_record(kind=WORKER, node="down")  # must not raise
    finally:
        connection.close()
        connection.settings_dict.update(saved)
    assert not Heartbeat.objects.filter(name="worker:down").exists()
    heartbeat_record(kind=WORKER, node="up")
    assert Heartbeat.objects.filter(name="worker:up").exists()
