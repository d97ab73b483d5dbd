"""Workspace scoping and service-error handling shared by every admin of the project.

Staff users belong to workspaces (``Workspace.members``); superusers see everything. The mixin
filters changelists, change views (objects of other workspaces answer "does not exist", or
404 where ``missing_is_404`` is set),
search results and foreign-key choices to the user's workspaces, fills in the workspace of new
objects when the user has exactly one, and turns a ``ServiceError`` raised while saving into
form errors instead of a server error. Admin saves call services; the services decide.

Workspaces live on the floor above (``people``): the model is named by the setting
``CDP_WORKSPACE_MODEL`` and looked up in the app registry, so the kernel does not import it.
"""

from collections.abc import Iterable

from django import forms
from django.apps import apps
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.db import IntegrityError
from django.db.models import JSONField, Model, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponseRedirect
from django.urls import reverse

from cdp.api.parsing import BoundedJSONDecoder
from cdp.errors import FieldError, ServiceError

_CACHE_ATTR = "_cdp_workspace_ids"
_ERRORS_ATTR = "_cdp_service_errors"


# Which workspaces a user may see --------------------------------------------------------------


def workspace_model() -> type[Model]:
    """Return the workspace model (``settings.CDP_WORKSPACE_MODEL``)."""
    return apps.get_model(settings.CDP_WORKSPACE_MODEL)


def user_workspace_ids(request: HttpRequest) -> list[int] | None:
    """Return the ids of the user's workspaces, or None for a superuser (no restriction)."""
    if request.user.is_superuser:
        return None
    if not hasattr(request, _CACHE_ATTR):
        ids = list(
            workspace_model().objects.filter(members=request.user).values_list("pk", flat=True)
        )
        setattr(request, _CACHE_ATTR, ids)
    return getattr(request, _CACHE_ATTR)


def user_workspaces(request: HttpRequest) -> QuerySet:
    """Return the workspaces the user may pick (all of them for a superuser)."""
    ids = user_workspace_ids(request)
    query = workspace_model().objects.all()
    return query if ids is None else query.filter(pk__in=ids)


def default_workspace(request: HttpRequest) -> Model | None:
    """Return the user's workspace when there is exactly one to choose from."""
    candidates = list(user_workspaces(request)[:2])
    return candidates[0] if len(candidates) == 1 else None


def selected_workspace(request: HttpRequest) -> tuple[Model | None, list[Model]]:
    """Return the workspace named by ``?workspace=<id>`` (or the first one) and the choices."""
    choices = list(user_workspaces(request).order_by("name"))
    wanted = request.POST.get("workspace") or request.GET.get("workspace")
    for workspace in choices:
        if str(workspace.pk) == wanted:
            return workspace, choices
    return (choices[0] if choices else None), choices


def scope_queryset(
    queryset: QuerySet, request: HttpRequest, path: str = "workspace", shared_null: bool = False
) -> QuerySet:
    """Limit ``queryset`` to rows whose ``path`` workspace is one of the user's.

    ``shared_null`` keeps rows without a workspace (the built-in definitions).
    """
    ids = user_workspace_ids(request)
    if ids is None:
        return queryset
    condition = Q(**{f"{path}__in": ids})
    if shared_null:
        condition |= Q(**{f"{path}__isnull": True})
    return queryset.filter(condition)


def scope_related(queryset: QuerySet, request: HttpRequest) -> QuerySet:
    """Limit the choices of a foreign key to the user's workspaces (by the related model)."""
    model = queryset.model
    if model is workspace_model():
        ids = user_workspace_ids(request)
        return queryset if ids is None else queryset.filter(pk__in=ids)
    field_names = {f.name for f in model._meta.get_fields()}
    if "workspace" in field_names:
        nullable = model._meta.get_field("workspace").null
        return scope_queryset(queryset, request, "workspace", shared_null=nullable)
    return queryset


def strip_fields(fieldsets, names: Iterable[str]):
    """Return ``fieldsets`` without the given field names."""
    names = set(names)
    result = []
    for title, options in fieldsets:
        fields = [f for f in options.get("fields", ()) if f not in names]
        if fields:
            result.append((title, {**options, "fields": fields}))
    return result


# Service errors as form errors ----------------------------------------------------------------


def _form_with_errors(form_class, errors: list[FieldError], field_for):
    """Return a subclass of ``form_class`` whose validation reports ``errors``."""

    class ServiceErrorForm(form_class):
        def clean(self):
            cleaned = super().clean()
            for error in errors:
                name = field_for(error.field)
                if name in self.fields and not self.fields[name].disabled:
                    self.add_error(name, error.message)
                else:
                    self.add_error(None, f"{name}: {error.message}" if name else error.message)
            return cleaned

    ServiceErrorForm.__name__ = form_class.__name__
    return ServiceErrorForm


class ServiceErrorsMixin:
    """Show a ``ServiceError`` raised by ``save_model``/``save_related`` as form errors.

    The admin's change form runs in a transaction; when a service refuses, the transaction is
    rolled back and the same POST is validated again with the service's errors added to the
    form, so the user sees the page with their input and the message, never a server error.
    A delete the service refuses (``delete_model`` calls it) comes back to the object's page
    with the service's message.
    """

    service_error_fields: dict[str, str] = {}

    def service_error_field(self, name: str) -> str:
        """Map a service field name (``definitionId``, ``attributes.x``) to a form field."""
        return self.service_error_fields.get(name, name)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ServiceError as exc:
            if request.method != "POST":
                raise
            setattr(request, _ERRORS_ATTR, exc.errors)
        except IntegrityError:
            if request.method != "POST":
                raise
            # A concurrent save took a unique value between validation and the write.
            setattr(
                request,
                _ERRORS_ATTR,
                [
                    FieldError(
                        "",
                        "duplicate",
                        "This conflicts with an existing record; please check the "
                        "unique values (codes, keys, identifiers) and try again.",
                    )
                ],
            )
        return super().changeform_view(request, object_id, form_url, extra_context)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form_class = super().get_form(request, obj, change=change, **kwargs)
        errors = getattr(request, _ERRORS_ATTR, None)
        if errors:
            return _form_with_errors(form_class, errors, self.service_error_field)
        return form_class

    def construct_change_message(self, request, form, formsets, add=False):
        # Inline formsets are written by services, not by ``formset.save()``; make sure the
        # attributes the change message reads exist.
        for formset in formsets:
            for attr in ("new_objects", "changed_objects", "deleted_objects"):
                if not hasattr(formset, attr):
                    setattr(formset, attr, [])
        return super().construct_change_message(request, form, formsets, add)

    def delete_view(self, request, object_id, extra_context=None):
        try:
            return super().delete_view(request, object_id, extra_context)
        except ServiceError as exc:  # the service refused; the transaction is rolled back
            self.message_service_error(request, exc)
            opts = self.opts
            return HttpResponseRedirect(
                reverse(
                    f"admin:{opts.app_label}_{opts.model_name}_change", args=[unquote(object_id)]
                )
            )

    def message_service_error(self, request, exc: ServiceError) -> None:
        """Show the service's messages (they name what they are about) as an admin error."""
        self.message_user(request, "; ".join(e.message for e in exc.errors), messages.ERROR)


# The mixin every workspace-owned admin uses ---------------------------------------------------


class WorkspaceScopedAdmin(ServiceErrorsMixin, admin.ModelAdmin):
    """A ModelAdmin whose rows, choices and new objects are limited to the user's workspaces.

    ``workspace_path`` is the lookup from the model to its workspace; ``shared_null`` keeps rows
    without a workspace (built-in definitions) visible for reading.
    """

    workspace_path = "workspace"
    shared_null = False
    # Answer 404 for an object outside the user's workspaces (or one that does not exist)
    # instead of Django's redirect to the admin index with a "does not exist" message.
    missing_is_404 = False
    # JSON typed into the admin (segment rules, …) is parsed with the API's depth bound.
    formfield_overrides = {JSONField: {"decoder": BoundedJSONDecoder}}

    def get_queryset(self, request):
        return scope_queryset(
            super().get_queryset(request), request, self.workspace_path, self.shared_null
        )

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is None and self.missing_is_404:
            raise Http404(f"there is no {self.opts.verbose_name} {object_id!r} in your workspaces")
        return obj

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if field is not None and hasattr(field, "queryset"):
            field.queryset = scope_related(field.queryset, request)
        return field

    def has_workspace_field(self) -> bool:
        return self.workspace_path == "workspace"

    def hides_workspace(self, request, obj) -> bool:
        """On the add form the workspace is implied when the user has exactly one."""
        return obj is None and default_workspace(request) is not None

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if self.has_workspace_field() and self.hides_workspace(request, obj):
            return strip_fields(fieldsets, ["workspace"])
        return fieldsets

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if obj is not None and self.has_workspace_field() and "workspace" not in readonly:
            readonly.append("workspace")  # objects never move between workspaces
        return readonly

    def get_form(self, request, obj=None, change=False, **kwargs):
        form_class = super().get_form(request, obj, change=change, **kwargs)
        field = form_class.base_fields.get("workspace")
        if field is not None:
            field.required = True
        return form_class

    def target_workspace(self, request, form: forms.Form, obj: Model | None = None):
        """Return the workspace of the object being saved."""
        if obj is not None and getattr(obj, "workspace_id", None):
            return obj.workspace
        return form.cleaned_data.get("workspace") or default_workspace(request)


class ReadOnlyAdmin:
    """For records nobody adds, edits or deletes in the admin (events, runs, erasures): put
    before the admin class it reads for."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
