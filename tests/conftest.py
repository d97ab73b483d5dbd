"""Shared fixtures. ``DATABASE_URL`` picks PostgreSQL, else SQLite; Celery runs eagerly unless a
test starts a real worker."""

import os

os.environ.setdefault("DJANGO_DEBUG", "1")

import pytest


@pytest.fixture(autouse=True)
def _eager_celery(settings):
    """Run Celery tasks in-process (and propagate their errors) for ordinary tests."""
    from cdp.celery import app

    previous = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = previous


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
    from people.services import workspace_create

    return workspace_create(slug="acme", name="Acme")


@pytest.fixture
def other_workspace(db):
    from people.services import workspace_create

    return workspace_create(slug="globex", name="Globex")


@pytest.fixture
def is_postgres():
    from django.db import connection

    return connection.vendor == "postgresql"
