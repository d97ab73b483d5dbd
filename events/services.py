"""Write paths for event definitions and their properties, with the §4 editing rules."""

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Max

from cdp.errors import ErrorCode, FieldError, ServiceError
from events.definition_cache import definitions_changed
from events.models import Channel, EventDefinition, PropertyDefinition, WorkspaceDefinition
from events.selectors import channel_usages, definition_usages
from people.models import Workspace

DEFINITION_ID_RE = re.compile(r"^[A-Za-z0-9_]{1,32}$")
PROPERTY_KEY_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")


@dataclass(frozen=True)
class PropertyInput:
    key: str
    name: str = ""
    type: str = PropertyDefinition.Type.TEXT
    required: bool = False
    scope: str = PropertyDefinition.Scope.EVENT


def definition_id_validate(definition_id: str, *, field: str = "definitionId") -> None:
    """Check the code of a custom definition: letters, digits, ``_``, ≤ 32, ``c_`` first."""
    if not isinstance(definition_id, str) or not definition_id:
        raise ServiceError(FieldError(field, ErrorCode.REQUIRED, "is required"))
    if not DEFINITION_ID_RE.match(definition_id):
        raise ServiceError(
            FieldError(
                field,
                ErrorCode.INVALID_DEFINITION_ID,
                "use at most 32 letters, digits and underscores",
            )
        )
    if not definition_id.startswith("c_"):
        raise ServiceError(
            FieldError(
                field,
                ErrorCode.CUSTOM_PREFIX,
                f"custom definition ids must start with c_ (for example c_{definition_id})",
            )
        )


def property_inputs_validate(
    props: Sequence[PropertyInput],
    *,
    existing: int = 0,
    existing_keys: Iterable[str] = (),
    field: str = "properties",
) -> None:
    """Check property keys, types, duplicates and the custom property limit."""
    limit = settings.CDP_MAX_CUSTOM_PROPERTIES
    if existing + len(props) > limit:
        raise ServiceError(
            FieldError(
                field,
                ErrorCode.PROPERTY_LIMIT,
                f"a custom definition has at most {limit} custom properties "
                f"({existing} already, {len(props)} more asked)",
            )
        )
    seen = set(existing_keys)
    errors = []
    for i, prop in enumerate(props):
        where = f"{field}[{i}]"
        if not isinstance(prop.key, str) or not PROPERTY_KEY_RE.match(prop.key):
            errors.append(
                FieldError(
                    f"{where}.key",
                    ErrorCode.INVALID,
                    "start with a letter; letters, digits, _; at most 64",
                )
            )
        elif prop.key in seen:
            errors.append(
                FieldError(
                    f"{where}.key",
                    ErrorCode.DUPLICATE,
                    f"property {prop.key!r} already exists on this definition",
                )
            )
        seen.add(prop.key)
        if prop.type not in PropertyDefinition.Type.values:
            errors.append(
                FieldError(
                    f"{where}.type", ErrorCode.INVALID, "use text, number, boolean or datetime"
                )
            )
        if prop.scope not in PropertyDefinition.Scope.values:
            errors.append(FieldError(f"{where}.scope", ErrorCode.INVALID, "use event or global"))
    if errors:
        raise ServiceError(errors)


def definition_create(
    *,
    workspace: Workspace,
    definition_id: str,
    name: str,
    description: str = "",
    properties: Sequence[PropertyInput] = (),
    channel: Channel | None = None,
    default_score: int = 0,
    lifecycle_stage: str = "",
    enabled: bool = True,
) -> EventDefinition:
    """Create a custom definition with its properties."""
    definition_id_validate(definition_id)
    if not name:
        raise ServiceError(FieldError("name", ErrorCode.REQUIRED, "is required"))
    property_inputs_validate(properties)
    if channel is not None and channel.workspace_id != workspace.pk:
        raise ServiceError(FieldError("channel", ErrorCode.INVALID, "unknown channel"))
    try:
        with transaction.atomic():
            definition = EventDefinition.objects.create(
                workspace=workspace,
                definition_id=definition_id,
                name=name,
                description=description,
                kind=EventDefinition.Kind.CUSTOM,
                channel=channel,
                default_score=default_score,
                lifecycle_stage=lifecycle_stage,
                enabled=enabled,
            )
            _properties_create(definition, properties, start=0)
    except IntegrityError as exc:
        raise ServiceError(
            FieldError("definitionId", ErrorCode.DUPLICATE, f"{definition_id} already exists")
        ) from exc
    return definition


def _properties_create(
    definition: EventDefinition, props: Sequence[PropertyInput], start: int
) -> None:
    PropertyDefinition.objects.bulk_create(
        PropertyDefinition(
            definition=definition,
            key=p.key,
            name=p.name or p.key,
            type=p.type,
            required=p.required,
            scope=p.scope,
            position=start + i,
        )
        for i, p in enumerate(props)
    )
    definitions_changed()  # bulk_create sends no signals


def definition_update(
    *, definition: EventDefinition, fields: Mapping, properties: Sequence[PropertyInput] = ()
) -> EventDefinition:
    """Apply the editing rules: names, description and new properties may change; keys, types
    and the definition id may not; properties are never deleted.

    ``fields`` may hold name, description, default_score, lifecycle_stage, enabled, channel,
    definition_id (refused when different). ``properties`` lists the definition's properties
    as the caller wants them: existing keys may change display name (and required flag), new
    keys are added within the limit, missing keys are an error (no deletion).
    """
    if definition.is_builtin:
        raise ServiceError(
            FieldError("definitionId", ErrorCode.IMMUTABLE, "built-in definitions cannot be edited")
        )
    new_code = fields.get("definition_id")
    if new_code is not None and new_code != definition.definition_id:
        raise ServiceError(
            FieldError(
                "definitionId", ErrorCode.IMMUTABLE, "the definition id cannot change once created"
            )
        )
    with transaction.atomic():
        definition = EventDefinition.objects.select_for_update().get(pk=definition.pk)
        for name in (
            "name",
            "description",
            "default_score",
            "lifecycle_stage",
            "enabled",
            "channel",
        ):
            if name in fields:
                setattr(definition, name, fields[name])
        if not definition.name:
            raise ServiceError(FieldError("name", ErrorCode.REQUIRED, "is required"))
        definition.save()
        if properties:
            properties_sync(definition=definition, properties=properties)
    return definition


def properties_sync(*, definition: EventDefinition, properties: Sequence[PropertyInput]) -> None:
    """Apply display-name changes and add new properties; refuse type changes and deletion."""
    if definition.is_builtin:
        raise ServiceError(
            FieldError("properties", ErrorCode.IMMUTABLE, "built-in definitions cannot be edited")
        )
    with transaction.atomic():
        _properties_sync(definition, properties)


def _properties_sync(definition: EventDefinition, properties: Sequence[PropertyInput]) -> None:
    existing = {p.key: p for p in definition.properties.all()}
    wanted = {p.key for p in properties}
    missing = sorted(set(existing) - wanted)
    if missing:
        raise ServiceError(
            FieldError(
                "properties",
                ErrorCode.IMMUTABLE,
                "properties cannot be deleted: " + ", ".join(missing),
            )
        )
    new = []
    for i, prop in enumerate(properties):
        current = existing.get(prop.key)
        if current is None:
            new.append(prop)
            continue
        if prop.type != current.type:
            raise ServiceError(
                FieldError(
                    f"properties[{i}].type",
                    ErrorCode.IMMUTABLE,
                    f"the type of {prop.key!r} cannot change (it is {current.type})",
                )
            )
        changed = False
        if prop.name and prop.name != current.name:
            current.name, changed = prop.name, True
        if prop.required != current.required:
            current.required, changed = prop.required, True
        if changed:
            current.save(update_fields=["name", "required"])
    if new:
        property_add(definition=definition, properties=new)


def property_add(*, definition: EventDefinition, properties: Sequence[PropertyInput]) -> None:
    """Add properties to a custom definition within the custom property limit."""
    if definition.is_builtin:
        raise ServiceError(
            FieldError(
                "properties", ErrorCode.IMMUTABLE, "built-in definitions cannot get new properties"
            )
        )
    keys = list(definition.properties.values_list("key", flat=True))
    property_inputs_validate(properties, existing=len(keys), existing_keys=keys)
    start = (definition.properties.aggregate(m=Max("position"))["m"] or 0) + 1
    _properties_create(definition, properties, start=start)


def definition_delete(*, definition: EventDefinition) -> None:
    """Delete an unused custom definition; the error names whatever still uses it."""
    if definition.is_builtin:
        raise ServiceError(
            FieldError(
                "definitionId", ErrorCode.PROTECTED, "built-in definitions cannot be deleted"
            )
        )
    usages = definition_usages(definition=definition)
    if usages:
        raise ServiceError(
            FieldError(
                "definitionId",
                ErrorCode.PROTECTED,
                f"{definition.definition_id} cannot be deleted: " + "; ".join(usages),
            )
        )
    definition.delete()


def workspace_definitions_ensure(
    *, workspace: Workspace, definition_pks: Iterable[int]
) -> dict[int, int]:
    """Return ``{definition pk: sequence number}``, numbering first uses in this workspace in
    the order ``definition_pks`` gives them."""
    pks = list(dict.fromkeys(definition_pks))
    seqs = dict(
        WorkspaceDefinition.objects.filter(workspace=workspace, definition_id__in=pks).values_list(
            "definition_id", "seq"
        )
    )
    missing = [pk for pk in pks if pk not in seqs]
    if missing:
        with transaction.atomic():
            # The workspace row lock serialises numbering; it is taken only on first use.
            Workspace.objects.select_for_update().filter(pk=workspace.pk).first()
            seqs.update(
                WorkspaceDefinition.objects.filter(
                    workspace=workspace, definition_id__in=missing
                ).values_list("definition_id", "seq")
            )
            top = (
                WorkspaceDefinition.objects.filter(workspace=workspace).aggregate(m=Max("seq"))["m"]
                or 0
            )
            rows = []
            for pk in missing:
                if pk not in seqs:
                    top += 1
                    seqs[pk] = top
                    rows.append(WorkspaceDefinition(workspace=workspace, definition_id=pk, seq=top))
            WorkspaceDefinition.objects.bulk_create(rows)
    return seqs


def definition_set_enabled(
    *, workspace: Workspace, definition: EventDefinition, enabled: bool | None
) -> None:
    """Switch a definition on or off for one workspace (None: back to the default)."""
    workspace_definitions_ensure(workspace=workspace, definition_pks=[definition.pk])
    WorkspaceDefinition.objects.filter(workspace=workspace, definition=definition).update(
        enabled=enabled
    )
    definitions_changed()


# Channels -------------------------------------------------------------------------------------


def _channel_key_check(*, workspace: Workspace, app_key: str, exclude: int | None = None):
    if not isinstance(app_key, str) or not app_key.strip():
        raise ServiceError(FieldError("app_key", ErrorCode.REQUIRED, "is required"))
    limit = Channel._meta.get_field("app_key").max_length
    if len(app_key) > limit:
        raise ServiceError(FieldError("app_key", ErrorCode.TOO_LONG, f"at most {limit} characters"))
    taken = Channel.objects.filter(workspace=workspace, app_key=app_key)
    if exclude is not None:
        taken = taken.exclude(pk=exclude)
    if taken.exists():
        raise ServiceError(
            FieldError(
                "app_key", ErrorCode.DUPLICATE, f"another channel of this workspace uses {app_key}"
            )
        )


def _channel_name_check(name) -> None:
    if not isinstance(name, str) or not name.strip():
        raise ServiceError(FieldError("name", ErrorCode.REQUIRED, "is required"))
    limit = Channel._meta.get_field("name").max_length
    if len(name) > limit:
        raise ServiceError(FieldError("name", ErrorCode.TOO_LONG, f"at most {limit} characters"))


def channel_create(*, workspace: Workspace, name: str, app_type: str, app_key: str) -> Channel:
    """Create a channel; its APP_KEY is unique in the workspace."""
    _channel_name_check(name)
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
    if "name" in fields:
        _channel_name_check(fields["name"])
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
    """Delete a channel nothing was recorded through (the seed: "if there are no events under
    the channel"); its definitions stay, without a channel. The error names the definitions
    whose events keep it."""
    usages = channel_usages(channel=channel)
    if usages:
        raise ServiceError(
            FieldError(
                "channel",
                ErrorCode.PROTECTED,
                f"channel {channel.name} ({channel.app_key}) cannot be deleted: "
                + "; ".join(usages),
            )
        )
    channel.delete()
