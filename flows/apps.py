from django.apps import AppConfig


class FlowsConfig(AppConfig):
    name = "flows"
    verbose_name = "Flows"

    def ready(self) -> None:
        # A definition or segment an active or paused flow names cannot be deleted; runs
        # follow their person into a merge.
        from events.analytics.dashboard import DASHBOARD_FIGURES
        from events.selectors import USAGE_PROVIDERS
        from flows.admin_person import person_flow_runs_context
        from flows.selectors import (
            flows_active_summary,
            flows_using_definition,
            flows_using_segment,
        )
        from flows.services import flow_runs_merge
        from people.admin import PERSON_PAGE_CONTEXTS
        from people.merge import MERGE_HANDLERS
        from people.segments.selectors import SEGMENT_USAGE_PROVIDERS

        if flows_using_definition not in USAGE_PROVIDERS:
            USAGE_PROVIDERS.append(flows_using_definition)
        if flows_using_segment not in SEGMENT_USAGE_PROVIDERS:
            SEGMENT_USAGE_PROVIDERS.append(flows_using_segment)
        if flow_runs_merge not in MERGE_HANDLERS:
            MERGE_HANDLERS.append(flow_runs_merge)
        # The admin dashboard shows the active flows and their runs.
        DASHBOARD_FIGURES["activeFlows"] = flows_active_summary
        # The person page of the admin shows their runs.
        if person_flow_runs_context not in PERSON_PAGE_CONTEXTS:
            PERSON_PAGE_CONTEXTS.append(person_flow_runs_context)
        # Triggers and event waits follow ingested batches and segment entries.
        from cdp.outbox import outbox_listener_register, outbox_register
        from flows import entry, tasks  # noqa: F401  (the engine finds its tasks by name)

        outbox_register("events.ingested", entry.on_events_ingested)
        outbox_listener_register(entry.flows_listen)
        outbox_register("segments.changed", entry.on_segments_changed)
