from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


def _definitions_changed(sender, **kwargs) -> None:
    from events.definition_cache import definitions_changed

    definitions_changed()


class EventsConfig(AppConfig):
    name = "events"
    verbose_name = "Events"

    def ready(self) -> None:
        # Whatever saves or deletes these rows (services, admin, migrations) invalidates the
        # per-process definition catalogues used by ingestion (events.definition_cache).
        # The Celery tasks register in every process: services find them by name.
        from events import admin_person, people_handlers, profile_changes, tasks  # noqa: F401
        from events.models import Channel, EventDefinition, PropertyDefinition, WorkspaceDefinition
        from events.segment_source import EventTables
        from events.selectors import USAGE_PROVIDERS, definitions_moving_to_stage
        from people.admin import PERSON_INLINES, PERSON_PAGE_CONTEXTS
        from people.admin_views import ERASE_COUNTS
        from people.changes import PROFILE_CHANGE_RECORDERS
        from people.erasure import ERASE_HANDLERS
        from people.merge import MERGE_HANDLERS, MERGED_HANDLERS
        from people.models import LifecycleStage, Workspace
        from people.segments.selectors import segments_using_definition
        from people.segments.sources import event_source_register
        from people.workspaces import LIFECYCLE_STAGE_USAGE_PROVIDERS

        # A stage that definitions move people to is not deleted, nor a definition a segment
        # names; a person's events follow them into a merge and go with them in an erasure.
        for registry, handler in (
            (USAGE_PROVIDERS, segments_using_definition),
            (LIFECYCLE_STAGE_USAGE_PROVIDERS, definitions_moving_to_stage),
            (MERGE_HANDLERS, people_handlers.person_events_merge),
            (MERGED_HANDLERS, people_handlers.person_merged_record),
            (ERASE_HANDLERS, people_handlers.person_events_erase),
            # The person page of the admin: timeline, event summary, the erase page's count.
            (PERSON_PAGE_CONTEXTS, admin_person.person_timeline_context),
            (PERSON_INLINES, admin_person.EventAggregateInline),
            (ERASE_COUNTS, admin_person.person_events_count),
            # Profile changes (tags, attributes, contacts) recorded as events when switched on.
            (PROFILE_CHANGE_RECORDERS, profile_changes.RECORDER),
        ):
            if handler not in registry:
                registry.append(handler)
        # Segments check and compile rules over this app's events, aggregates and definitions.
        event_source_register(EventTables())

        for model in (
            EventDefinition,
            PropertyDefinition,
            WorkspaceDefinition,
            Channel,
            Workspace,
            LifecycleStage,
        ):
            post_save.connect(
                _definitions_changed,
                sender=model,
                dispatch_uid=f"definitions-changed-save-{model.__name__}",
            )
            post_delete.connect(
                _definitions_changed,
                sender=model,
                dispatch_uid=f"definitions-changed-delete-{model.__name__}",
            )
