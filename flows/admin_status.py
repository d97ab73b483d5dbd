"""The status buttons of the flow page: Activate, Pause, Resume and Finish.

Each is a small POST form (with the CSRF token) above the flow's form, offered only for the
moves the flow's status allows and to users who may change flows. ``flow_status_view``
calls the ``flows.services`` function of the move, which re-checks everything (activation
and resume check that the flow can run); its problems come back as admin messages naming
the element they are about, as the list actions show them. Finish, which cannot be undone
and makes the people still in the flow exit, asks for confirmation on a page of its own.
"""

from dataclasses import dataclass

from django.contrib import messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse

from cdp.errors import ServiceError
from flows.admin_forms import error_text
from flows.models import Flow, FlowRun
from flows.selectors import flow_spec_get
from flows.services import flow_activate, flow_finish, flow_pause, flow_resume

S = Flow.Status


@dataclass(frozen=True)
class Move:
    label: str
    service: object
    done: str
    allowed: tuple[str, ...]


MOVES = {
    "activate": Move("Activate", flow_activate, "activated", (S.DRAFT,)),
    "pause": Move("Pause", flow_pause, "paused", (S.ACTIVE,)),
    "resume": Move("Resume", flow_resume, "resumed", (S.PAUSED,)),
    "finish": Move("Finish", flow_finish, "finished", (S.ACTIVE, S.PAUSED)),
}


def flow_moves(request, model_admin, flow: Flow) -> list[dict]:
    """Return the buttons the flow page offers: ``key``, ``label`` and the ``url`` to post."""
    if not model_admin.has_change_permission(request, flow):
        return []
    return [
        {
            "key": key,
            "label": move.label,
            "url": reverse("admin:flows_flow_status", args=[flow.pk, key]),
        }
        for key, move in MOVES.items()
        if flow.status in move.allowed
    ]


def flow_move(request, model_admin, flow: Flow, service, done: str) -> bool:
    """Call ``service`` on ``flow``; report the outcome as admin messages (every problem,
    each naming its element); return whether the move was made."""
    try:
        service(flow=flow)
    except ServiceError as exc:
        spec = flow_spec_get(flow=flow)
        for error in exc.errors:
            model_admin.message_user(
                request, f"{flow.name}: {error_text(error, spec)}", messages.ERROR
            )
        return False
    model_admin.message_user(request, f"{flow.name}: {done}", messages.SUCCESS)
    return True


def flow_status_view(model_admin, request, object_id: str, move: str):
    """Make one status move of a flow (POST), then go back to the flow page."""
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    flow = model_admin.get_object(request, unquote(object_id))  # workspace-scoped, or 404
    chosen = MOVES.get(move)
    if flow is None or chosen is None:
        raise Http404("no such flow or status move")
    if not model_admin.has_change_permission(request, flow):
        raise PermissionDenied
    if move == "finish" and request.POST.get("confirmed") != "yes":
        live = FlowRun.objects.filter(flow=flow, state__in=FlowRun.LIVE_STATES).count()
        return TemplateResponse(
            request,
            "admin/flows/flow/finish_confirmation.html",
            {
                **model_admin.admin_site.each_context(request),
                "title": "Finish the flow?",
                "opts": model_admin.opts,
                "original": flow,
                "live_runs": live,
                "change_url": reverse("admin:flows_flow_change", args=[flow.pk]),
            },
        )
    if flow_move(request, model_admin, flow, chosen.service, chosen.done):
        model_admin.log_change(request, flow, f"{chosen.label} (status: {chosen.done}).")
    return HttpResponseRedirect(reverse("admin:flows_flow_change", args=[flow.pk]))
