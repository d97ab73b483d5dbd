"""Admin for channels, event definitions (with the §4 editing rules) and events (read-only),
one module each in this package.

Writes go through ``events.services`` (definitions, properties, enable switches, channels);
the "Standard events" switches and the "try it" page are admin views in
``events.admin_views``. Everything is scoped to the user's workspaces.
"""

import events.analytics.admin  # the analytics page and the dashboard
import events.exports.admin  # noqa: F401  (export requests and scheduled exports)
from events.admin.channels import ChannelAdmin
from events.admin.definitions import EventDefinitionAdmin
from events.admin.events import EventAdmin, IngestionLogAdmin

__all__ = ["ChannelAdmin", "EventAdmin", "EventDefinitionAdmin", "IngestionLogAdmin"]
