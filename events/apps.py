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
        from events.models import Channel, EventDefinition, PropertyDefinition, WorkspaceDefinition
        from events.selectors import definitions_moving_to_stage
        from people.models import LifecycleStage, Workspace
        from people.workspaces import LIFECYCLE_STAGE_USAGE_PROVIDERS

        # A stage that definitions move people to is not deleted.
        if definitions_moving_to_stage not in LIFECYCLE_STAGE_USAGE_PROVIDERS:
            LIFECYCLE_STAGE_USAGE_PROVIDERS.append(definitions_moving_to_stage)

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
