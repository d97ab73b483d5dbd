"""The admin's ready-made flows: pick a template, say which of the workspace's events it
uses, and create a draft, with clicks.

``/admin/flows/flow/templates/`` lists the templates (``flows.presets``);
``/admin/flows/flow/templates/<key>/`` shows one resolved for the chosen workspace: a select
per event of the template, preset to the definition found by id or name (or, when none or
several match, to "choose"), the segments it still lacks, and a name. Posting creates the
draft through ``flows.services.flow_from_template_create`` (the API's path), which always
saves, and goes to the new flow's page; what it still lacks before activation is listed
there as a message. The URLs are mounted in ``cdp.urls`` ahead of the admin site's, each
view wrapped by ``admin.site.admin_view``; the flows list links here.
"""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from cdp.admin_scoping import selected_workspace
from cdp.errors import ServiceError
from flows.models import Flow
from flows.presets import TEMPLATES, template_definitions, template_get, template_resolve
from flows.services import flow_from_template_create

SLOT_FIELD = "event__"  # the select of a template event: event__<template's name of it>


def _context(request, title: str, **extra) -> dict:
    workspace, workspaces = selected_workspace(request)
    return {
        **admin.site.each_context(request),
        "title": title,
        "opts": Flow._meta,
        "workspace": workspace,
        "workspaces": workspaces,
        **extra,
    }


def _allowed(request) -> None:
    if not request.user.has_perm("flows.add_flow"):
        raise PermissionDenied


def flow_template_list_view(request):
    """The templates to start a flow from."""
    _allowed(request)
    context = _context(request, "Start a flow from a template", flow_templates=TEMPLATES)
    return TemplateResponse(request, "admin/flows/flow/template_list.html", context)


def _slots_view(request, template, resolved, workspace, name: str, errors=()):
    definitions = template_definitions(workspace=workspace)
    chosen = {s.slot.code: request.POST.get(SLOT_FIELD + s.slot.code) for s in resolved.slots}
    slots = [
        {
            "field": SLOT_FIELD + s.slot.code,
            "code": s.slot.code,
            "label": s.slot.label,
            "how": s.how,
            "selected": chosen[s.slot.code] or s.definition or "",
            "candidates": {d.definition_id for d in s.candidates},
            "open": s.definition is None,
            "matched": s.matched,
        }
        for s in resolved.slots
    ]
    context = _context(
        request,
        f"Start from “{template.name}”",
        flow_template=template,
        resolved=resolved,
        slots=slots,
        definitions=definitions,
        flow_name=name,
        errors=errors,
        list_url=reverse("flows-flow-templates"),
    )
    return TemplateResponse(request, "admin/flows/flow/template_form.html", context)


def flow_template_view(request, key: str):
    """One template for the chosen workspace: a select per event, then "Create draft"."""
    _allowed(request)
    template = template_get(key)
    workspace = selected_workspace(request)[0]
    if template is None or workspace is None:
        raise Http404("no such template, or no workspace to create the flow in")
    if request.method != "POST":
        resolved = template_resolve(template=template, workspace=workspace)
        return _slots_view(request, template, resolved, workspace, template.name)
    chosen = {
        s.code: request.POST[SLOT_FIELD + s.code]
        for s in template.events
        if request.POST.get(SLOT_FIELD + s.code)
    }
    name = (request.POST.get("name") or "").strip() or None
    try:
        flow, resolved = flow_from_template_create(
            workspace=workspace, template=template, chosen=chosen, name=name
        )
    except ServiceError as exc:
        resolved = template_resolve(template=template, workspace=workspace)
        return _slots_view(
            request, template, resolved, workspace, name or template.name, errors=exc.errors
        )
    admin.site.get_model_admin(Flow).log_addition(request, flow, f"Created from template {key!r}.")
    messages.success(request, f"{flow.name}: draft created from the template.")
    if resolved.missing:
        messages.warning(
            request,
            "Before it can be activated: " + "; ".join(resolved.missing) + ".",
        )
    return HttpResponseRedirect(reverse("admin:flows_flow_change", args=[flow.pk]))


urlpatterns = [
    path("", admin.site.admin_view(flow_template_list_view), name="flows-flow-templates"),
    path("<slug:key>/", admin.site.admin_view(flow_template_view), name="flows-flow-template"),
]
