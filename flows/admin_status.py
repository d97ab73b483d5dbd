"""The status buttons of the flow page: Activate, Pause, Resume and Finish.

Each is a small POST form (with the CSRF token) above the flow's form, offered only for the
moves the flow's status allows and to users who may change flows. ``flow_status_view``
calls the ``flows.services`` function of the move, which re-checks everything (activation
and resume check that the flow can run); its problems come back as admin messages naming
the element they are about, as the list actions show them. Finish, which cannot be undone
and makes the people still in the flow exit, asks for confirmation on a page of its own.
Activating a flow triggered by entering a segment asks too, on a page saying how many people
are in the segment now, with "let them enter" to tick; after any activation of such a flow a
message says how many were let in, or that the people already in the segment do not enter.
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
from flows.selectors import flow_current_members, flow_spec_get
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


def people_count(n: int) -> str:
    return "1 person" if n == 1 else f"{n} people"


def _admission_message(request, model_admin, flow: Flow, admitted: int | None) -> None:
    """Say what happened to the people already in the trigger segment of ``flow``."""
    current = flow_current_members(flow=flow)
    if current is None:
        return
    segment = current[0]
    if admitted is not None:
        text = (
            f"{flow.name}: {people_count(admitted)} already in segment {segment.name!r} "
            f"{'was' if admitted == 1 else 'were'} let in."
        )
    else:
        now = current[1].count()
        text = (
            f"{flow.name}: the {people_count(now)} already in segment {segment.name!r} do not "
            "enter; only people who enter the segment from now on will."
            if now
            else f"{flow.name}: nobody is in segment {segment.name!r} yet; people enter as "
            "they join it."
        )
    model_admin.message_user(request, text, messages.INFO)


def flow_move(request, model_admin, flow: Flow, service, done: str, **options) -> bool:
    """Call ``service`` on ``flow`` (with ``options``); report the outcome as admin messages
    (every problem, each naming its element; after an activation, what became of the people
    already in a trigger segment); return whether the move was made."""
    try:
        moved = service(flow=flow, **options)
    except ServiceError as exc:
        spec = flow_spec_get(flow=flow)
        for error in exc.errors:
            model_admin.message_user(
                request, f"{flow.name}: {error_text(error, spec)}", messages.ERROR
            )
        return False
    model_admin.message_user(request, f"{flow.name}: {done}", messages.SUCCESS)
    if service is flow_activate:
        _admission_message(request, model_admin, moved, getattr(moved, "admitted", None))
    return True


def _activate_confirmation(request, model_admin, flow: Flow, current):
    segment, members = current
    return TemplateResponse(
        request,
        "admin/flows/flow/activate_confirmation.html",
        {
            **model_admin.admin_site.each_context(request),
            "title": "Activate the flow?",
            "opts": model_admin.opts,
            "original": flow,
            "segment": segment,
            "members": members.count(),
            "change_url": reverse("admin:flows_flow_change", args=[flow.pk]),
        },
    )


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
    options = {}
    if move == "activate" and flow.status == S.DRAFT:
        current = flow_current_members(flow=flow)
        if current is not None and request.POST.get("confirmed") != "yes":
            return _activate_confirmation(request, model_admin, flow, current)
        options["admit_current_members"] = request.POST.get("admit_current_members") == "yes"
    if flow_move(request, model_admin, flow, chosen.service, chosen.done, **options):
        model_admin.log_change(request, flow, f"{chosen.label} (status: {chosen.done}).")
    return HttpResponseRedirect(reverse("admin:flows_flow_change", args=[flow.pk]))
