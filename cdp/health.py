"""``/healthz``: is the database reachable, and the broker when one is configured."""

from django.conf import settings
from django.db import connection
from django.http import JsonResponse


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
    from cdp.celery import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
            transport = conn.transport_cls
    except Exception as exc:  # kombu raises transport-specific errors
        return {"ok": False, "mode": "broker", "error": str(exc)[:200]}
    return {"ok": True, "mode": "broker", "transport": transport}


def healthz(request):
    """Return database and broker status; HTTP 503 when either is down."""
    database = _database_status()
    broker = _broker_status()
    ok = database["ok"] and broker["ok"]
    return JsonResponse(
        {"status": "ok" if ok else "unavailable", "database": database, "broker": broker},
        status=200 if ok else 503,
    )
