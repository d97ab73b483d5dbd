"""What the people admin's modules share: the custom-attribute field prefix, the registries
higher floors fill for the person page, and inline formset helpers."""

from collections.abc import Callable

from django.contrib import admin
from django.http import HttpRequest

from people.models import Person

ATTR_PREFIX = "attr__"
# What higher floors show on the person page, registered at their ``AppConfig.ready()``:
# ``provider(request, person)`` returns template context for a section (events: the timeline;
# flows: the runs), and inlines follow the person's own (events: the per-definition summary).
PERSON_PAGE_CONTEXTS: list[Callable[[HttpRequest, Person], dict]] = []
PERSON_INLINES: list[type[admin.options.InlineModelAdmin]] = []


def new_forms(formset) -> list:
    """Return the filled-in extra forms of an inline formset (rows to add)."""
    if formset is None:
        return []
    return [f for f in formset.extra_forms if f.has_changed() and not f.cleaned_data.get("DELETE")]


def formset_for(formsets, model):
    return next((fs for fs in formsets if fs.model is model), None)


# Workspaces -----------------------------------------------------------------------------------
