"""Write paths the admin needs that the app services do not offer yet.

Channels, workspace settings and lifecycle stages are edited in the admin only; these small
services keep "services write, nothing else does" true for those screens. They belong in
``events/services.py`` (channels) and ``people/services.py`` (workspaces, stages) and can move
there unchanged.
"""

from collections.abc import Iterable, Mapping

from django.db import transaction

from events.errors import ErrorCode, FieldError, ServiceError
from events.models import Channel, EventDefinition
from people.models import LifecycleStage, Person, Workspace

# Channels -------------------------------------------------------------------------------------


def _channel_key_check(*, workspace: Workspace, app_key: str, exclude: int | None = None):
    if not app_key:
        raise ServiceError(FieldError("app_key", ErrorCode.REQUIRED, "is required"))
    taken = Channel.objects.filter(workspace=workspace, app_key=app_key)
    if exclude is not None:
        taken = taken.exclude(pk=exclude)
    if taken.exists():
        raise ServiceError(
            FieldError(
                "app_key", ErrorCode.DUPLICATE, f"another channel of this workspace uses {app_key}"
            )
        )


def channel_create(*, workspace: Workspace, name: str, app_type: str, app_key: str) -> Channel:
    """Create a channel; its APP_KEY is unique in the workspace."""
    if app_type not in Channel.AppType.values:
        raise ServiceError(
            FieldError(
                "app_type", ErrorCode.INVALID, "use one of " + ", ".join(Channel.AppType.values)
            )
        )
    _channel_key_check(workspace=workspace, app_key=app_key)
    return Channel.objects.create(
        workspace=workspace, name=name, app_type=app_type, app_key=app_key
    )


def channel_update(*, channel: Channel, fields: Mapping) -> Channel:
    """Change a channel's name, application type or APP_KEY."""
    if "app_key" in fields:
        _channel_key_check(
            workspace=channel.workspace, app_key=fields["app_key"], exclude=channel.pk
        )
    if "app_type" in fields and fields["app_type"] not in Channel.AppType.values:
        raise ServiceError(FieldError("app_type", ErrorCode.INVALID, "unknown application type"))
    for name in ("name", "app_type", "app_key"):
        if name in fields:
            setattr(channel, name, fields[name])
    channel.save(update_fields=["name", "app_type", "app_key"])
    return channel


def channel_delete(*, channel: Channel) -> None:
    """Delete a channel; its definitions stay, without a channel."""
    channel.delete()


# Workspaces -----------------------------------------------------------------------------------


def workspace_update(
    *, workspace: Workspace, fields: Mapping, members: Iterable | None = None
) -> Workspace:
    """Change name, slug, parent and unknown-track policy; replace members when given."""
    parent = fields.get("parent", workspace.parent)
    if parent is not None and workspace.pk in parent.lineage_ids():
        raise ServiceError(
            FieldError("parent", ErrorCode.INVALID, "a workspace cannot be its own ancestor")
        )
    slug = fields.get("slug", workspace.slug)
    if Workspace.objects.filter(slug=slug).exclude(pk=workspace.pk).exists():
        raise ServiceError(FieldError("slug", ErrorCode.DUPLICATE, f"{slug} is taken"))
    if "unknown_track" in fields and fields["unknown_track"] not in Workspace.UnknownTrack.values:
        raise ServiceError(FieldError("unknown_track", ErrorCode.INVALID, "unknown policy"))
    with transaction.atomic():
        for name in ("name", "slug", "parent", "unknown_track"):
            if name in fields:
                setattr(workspace, name, fields[name])
        workspace.save()
        if members is not None:
            workspace.members.set(members)
    return workspace


# Lifecycle stages -----------------------------------------------------------------------------


def lifecycle_stage_create(
    *, workspace: Workspace, code: str, name: str, position: int
) -> LifecycleStage:
    """Add a stage; codes are unique in the workspace."""
    if LifecycleStage.objects.filter(workspace=workspace, code=code).exists():
        raise ServiceError(FieldError("code", ErrorCode.DUPLICATE, f"stage {code} already exists"))
    return LifecycleStage.objects.create(
        workspace=workspace, code=code, name=name or code, position=position
    )


def lifecycle_stage_update(*, stage: LifecycleStage, name: str, position: int) -> None:
    """Rename or reorder a stage (its code is what people and definitions refer to)."""
    stage.name, stage.position = name or stage.code, position
    stage.save(update_fields=["name", "position"])


def lifecycle_stage_delete(*, stage: LifecycleStage) -> None:
    """Delete a stage nobody is in and no definition moves people to."""
    uses = []
    people = Person.objects.filter(
        workspace_id=stage.workspace_id, lifecycle_stage=stage.code
    ).count()
    if people:
        uses.append(f"{people} people are in it")
    codes = list(
        EventDefinition.objects.filter(
            workspace_id=stage.workspace_id,
            lifecycle_stage=stage.code,
        ).values_list("definition_id", flat=True)[:5]
    )
    if codes:
        uses.append("definitions move people to it: " + ", ".join(codes))
    if uses:
        raise ServiceError(
            FieldError(
                "stages",
                ErrorCode.PROTECTED,
                f"stage {stage.code} cannot be deleted: " + "; ".join(uses),
            )
        )
    stage.delete()
