"""Custom admin pages of the events app: the standard-event switches and "try it".

Both are plain views wrapped by ``admin_site.admin_view`` (see ``events.admin``), rendered with
templates under ``templates/admin/events/`` that extend the admin's base, and both write only
through services: ``definition_set_enabled`` and ``events_ingest`` (origin admin).
"""

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse

from cdp.admin_scoping import selected_workspace
from cdp.api.parsing import json_parse
from cdp.errors import FieldError
from cdp.ids import text_id
from events.catalogue import is_enabled_by_default
from events.ingestion import events_ingest
from events.inputs import EventInput, Status
from events.models import Event, EventDefinition
from events.selectors import definition_enabled_map, definition_list
from events.services import definition_set_enabled
from people.inputs import PersonRef
from people.models import Identifier, Person, Workspace


def _page_context(request, model_admin, title: str, workspace, workspaces) -> dict:
    return {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "title": title,
        "workspace": workspace,
        "workspaces": workspaces,
    }


# Standard event switches ----------------------------------------------------------------------


def standard_events_view(request, model_admin):
    """List the built-in standard definitions by category with this workspace's switches."""
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    can_change = request.user.has_perm("events.change_eventdefinition")
    workspace, workspaces = selected_workspace(request)
    context = _page_context(request, model_admin, "Standard events", workspace, workspaces)
    if workspace is None:
        return TemplateResponse(
            request, "admin/events/eventdefinition/standard_events.html", context
        )
    definitions = list(
        EventDefinition.objects.filter(
            workspace__isnull=True, kind=EventDefinition.Kind.STANDARD
        ).order_by("category", "name")
    )
    state = definition_enabled_map(workspace=workspace, definitions=definitions)

    if request.method == "POST":
        if not can_change:
            raise PermissionDenied
        wanted = set(request.POST.getlist("enabled"))
        changed = 0
        with transaction.atomic():
            for definition in definitions:
                enabled = str(definition.pk) in wanted
                if definition.enabled and enabled != state[definition.pk]:
                    definition_set_enabled(
                        workspace=workspace, definition=definition, enabled=enabled
                    )
                    changed += 1
        messages.success(
            request, f"Saved the standard events of {workspace}: {changed} switch(es) changed."
        )
        url = reverse("admin:events_eventdefinition_standard")
        return HttpResponseRedirect(f"{url}?workspace={workspace.pk}")

    groups = []
    for value, label in EventDefinition.Category.choices:
        rows = [
            {
                "definition": d,
                "enabled": state[d.pk],
                "default": is_enabled_by_default(d.kind, d.category),
                "locked": not d.enabled,
            }
            for d in definitions
            if d.category == value
        ]
        if rows:
            groups.append({"label": label, "rows": rows})
    context.update(groups=groups, can_change=can_change)
    return TemplateResponse(request, "admin/events/eventdefinition/standard_events.html", context)


# "Try it" -------------------------------------------------------------------------------------


class TryEventForm(forms.Form):
    """A test event: a definition, a person and properties, sent through ingestion."""

    definition = forms.ChoiceField(label="Event definition")
    person = forms.CharField(
        max_length=255,
        help_text="Person id, external id or any identifier value (for example an email).",
    )
    properties = forms.CharField(
        required=False,
        initial="{}",
        widget=forms.Textarea(attrs={"rows": 6, "cols": 60}),
        help_text='A JSON object, for example {"itemId": 42}: strings quoted, numbers not.',
    )
    occurred_at = forms.DateTimeField(
        required=False,
        label="Occurred time",
        help_text="Empty means now. ISO-8601, for example 2024-05-01T12:00:00Z.",
    )
    external_id = forms.CharField(
        required=False,
        max_length=255,
        label="External id",
        help_text="Sending the same external id again is answered as a duplicate.",
    )

    # Service field → form field, for the errors of a rejected event.
    FIELDS = {
        "definitionId": "definition",
        "person": "person",
        "properties": "properties",
        "occurredTime": "occurred_at",
        "externalId": "external_id",
    }

    def __init__(self, *args, definitions: list[EventDefinition], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["definition"].choices = [("", "---------")] + [
            (d.definition_id, f"{d.name} ({d.definition_id})") for d in definitions
        ]

    def clean_properties(self):
        raw = (self.cleaned_data.get("properties") or "").strip() or "{}"
        try:
            value = json_parse(raw)
        except ValueError as exc:
            raise forms.ValidationError(f"This is {exc}.") from exc
        if not isinstance(value, dict):
            raise forms.ValidationError('Use a JSON object, for example {"itemId": 42}.')
        return value

    def add_service_errors(self, errors: tuple[FieldError, ...]) -> None:
        for error in errors:
            root = error.field.split(".", 1)[0]
            name = self.FIELDS.get(root)
            if name is None:
                self.add_error(None, f"{error.field}: {error.message}")
            elif error.field != root:
                self.add_error(name, f"{error.field.split('.', 1)[1]}: {error.message}")
            else:
                self.add_error(name, error.message)


def try_definitions(workspace: Workspace) -> list[EventDefinition]:
    """Return the definitions the workspace can record now, one per code, by name."""
    rank = {pk: i for i, pk in enumerate(workspace.lineage_ids())}
    chosen: dict[str, EventDefinition] = {}
    for definition in definition_list(workspace=workspace).prefetch_related("properties"):
        current = chosen.get(definition.definition_id)
        mine = rank.get(definition.workspace_id, len(rank))
        if current is None or mine < rank.get(current.workspace_id, len(rank)):
            chosen[definition.definition_id] = definition
    definitions = list(chosen.values())
    enabled = definition_enabled_map(workspace=workspace, definitions=definitions)
    return sorted((d for d in definitions if enabled[d.pk]), key=lambda d: d.name.lower())


def person_ref(workspace: Workspace, value: str) -> PersonRef:
    """Read the person field: an id, any identifier value, an email or an external id."""
    value = value.strip()
    number = text_id(value)
    if number is not None and Person.objects.filter(workspace=workspace, pk=number).exists():
        return PersonRef(id=number)
    owner = (
        Identifier.objects.filter(workspace=workspace, value__in={value, value.lower()})
        .values_list("person_id", flat=True)
        .first()
    )
    if owner is not None:
        return PersonRef(id=owner)
    if "@" in value:
        return PersonRef(identifiers={"email": value})
    if (
        number is not None
        and not Person.objects.filter(workspace=workspace, external_id=value).exists()
    ):
        return PersonRef(id=number)  # answered "no person with id …"
    return PersonRef(external_id=value)


def event_try_view(request, model_admin):
    """Send one test event through ``events_ingest`` and show what the service answered."""
    if not request.user.has_perm("events.add_event"):
        raise PermissionDenied
    workspace, workspaces = selected_workspace(request)
    context = _page_context(request, model_admin, "Send a test event", workspace, workspaces)
    if workspace is None:
        return TemplateResponse(request, "admin/events/event/try.html", context)
    definitions = try_definitions(workspace)
    initial = {
        "person": request.GET.get("person", ""),
        "definition": request.GET.get("definition", ""),
    }
    form = TryEventForm(request.POST or None, definitions=definitions, initial=initial)
    result = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        item = EventInput(
            definition_id=data["definition"],
            person=person_ref(workspace, data["person"]),
            occurred_at=data["occurred_at"],
            properties=data["properties"],
            external_id=data["external_id"] or None,
        )
        answer = events_ingest(
            workspace=workspace, events=[item], origin=Event.Origin.ADMIN, create_people=False
        ).items[0]
        if answer.status == Status.REJECTED:
            form.add_service_errors(answer.errors)
        else:
            result = {
                "status": answer.status,
                "event_id": answer.event_id,
                "event_url": reverse("admin:events_event_change", args=[answer.event_id]),
                "person_id": answer.person_id,
                "person_url": reverse("admin:people_person_change", args=[answer.person_id]),
            }
    context.update(
        form=form,
        result=result,
        definition_properties={
            d.definition_id: [
                {"key": p.key, "name": p.name or p.key, "type": p.type, "required": p.required}
                for p in d.properties.all()
            ]
            for d in definitions
        },
        media=forms.Media(js=["cdp/admin/try_event.js"]),
    )
    return TemplateResponse(request, "admin/events/event/try.html", context)
