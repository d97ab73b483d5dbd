"""factory_boy factories that build data through the services, plus small ingestion helpers.

Every factory whose model has a service creates through that service, so tests exercise the
same write path as the product (workspace stages, identifier normalisation, definition rules).
"""

import os
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import factory

from events.inputs import EventInput
from events.models import EventDefinition
from events.services import PropertyInput, definition_create
from people.inputs import PersonRef
from people.models import Person, Workspace
from people.services import person_create
from people.workspaces import workspace_create

BASE_TIME = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def at(minutes: int) -> datetime:
    """Return a fixed test time ``minutes`` after ``BASE_TIME``."""
    return BASE_TIME + timedelta(minutes=minutes)


class WorkspaceFactory(factory.Factory):
    class Meta:
        model = Workspace

    slug = factory.Sequence(lambda n: f"ws-{n}")
    name = factory.LazyAttribute(lambda o: o.slug.title())
    parent = None

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return workspace_create(**kwargs)


class PersonFactory(factory.Factory):
    class Meta:
        model = Person

    workspace = factory.SubFactory(WorkspaceFactory)
    external_id = factory.Sequence(lambda n: f"cust-{n}")
    identifiers = factory.LazyFunction(dict)
    standard = factory.LazyFunction(dict)
    attributes = factory.LazyFunction(dict)
    tags = ()

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return person_create(**kwargs)


class DefinitionFactory(factory.Factory):
    """A custom definition; ``properties`` is a list of ``PropertyInput``."""

    class Meta:
        model = EventDefinition

    workspace = factory.SubFactory(WorkspaceFactory)
    definition_id = factory.Sequence(lambda n: f"c_event_{n}")
    name = factory.LazyAttribute(lambda o: o.definition_id.replace("_", " ").title())
    description = ""
    properties = factory.LazyFunction(list)
    default_score = 0
    lifecycle_stage = ""

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return definition_create(**kwargs)


def props(**types: str) -> list[PropertyInput]:
    """Return optional ``PropertyInput``s from ``key=type``; a ``!`` suffix makes one required."""
    return [
        PropertyInput(key=key, type=type_.rstrip("!"), required=type_.endswith("!"))
        for key, type_ in types.items()
    ]


class EventInputFactory(factory.Factory):
    """An ``EventInput`` (a frozen dataclass): use ``.build(...)``."""

    class Meta:
        model = EventInput

    definition_id = "c_purchase"
    person = factory.LazyFunction(lambda: PersonRef(external_id="cust-x"))
    occurred_at = factory.Sequence(lambda n: at(n))
    properties = factory.LazyFunction(dict)
    external_id = None


def event(definition_id: str, person: Person | PersonRef, **kwargs) -> EventInput:
    """Build an ``EventInput`` for ``person`` (a stored Person is referenced by id)."""
    ref = PersonRef(id=person.pk) if isinstance(person, Person) else person
    return EventInputFactory.build(definition_id=definition_id, person=ref, **kwargs)


UNREACHABLE_BROKER = "redis://127.0.0.1:1/0"


def celery_conf_set(app, **values) -> None:
    """Change Celery settings of ``app`` for a test. Celery 5.6 reads a Django setting
    (``CELERY_TASK_ALWAYS_EAGER``) before a change made under the plain name, so each value
    is set under both names."""
    for key, value in values.items():
        app.conf[key] = value
        app.conf[f"CELERY_{key.upper()}"] = value


@contextmanager
def broker_at(url: str):
    """Send Celery tasks to the broker at ``url`` (not eagerly), then restore the app.

    The app's connection pools are dropped on entry and exit so that neither the previous
    broker nor this one leaks into other tests. Celery reads ``CELERY_BROKER_URL`` from the
    environment before its own configuration, so the variable is swapped too.
    """
    from cdp.celery import app

    saved_env = os.environ.get("CELERY_BROKER_URL")
    saved = {
        key: app.conf[key]
        for key in ("broker_url", "task_always_eager", "broker_connection_timeout")
    }
    app._after_fork()  # Celery's own reset of the connection and producer pools
    os.environ["CELERY_BROKER_URL"] = url
    celery_conf_set(app, broker_url=url, task_always_eager=False, broker_connection_timeout=1)
    try:
        yield app
    finally:
        celery_conf_set(app, **saved)
        if saved_env is None:
            os.environ.pop("CELERY_BROKER_URL", None)
        else:
            os.environ["CELERY_BROKER_URL"] = saved_env
        app._after_fork()


def unreachable_broker():
    """Send Celery tasks to a broker nobody listens on."""
    return broker_at(UNREACHABLE_BROKER)
