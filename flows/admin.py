"""Admin for flows (SPEC §8): the list with status moves, the form, the builder, the runs.

The flow page shows the drawn diagram with per-element counts (``flows.diagram``) above the
form, whose settings are fields and whose graph is the API's ``elements`` / ``edges`` JSON
(``flows.admin_forms``). A draft or paused flow's graph is edited in the visual builder
(``static/cdp/admin/flow_builder.js`` on the vendored drawflow canvas), which writes that JSON;
its pickers read the workspace's definitions, segments, attributes and tags from the
``builder/catalogue/`` endpoint. Saves go through ``flow_create`` / ``flow_update`` and their
errors come back on the form, each naming its element, and to the builder by element key.
An active or finished flow's settings and graph are shown but not editable (pause it first),
as the services rule. The list actions Activate / Pause / Resume / Finish, and the same buttons
on the flow page (``flows.admin_status``), call the services and list every problem found.
Flows and runs of workspaces the user is not in answer 404. New flows can start from a
template (``?template=<key>``), resolved for the workspace with what it still lacks. Runs are
read-only, with their step log; the person page lists a person's runs (``flows.admin_person``).
"""

from django.contrib import admin
from django.db.models import Count, Prefetch, Q
from django.http import JsonResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.views.decorators.cache import never_cache

from cdp.admin_scoping import (
    ReadOnlyAdmin,
    WorkspaceScopedAdmin,
    default_workspace,
    selected_workspace,
    strip_fields,
    user_workspaces,
)
from cdp.errors import ServiceError
from cdp.ids import text_id
from flows.admin_forms import (
    FIELDS,
    GRAPH_FIELDS,
    FlowForm,
    element_errors,
    graph_texts,
    readable_errors,
    spec_initial,
)
from flows.admin_status import flow_move, flow_moves, flow_status_view
from flows.diagram import flow_diagram
from flows.models import Flow, FlowElement, FlowRun, FlowStepLog
from flows.presets import TEMPLATES, template_get, template_resolve
from flows.selectors import flow_runs, flow_spec_get
from flows.services import (
    flow_activate,
    flow_create,
    flow_delete,
    flow_finish,
    flow_pause,
    flow_resume,
    flow_update,
)
from flows.summaries import trigger_summary
from people.segments.selectors import segment_builder_catalogue
from people.services import STANDARD_ATTRIBUTES

LATEST_RUNS = 20
# Where ``save_model`` leaves the service's errors by element key for the page shown again.
ELEMENT_ERRORS_ATTR = "_cdp_flow_element_errors"


@admin.register(Flow)
class FlowAdmin(WorkspaceScopedAdmin):
    form = FlowForm
    change_form_template = "admin/flows/flow/change_form.html"
    list_display = (
        "name",
        "status",
        "trigger_column",
        "live_runs",
        "finished_runs",
        "activated_at",
        "workspace",
    )
    list_filter = ("status",)
    list_select_related = ("workspace",)
    search_fields = ("name", "description")
    readonly_fields = (
        "status",
        "activated_at",
        "created_at",
        "modified_at",
        "elements_text",
        "edges_text",
    )
    actions = ["activate", "pause", "resume", "finish"]
    missing_is_404 = True

    def get_fieldsets(self, request, obj=None):
        main = ["workspace", "name", "description"]
        if obj is not None:
            main.insert(1, "status")
        interval = ("interval_days", "interval_hours", "interval_minutes")
        graph = ["graph_elements", "graph_edges"]
        if obj is not None and not self.has_change_permission(request, obj):
            # A view-only page shows every field read-only, and the admin reads those from
            # the model: the form's own fields (the graph texts, the interval's parts) are
            # replaced by what displays them.
            interval, graph = "reentry_interval", ["elements_text", "edges_text"]
        if obj is None:
            words = (
                "Build the flow: add elements from the palette, connect each exit to the next "
                "element and fill in each element's settings. A draft saves as it is; "
                "activating checks that the flow is complete."
            )
        elif graph[0] == "elements_text" or not obj.is_editable:
            words = (
                "The graph as the API reads and writes it; the diagram at the top of the page "
                "draws it with its counts."
            )
        else:
            words = (
                "Change the flow in the builder; the diagram at the top of the page shows the "
                "saved version with its counts."
            )
        fieldsets = [
            (None, {"fields": main}),
            ("Entry", {"fields": [("starts_at", "ends_at"), "reentry", interval, "exit_segment"]}),
            ("Elements and edges", {"fields": graph, "description": words}),
        ]
        if obj is not None:
            fieldsets.append(
                (
                    "History",
                    {
                        "fields": ["activated_at", "created_at", "modified_at"],
                        "classes": ["collapse"],
                    },
                )
            )
        if self.hides_workspace(request, obj):
            return strip_fields(fieldsets, ["workspace"])
        return fieldsets

    def get_queryset(self, request):
        flows = super().get_queryset(request)
        match = request.resolver_match
        if match is not None and match.url_name == "flows_flow_changelist":
            live = Q(runs__state__in=FlowRun.LIVE_STATES)
            flows = flows.annotate(
                live_count=Count("runs", filter=live), finished_count=Count("runs", filter=~live)
            ).prefetch_related(
                Prefetch(
                    "elements",
                    to_attr="triggers",
                    queryset=FlowElement.objects.filter(kind=FlowElement.Kind.TRIGGER),
                )
            )
        return flows

    def has_delete_permission(self, request, obj=None):
        allowed = super().has_delete_permission(request, obj)
        return allowed and (obj is None or obj.status in (Flow.Status.DRAFT, Flow.Status.FINISHED))

    @admin.display(description="elements")
    def elements_text(self, obj) -> str:
        return format_html(
            '<pre class="cdp-json">{}</pre>', graph_texts(flow_spec_get(flow=obj))["elements"]
        )

    @admin.display(description="edges")
    def edges_text(self, obj) -> str:
        return format_html(
            '<pre class="cdp-json">{}</pre>', graph_texts(flow_spec_get(flow=obj))["edges"]
        )

    @admin.display(description="trigger")
    def trigger_column(self, obj) -> str:
        triggers = getattr(obj, "triggers", None)
        return trigger_summary(triggers[0].config) if triggers else "—"

    @admin.display(description="live runs", ordering="live_count")
    def live_runs(self, obj) -> int:
        return getattr(obj, "live_count", 0)

    @admin.display(description="finished runs", ordering="finished_count")
    def finished_runs(self, obj) -> int:
        return getattr(obj, "finished_count", 0)

    # Templates and the page around the form.

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        resolved = self._template(request)
        if resolved is not None:
            initial.update(spec_initial(resolved.spec))
        return initial

    def _template(self, request):
        template = template_get(request.GET.get("template", ""))
        if template is None:
            return None
        workspace = default_workspace(request) or selected_workspace(request)[0]
        return template_resolve(template=template, workspace=workspace) if workspace else None

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        context["builder_config"] = {
            "catalogueUrl": reverse("admin:flows_flow_builder_catalogue"),
            "flowId": obj.pk if obj is not None else None,
            "errors": getattr(request, ELEMENT_ERRORS_ATTR, {}),
        }
        if obj is None:
            context["flow_templates"] = TEMPLATES
            context["template_resolved"] = self._template(request)
        else:
            context["flow_diagram"] = flow_diagram(flow=obj)
            context["flow_runs"] = flow_runs(flow=obj).select_related("person")[:LATEST_RUNS]
            context["runs_url"] = (
                f"{reverse('admin:flows_flowrun_changelist')}?flow__id__exact={obj.pk}"
            )
            context["flow_locked"] = not obj.is_editable
            context["flow_moves"] = flow_moves(request, self, obj)
        return super().render_change_form(request, context, add, change, form_url, obj)

    # Saving through the services.

    def service_error_field(self, name: str) -> str:
        if name.startswith(("elements", "edges")):
            return GRAPH_FIELDS["edges" if name.startswith("edges") else "elements"]
        return FIELDS.get(name, name)

    def save_model(self, request, obj, form, change):
        spec = form.spec()
        try:
            if change:
                saved = flow_update(flow=Flow.objects.get(pk=obj.pk), spec=spec)
            else:
                saved = flow_create(workspace=self.target_workspace(request, form), spec=spec)
        except ServiceError as exc:
            setattr(request, ELEMENT_ERRORS_ATTR, element_errors(exc.errors, spec))
            raise ServiceError(readable_errors(exc.errors, spec)) from exc
        obj.pk, obj.workspace_id = saved.pk, saved.workspace_id

    def save_related(self, request, form, formsets, change):
        pass  # elements and edges are written by the service with the flow

    def get_deleted_objects(self, objs, request):
        deleted, counts, _, protected = super().get_deleted_objects(objs, request)
        # Runs and steps go with their flow through ``flow_delete``; nobody deletes them alone.
        return deleted, counts, set(), protected

    def delete_model(self, request, obj):
        flow_delete(flow=obj)

    def delete_queryset(self, request, queryset):
        for flow in queryset:
            try:
                flow_delete(flow=flow)
            except ServiceError as exc:
                self.message_service_error(request, exc)

    # Status moves.

    def get_urls(self):
        view = self.admin_site.admin_view(
            lambda request, object_id, move: flow_status_view(self, request, object_id, move)
        )
        catalogue = self.admin_site.admin_view(never_cache(self.builder_catalogue_view))
        return [
            path("builder/catalogue/", catalogue, name="flows_flow_builder_catalogue"),
            path("<path:object_id>/status/<str:move>/", view, name="flows_flow_status"),
            *super().get_urls(),
        ]

    def builder_catalogue_view(self, request):
        """GET: what the builder's pickers offer in the workspace of the flow (``?flow=``),
        the one chosen on the add form (``?workspace=``) or the user's own: the segment
        builder's catalogue (definitions with typed properties, operators per type,
        attributes, segments, tags) and the attributes an action may set."""

        def refused(status: int, code: str, message: str, field=None) -> JsonResponse:
            error = {"code": code, "message": message, "field": field}
            return JsonResponse({"error": error}, status=status)

        if not (self.has_view_or_change_permission(request) or self.has_add_permission(request)):
            return refused(403, "forbidden", "you may not view flows")
        workspace = None
        if request.GET.get("flow"):
            flow = self.get_object(request, request.GET["flow"])  # workspace-scoped
            if flow is None:
                return refused(404, "not_found", "there is no such flow among yours", "flow")
            workspace = flow.workspace
        elif request.GET.get("workspace"):
            wanted = text_id(request.GET["workspace"])
            workspace = user_workspaces(request).filter(pk=wanted).first() if wanted else None
            if workspace is None:
                return refused(
                    404, "not_found", "there is no such workspace among yours", "workspace"
                )
        else:
            workspace = default_workspace(request)
            if workspace is None:
                return refused(400, "required", "choose a workspace first", "workspace")
        answer = segment_builder_catalogue(workspace=workspace)
        answer["settableAttributes"] = list(STANDARD_ATTRIBUTES)
        return JsonResponse(answer)

    def _move(self, request, queryset, service, done: str) -> None:
        for flow in queryset:
            flow_move(request, self, flow, service, done)

    @admin.action(description="Activate", permissions=["change"])
    def activate(self, request, queryset):
        self._move(request, queryset, flow_activate, "activated")

    @admin.action(description="Pause", permissions=["change"])
    def pause(self, request, queryset):
        self._move(request, queryset, flow_pause, "paused")

    @admin.action(description="Resume", permissions=["change"])
    def resume(self, request, queryset):
        self._move(request, queryset, flow_resume, "resumed")

    @admin.action(description="Finish", permissions=["change"])
    def finish(self, request, queryset):
        self._move(request, queryset, flow_finish, "finished")


class FlowStepInline(admin.TabularInline):
    model = FlowStepLog
    fields = ("step_no", "element", "outcome", "detail", "created_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ("step_no", "pk")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(FlowRun)
class FlowRunAdmin(ReadOnlyAdmin, WorkspaceScopedAdmin):
    """Runs, read-only: written by the runtime only."""

    missing_is_404 = True
    list_display = (
        "pk",
        "flow",
        "person_link",
        "state",
        "current_element",
        "entered_at",
        "finished_at",
        "exit_reason",
    )
    list_filter = ("state", ("flow", admin.RelatedOnlyFieldListFilter))
    list_select_related = ("flow", "person", "current_element")
    search_fields = ("=person__external_id", "flow__name")
    show_full_result_count = False
    fields = (
        "flow",
        "person_link",
        "state",
        "current_element",
        "step_no",
        "context",
        "resume_at",
        "entered_at",
        "finished_at",
        "exit_reason",
    )
    readonly_fields = fields
    inlines = [FlowStepInline]

    @admin.display(description="person", ordering="person_id")
    def person_link(self, obj) -> str:
        return format_html(
            '<a href="{}">{}</a>',
            reverse("admin:people_person_change", args=[obj.person_id]),
            str(obj.person),
        )
