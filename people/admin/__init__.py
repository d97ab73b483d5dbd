"""Admin for workspaces, API keys, custom attributes and people (SPEC §2, §3).

Every screen is scoped to the user's workspaces (``cdp.admin_scoping``) and writes through the
services of ``people.services`` (``people.workspaces`` for workspace settings and stages).
The person page adds the person's segments with explanations (``people.segments.admin_person``)
and what higher floors register in ``PERSON_PAGE_CONTEXTS`` / ``PERSON_INLINES``: their flow
runs (``flows.admin_person``), the event timeline of §3 and the event summary
(``events.admin_person``) below the profile, and an "Erase (GDPR)" page
(``people.admin_views``); erasures are listed, read-only, in the erasure log. The people list
filters by segment membership.
"""

from django.contrib import admin

from people.admin.attributes import AttributeDefinitionAdmin
from people.admin.common import PERSON_INLINES, PERSON_PAGE_CONTEXTS
from people.admin.persons import ErasureRecordAdmin, PersonAdmin
from people.admin.workspaces import ApiKeyAdmin, WorkspaceAdmin

admin.site.site_header = "CDP"
admin.site.site_title = "CDP"
admin.site.index_title = "Customer data platform"

import people.segments.admin  # noqa: E402, F401

__all__ = [
    "PERSON_INLINES",
    "PERSON_PAGE_CONTEXTS",
    "ApiKeyAdmin",
    "AttributeDefinitionAdmin",
    "ErasureRecordAdmin",
    "PersonAdmin",
    "WorkspaceAdmin",
]
