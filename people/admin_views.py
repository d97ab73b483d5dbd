"""Custom admin pages of the people app: "Erase (GDPR)" on the person page.

A plain view wrapped by ``admin_site.admin_view`` (see ``people.admin``), rendered with a
template under ``templates/admin/people/`` that extends the admin's base. It shows what will be
deleted, asks for a reason and confirmation, and writes only through ``person_erase``.
Erasing needs the "Can delete person" permission (superusers; grant it to whoever handles
data-protection requests): the person admin has no ordinary delete.
"""

from collections.abc import Callable

from django import forms
from django.contrib import messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse

from cdp.errors import ServiceError
from people.erasure import MAX_REASON, person_erase
from people.models import Person

ERASE_PERMISSION = "people.delete_person"
# ``provider(person)`` returns counts of the app's rows an erasure deletes, for the page
# (events register the events count).
ERASE_COUNTS: list[Callable[[Person], dict[str, int]]] = []


class EraseForm(forms.Form):
    reason = forms.CharField(
        required=False,
        max_length=MAX_REASON,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Ticket or request reference, kept in the erasure log.",
    )
    confirm = forms.BooleanField(
        required=True,
        label="I understand that this deletes the person and all their events for good",
    )


def person_erase_view(request, model_admin, object_id: str):
    """Confirm, then erase the person and go back to the people list."""
    if not request.user.has_perm(ERASE_PERMISSION):
        raise PermissionDenied
    person = model_admin.get_object(request, unquote(object_id))  # workspace-scoped
    if person is None:
        return model_admin._get_obj_does_not_exist_redirect(request, model_admin.opts, object_id)
    change_url = reverse("admin:people_person_change", args=[person.pk])
    form = EraseForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            record = person_erase(
                person=person,
                requested_by=request.user.get_username(),
                reason=form.cleaned_data["reason"],
            )
        except ServiceError as exc:
            model_admin.message_service_error(request, exc)
            return HttpResponseRedirect(change_url)
        messages.success(
            request,
            f"Person {record.erased_person_id} was erased: "
            f"{record.events_deleted} event(s) and "
            f"{record.identifiers_deleted} identifier(s) deleted.",
        )
        return HttpResponseRedirect(reverse("admin:people_person_changelist"))
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.opts,
        "title": "Erase person (GDPR)",
        "person": person,
        "form": form,
        "change_url": change_url,
        "counts": {
            "identifiers": person.identifiers.count(),
            "tags": person.tags.count(),
        },
    }
    for provider in ERASE_COUNTS:
        context["counts"].update(provider(person))
    return TemplateResponse(request, "admin/people/person/erase.html", context)
