"""Admin for channels (SPEC §4: application type, name, APP_KEY), written through
``events.services``."""

from django.contrib import admin

from cdp.admin_scoping import (
    WorkspaceScopedAdmin,
)
from events.models import (
    Channel,
)
from events.selectors import channel_usages
from events.services import (
    channel_create,
    channel_delete,
    channel_update,
)

# Channels -------------------------------------------------------------------------------------


@admin.register(Channel)
class ChannelAdmin(WorkspaceScopedAdmin):
    list_display = ("name", "app_type", "app_key", "workspace", "created_at")
    list_filter = ("app_type",)
    list_select_related = ("workspace",)
    search_fields = ("name", "app_key")
    fields = ("workspace", "name", "app_type", "app_key")

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if change:
            channel_update(
                channel=obj, fields={k: data[k] for k in ("name", "app_type", "app_key")}
            )
            return
        channel = channel_create(
            workspace=self.target_workspace(request, form),
            name=data["name"],
            app_type=data["app_type"],
            app_key=data["app_key"],
        )
        obj.pk, obj.workspace = channel.pk, channel.workspace

    def get_deleted_objects(self, objs, request):
        # A channel something was recorded through is listed as protected, naming what keeps
        # it, so the page offers no confirm button (``channel_delete`` refuses it too).
        deleted, counts, perms, protected = super().get_deleted_objects(objs, request)
        protected = list(protected)
        for channel in objs:
            protected += [f"{channel.name}: {usage}" for usage in channel_usages(channel=channel)]
        return deleted, counts, perms, protected

    def delete_model(self, request, obj):
        channel_delete(channel=obj)

    def delete_queryset(self, request, queryset):
        for channel in queryset:
            channel_delete(channel=channel)
