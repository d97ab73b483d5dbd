from django.apps import AppConfig


class PeopleConfig(AppConfig):
    name = "people"
    verbose_name = "People"

    def ready(self) -> None:
        # Segments follow events, profile changes and merges through the outbox, and move
        # static memberships when two people are merged.
        from cdp.api.auth import key_lookup_register
        from cdp.outbox import outbox_register
        from people.merge import MERGE_HANDLERS
        from people.segments import incremental
        from people.workspaces import api_key_use

        # API calls find their key (and workspace) here.
        key_lookup_register(api_key_use)

        outbox_register("events.ingested", incremental.on_events_ingested)
        outbox_register(incremental.CHANGED_TOPIC, incremental.on_people_changed)
        outbox_register("people.merged", incremental.on_people_merged)
        if incremental.memberships_merge not in MERGE_HANDLERS:
            MERGE_HANDLERS.append(incremental.memberships_merge)
