"""Shared fixtures. ``DATABASE_URL`` picks PostgreSQL, else SQLite; Celery runs eagerly unless a
test starts a real worker."""

import os

os.environ.setdefault("DJANGO_DEBUG", "1")

import pytest


@pytest.fixture(autouse=True)
def _eager_celery(settings):
    """Run Celery tasks in-process (and propagate their errors) for ordinary tests."""
    from cdp.celery import app
    from tests.factories import celery_conf_set

    previous = {
        "task_always_eager": app.conf.task_always_eager,
        "task_eager_propagates": app.conf.task_eager_propagates,
    }
    celery_conf_set(app, task_always_eager=True, task_eager_propagates=True)
    yield
    celery_conf_set(app, **previous)


@pytest.fixture(autouse=True)
def _fresh_definition_catalogues():
    """Each test reads definitions from its own database state, not a previous test's."""
    from events.definition_cache import catalogues_clear

    catalogues_clear()
    yield
    catalogues_clear()


@pytest.fixture(autouse=True)
def _builtin_catalogue_after_flush(request):
    """Transactional tests run after a flush that empties every table, the built-in definitions
    a data migration loaded included: load them again for such tests."""
    marker = request.node.get_closest_marker("django_db")
    if marker is None or not (marker.kwargs.get("transaction") or (marker.args and marker.args[0])):
        return
    request.getfixturevalue("transactional_db")
    from django.apps import apps

    from events.catalogue import load_catalogue

    load_catalogue(apps, None)


@pytest.fixture
def workspace(db):
    from people.workspaces import workspace_create

    return workspace_create(slug="acme", name="Acme")


@pytest.fixture
def other_workspace(db):
    from people.workspaces import workspace_create

    return workspace_create(slug="globex", name="Globex")


@pytest.fixture
def is_postgres():
    from django.db import connection

    return connection.vendor == "postgresql"


CHROMIUM = "/usr/bin/chromium"


@pytest.fixture
def browser(live_server, monkeypatch):
    """Headless Chromium (Debian's, driven by Playwright) for tests against the live server;
    it closes before the live server stops (which it depends on), so no keep-alive connection
    holds a database connection open at teardown. Skips where chromium is not installed."""
    import os

    from django.db import connections

    if not os.path.exists(CHROMIUM):
        pytest.skip(f"needs Debian's chromium at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the test's own ORM calls are
    # still synchronous. While the loop runs, Django keeps the thread's connection per async
    # context, so that connection is closed here, before the loop stops, or it would outlive
    # the test (and keep PostgreSQL from dropping the test database).
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        args = ["--no-sandbox"] if os.geteuid() == 0 else []
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)
        try:
            yield launched
        finally:
            launched.close()
            connections.close_all()


@pytest.fixture
def broker():
    """Celery in this process sending to the test run's Redis (``CELERY_BROKER_URL``), as
    real workers (``tests.worker``) read it; its queue emptied before and after."""
    from tests.factories import broker_at
    from tests.worker import BROKER

    with broker_at(BROKER) as app:
        app.control.purge()
        yield app
        app.control.purge()
