"""The "why in / not in" page of the segment admin: one person against one segment.

The segment page lists its newest members, each with a "Why?" link (so does the people list
filtered to the segment, its "All members"), and has a box to look a person up by id,
external id, name, e-mail or phone ("why not in?"). All land on this page, which shows the
stored membership, whether the rules select the person now and, condition by condition, why:
the same ``segment_explain`` (the refresh's compiled SQL) as the Segments section of the
person page, rendered with the same template. Wired in ``SegmentAdmin.get_urls`` behind
``admin_site.admin_view``; the segment is read through the admin's workspace-scoped queryset
and the person from that segment's workspace only.
"""

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html

from cdp.errors import ServiceError
from cdp.ids import text_id
from people.models import Person
from people.segments.explain import segment_explain
from people.segments.models import Segment
from people.selectors import person_search

MAX_MATCHES = 10


def why_url(segment_id: int, person_id: int) -> str:
    """The "Why?" page of one person against one segment."""
    return f"{reverse('admin:people_segment_why', args=[segment_id])}?person={person_id}"


def why_column(segment_id: int):
    """A column of the people list filtered to one segment ("All members"): each row's "Why?"
    link to its explanation against that segment."""

    @admin.display(description="why")
    def why(person: Person) -> str:
        return format_html(
            '<a href="{}" class="cdp-why-link">Why?</a>', why_url(segment_id, person.pk)
        )

    return why


def _matches(segment: Segment, query: str) -> list[Person]:
    """People of the segment's workspace the query names: an id, else an exact external id,
    else those whose identifier, external id or name contains it."""
    people = Person.objects.filter(workspace_id=segment.workspace_id)
    pk = text_id(query)
    if pk is not None and (found := people.filter(pk=pk).first()):
        return [found]
    if found := people.filter(external_id=query).first():
        return [found]
    return list(
        person_search(workspace=segment.workspace, query=query).order_by("pk")[: MAX_MATCHES + 1]
    )


def segment_why_view(request: HttpRequest, model_admin, object_id: str):
    """Explain the person named by ``?person=`` against the segment, or list the matches."""
    segment = model_admin.get_object(request, unquote(object_id))  # workspace-scoped
    if segment is None:
        return model_admin._get_obj_does_not_exist_redirect(request, model_admin.opts, object_id)
    if not model_admin.has_view_or_change_permission(request, segment):
        raise PermissionDenied
    query = request.GET.get("person", "").strip()[:255].replace("\x00", "")
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.opts,
        "title": f"Why in or not in “{segment.name}”?",
        "segment": segment,
        "segment_url": reverse("admin:people_segment_change", args=[segment.pk]),
        "query": query,
    }
    matches = _matches(segment, query) if query else []
    if len(matches) == 1:
        person = matches[0]
        if query != str(person.pk):
            return HttpResponseRedirect(why_url(segment.pk, person.pk))
        context["person"] = person
        context["person_url"] = reverse("admin:people_person_change", args=[person.pk])
        try:
            context["explanation"] = segment_explain(segment=segment, person=person)
        except ServiceError as exc:
            context["error"] = "; ".join(error.message for error in exc.errors)
    else:
        context["matches"] = [
            {"person": p, "url": why_url(segment.pk, p.pk)} for p in matches[:MAX_MATCHES]
        ]
        context["more"] = len(matches) > MAX_MATCHES
    request.current_app = model_admin.admin_site.name
    return TemplateResponse(request, "admin/people/segment/why.html", context)
