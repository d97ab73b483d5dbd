"""Admin for workspaces (with their lifecycle stages) and API keys (SPEC §2)."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth import get_user_model

from cdp.admin_scoping import (
    WorkspaceScopedAdmin,
)
from cdp.errors import ServiceError
from people.admin.common import formset_for, new_forms
from people.models import (
    ApiKey,
    LifecycleStage,
    Workspace,
)
from people.workspaces import (
    api_key_create,
    api_key_revoke,
    lifecycle_stage_create,
    lifecycle_stage_delete,
    lifecycle_stage_update,
    origins_normalize,
    workspace_create,
    workspace_update,
)

# Workspaces -----------------------------------------------------------------------------------


class LifecycleStageForm(forms.ModelForm):
    class Meta:
        model = LifecycleStage
        fields = ("code", "name", "position")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk and "code" in self.fields:
            self.fields["code"].disabled = True  # people and definitions refer to the code


class LifecycleStageInline(admin.TabularInline):
    model = LifecycleStage
    form = LifecycleStageForm
    fields = ("code", "name", "position")
    extra = 1


class WorkspaceForm(forms.ModelForm):
    """The allowed origins as text, one per line."""

    allowed_origins = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        label="Allowed origins",
        help_text=Workspace._meta.get_field("allowed_origins").help_text,
    )

    class Meta:
        model = Workspace
        fields = ("name", "slug", "parent", "unknown_track", "allowed_origins", "members")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "allowed_origins" in self.fields and not self.is_bound:
            self.initial["allowed_origins"] = "\n".join(self.instance.allowed_origins or [])

    def clean_allowed_origins(self):
        try:
            return origins_normalize(self.cleaned_data["allowed_origins"])
        except ServiceError as exc:
            raise forms.ValidationError([error.message for error in exc.errors]) from exc


@admin.register(Workspace)
class WorkspaceAdmin(WorkspaceScopedAdmin):
    """Superusers manage workspaces; staff users see their own."""

    workspace_path = "pk"
    list_display = ("name", "slug", "parent", "unknown_track", "created_at")
    list_select_related = ("parent",)
    search_fields = ("name", "slug")
    form = WorkspaceForm
    fields = (
        "name",
        "slug",
        "parent",
        "unknown_track",
        "allowed_origins",
        "members",
        "created_at",
    )
    readonly_fields = ("created_at",)
    filter_horizontal = ("members",)
    inlines = [LifecycleStageInline]

    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return False  # a workspace holds everything; there is no deletion service

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else []  # new workspaces get default stages

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        object_id = (
            request.resolver_match.kwargs.get("object_id") if request.resolver_match else None
        )
        if db_field.name == "parent" and object_id:
            field.queryset = field.queryset.exclude(pk=unquote(object_id))
        return field

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name == "members":
            kwargs["queryset"] = get_user_model().objects.filter(is_staff=True)
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        pass  # written in save_related, together with the stages

    def save_related(self, request, form, formsets, change):
        data = form.cleaned_data
        workspace = form.instance
        if not change:
            created = workspace_create(
                slug=data["slug"], name=data["name"], parent=data.get("parent")
            )
            workspace.pk = created.pk
            workspace = created
        workspace_update(
            workspace=workspace,
            fields={
                k: data[k]
                for k in ("name", "slug", "parent", "unknown_track", "allowed_origins")
                if k in data
            },
            members=data.get("members"),
        )
        stages = formset_for(formsets, LifecycleStage)
        if stages is not None:
            for stage_form in stages.deleted_forms:
                if stage_form.instance.pk:
                    lifecycle_stage_delete(stage=stage_form.instance)
            for stage_form in stages.initial_forms:
                if stage_form.has_changed() and stage_form not in stages.deleted_forms:
                    lifecycle_stage_update(
                        stage=stage_form.instance,
                        name=stage_form.cleaned_data["name"],
                        position=stage_form.cleaned_data["position"],
                    )
            for stage_form in new_forms(stages):
                values = stage_form.cleaned_data
                lifecycle_stage_create(
                    workspace=workspace,
                    code=values["code"],
                    name=values["name"],
                    position=values["position"],
                )


# API keys -------------------------------------------------------------------------------------


class KeyStatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return [("active", "Active"), ("revoked", "Revoked")]

    def queryset(self, request, queryset):
        if self.value() in {"active", "revoked"}:
            return queryset.filter(revoked_at__isnull=self.value() == "active")
        return queryset


@admin.register(ApiKey)
class ApiKeyAdmin(WorkspaceScopedAdmin):
    """Keys are created by ``api_key_create`` (the raw key is shown once) and only revoked."""

    list_display = (
        "prefix",
        "name",
        "kind",
        "workspace",
        "created_at",
        "last_used_at",
        "revoked_at",
    )
    list_filter = ("kind", KeyStatusFilter)
    list_select_related = ("workspace",)
    search_fields = ("prefix", "name")
    actions = ["revoke_keys"]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["workspace", "name", "kind"]
        return ["workspace", "name", "kind", "prefix", "created_at", "last_used_at", "revoked_at"]

    def has_change_permission(self, request, obj=None):
        return False  # nothing of a key can be edited; see revoke_keys

    def has_delete_permission(self, request, obj=None):
        return False

    def has_revoke_permission(self, request):
        return request.user.has_perm("people.change_apikey")

    def save_model(self, request, obj, form, change):
        new = api_key_create(
            workspace=self.target_workspace(request, form),
            kind=form.cleaned_data["kind"],
            name=form.cleaned_data["name"],
        )
        obj.pk, obj.prefix, obj.key_hash = new.api_key.pk, new.api_key.prefix, new.api_key.key_hash
        obj.workspace = new.api_key.workspace
        self.message_user(
            request,
            f"Copy the new key now; only its hash is stored and it is not shown again: "
            f"{new.raw_key}",
            messages.SUCCESS,
        )

    @admin.action(description="Revoke selected API keys", permissions=["revoke"])
    def revoke_keys(self, request, queryset):
        keys = list(queryset.filter(revoked_at__isnull=True))
        for key in keys:
            api_key_revoke(api_key=key)
        self.message_user(request, f"Revoked {len(keys)} API key(s).", messages.SUCCESS)


# Custom attribute definitions -----------------------------------------------------------------
