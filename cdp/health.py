"""``/healthz``: is the database reachable, the broker when one is configured, and when the
worker and the scheduler were last seen (``cdp.heartbeats``). 503 when the database or the
broker is down, or when a deployment with a broker has heard from no worker lately."""

from django.conf import settings
from django.db import connection
from django.http import JsonResponse

from cdp.celery import app
from cdp.heartbeats import heartbeats_status


def _database_status() -> dict:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any driver error means "down"; the message says which
        return {"ok": False, "vendor": connection.vendor, "error": str(exc)[:200]}
    return {"ok": True, "vendor": connection.vendor}


def _broker_status() -> dict:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return {"ok": True, "mode": "in-process"}
    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
            transport = conn.transport_cls
    except Exception as exc:  # kombu raises transport-specific errors
        return {"ok": False, "mode": "broker", "error": str(exc)[:200]}
    return {"ok": True, "mode": "broker", "transport": transport}


def _processes_status(database_ok: bool) -> dict:
    if not database_ok:
        return {}
    try:
        return {kind: status.as_json() for kind, status in heartbeats_status().items()}
    except Exception as exc:  # e.g. the table is missing before migrations ran
        return {"worker": {"ok": False, "error": str(exc)[:200]}}


def healthz(request):
    """Return database, broker, worker and scheduler status; HTTP 503 when the database or
    the broker is down or an expected worker has been silent too long. A silent scheduler
    is reported (``scheduler.ok`` false) without failing the check: web processes still
    serve while it is down."""
    database = _database_status()
    broker = _broker_status()
    processes = _processes_status(database["ok"])
    worker_ok = processes.get("worker", {}).get("ok", True)
    ok = database["ok"] and broker["ok"] and worker_ok
    return JsonResponse(
        {
            "status": "ok" if ok else "unavailable",
            "database": database,
            "broker": broker,
            **processes,
        },
        status=200 if ok else 503,
    )
