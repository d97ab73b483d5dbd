"""Shared set-up for benchmarks: Django on PostgreSQL, a bench database, migrations applied."""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/cdp_bench"


def django_setup(require_postgres: bool = True) -> None:
    """Point Django at ``BENCH_DATABASE_URL`` (default: a ``cdp_bench`` database), migrate."""
    sys.path.insert(0, str(ROOT))
    url = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("DATABASE_URL") or DEFAULT_URL
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_DEBUG", "1")
    # As deployed: after-commit work is handed to a broker (no worker needed for the figures).
    os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/15")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cdp.settings")
    if url.startswith("postgres"):
        _ensure_database(url)
    elif require_postgres:
        raise SystemExit("this benchmark needs PostgreSQL: set BENCH_DATABASE_URL=postgres://…")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def _ensure_database(url: str) -> None:
    import psycopg
    from dj_database_url import parse

    cfg = parse(url)
    admin = psycopg.connect(host=cfg["HOST"] or "127.0.0.1", port=cfg["PORT"] or 5432,
                            user=cfg["USER"] or "postgres", password=cfg["PASSWORD"] or None,
                            dbname="postgres", autocommit=True)
    with admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                               [cfg["NAME"]]).fetchone()
        if not exists:
            admin.execute(f'CREATE DATABASE "{cfg["NAME"]}"')


def broker_purge() -> None:
    """Drop the tasks a benchmark enqueued on its private broker database."""
    from cdp.celery import app

    if os.environ.get("CELERY_BROKER_URL", "").endswith("/15"):
        app.control.purge()
