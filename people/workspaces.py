"""Write paths for workspaces, their settings and lifecycle stages, and their API keys (hashed;
the raw key is shown once).

A stage may be named by rows of higher floors (event definitions move people to a stage):
those apps register a ``LIFECYCLE_STAGE_USAGE_PROVIDERS`` entry at ``AppConfig.ready()``,
which says how the stage is used, so a stage in use is not deleted.
"""

import hashlib
import secrets
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.db import transaction
from django.utils import timezone

from cdp.errors import ErrorCode, FieldError, ServiceError
from people.models import ApiKey, LifecycleStage, Person, Workspace

DEFAULT_STAGES = [
    ("lead", "Lead"),
    ("prospect", "Prospect"),
    ("opportunity", "Opportunity"),
    ("customer", "Customer"),
    ("loyal", "Loyal customer"),
]


def workspace_create(*, slug: str, name: str = "", parent: Workspace | None = None) -> Workspace:
    """Create a workspace with the default lifecycle stages."""
    with transaction.atomic():
        workspace = Workspace.objects.create(slug=slug, name=name or slug, parent=parent)
        LifecycleStage.objects.bulk_create(
            LifecycleStage(workspace=workspace, code=code, name=label, position=i)
            for i, (code, label) in enumerate(DEFAULT_STAGES)
        )
    return workspace


def workspace_update(
    *, workspace: Workspace, fields: Mapping, members: Iterable | None = None
) -> Workspace:
    """Change name, slug, parent, unknown-track policy and allowed origins (checked and
    normalised by ``origins_normalize``); replace members when given."""
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
    if "allowed_origins" in fields:
        fields = {**fields, "allowed_origins": origins_normalize(fields["allowed_origins"])}
    with transaction.atomic():
        for name in ("name", "slug", "parent", "unknown_track", "allowed_origins"):
            if name in fields:
                setattr(workspace, name, fields[name])
        workspace.save()
        if members is not None:
            workspace.members.set(members)
    return workspace


def origins_normalize(origins) -> list[str]:
    """Return ``origins`` (a list, or text with one per line or comma separated) as the
    browser sends them in ``Origin``: ``scheme://host[:port]``, lower case, no path, no
    default port; ``*`` means any page. Raise ``ServiceError`` on ``allowed_origins`` naming a
    bad one."""
    if isinstance(origins, str):
        origins = origins.replace(",", "\n").splitlines()
    if not isinstance(origins, list | tuple):
        raise ServiceError(
            FieldError("allowed_origins", ErrorCode.INVALID_TYPE, "must be a list of origins")
        )
    normalized: list[str] = []
    for value in origins:
        if not isinstance(value, str):
            raise ServiceError(
                FieldError("allowed_origins", ErrorCode.INVALID_TYPE, "origins are strings")
            )
        origin = _origin(value.strip().rstrip("/").lower()) if value.strip() else ""
        if origin is None:
            raise ServiceError(
                FieldError(
                    "allowed_origins",
                    ErrorCode.INVALID,
                    f"{value.strip()!r} is not an origin: write scheme://host[:port] "
                    "(e.g. https://shop.example.com), or * for any page",
                )
            )
        if origin and origin not in normalized:
            normalized.append(origin)
    return normalized


def _origin(text: str) -> str | None:
    if text == "*":
        return text
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        return None
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.path
        or parts.query
        or parts.fragment
        or "@" in parts.netloc
    ):
        return None
    default = 80 if parts.scheme == "http" else 443
    return (
        f"{parts.scheme}://{parts.netloc}"
        if port not in (None, default)
        else (f"{parts.scheme}://{parts.hostname}")
    )


# Lifecycle stages -----------------------------------------------------------------------------

# ``provider(stage)`` describes how rows of another app use the stage ("definitions move
# people to it: …"); empty when they do not. Events register theirs.
LIFECYCLE_STAGE_USAGE_PROVIDERS: list[Callable[[LifecycleStage], list[str]]] = []


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
    """Delete a stage nobody is in and nothing registered uses."""
    uses = []
    people = Person.objects.filter(
        workspace_id=stage.workspace_id, lifecycle_stage=stage.code
    ).count()
    if people:
        uses.append(f"{people} people are in it")
    for provider in LIFECYCLE_STAGE_USAGE_PROVIDERS:
        uses.extend(provider(stage))
    if uses:
        raise ServiceError(
            FieldError(
                "stages",
                ErrorCode.PROTECTED,
                f"stage {stage.code} cannot be deleted: " + "; ".join(uses),
            )
        )
    stage.delete()


# API keys -------------------------------------------------------------------------------------


def hash_key(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


@dataclass(frozen=True)
class NewApiKey:
    api_key: ApiKey
    raw_key: str  # shown once, never stored


def api_key_create(
    *, workspace: Workspace, kind: str = ApiKey.Kind.SECRET, name: str = ""
) -> NewApiKey:
    """Create a key; only its hash is stored, so the returned raw key is the only copy."""
    marker = "sk" if kind == ApiKey.Kind.SECRET else "pk"
    raw = f"cdp_{marker}_{secrets.token_urlsafe(32)}"
    api_key = ApiKey.objects.create(
        workspace=workspace, kind=kind, name=name, prefix=raw[:12], key_hash=hash_key(raw)
    )
    return NewApiKey(api_key=api_key, raw_key=raw)


# Keys seen recently, by hash: every request authenticates, keys change rarely. A revoked key
# stops working in this process at once and in the others within KEY_CACHE_SECONDS.
KEY_CACHE_SECONDS = 10
_recent_keys: dict[str, tuple[float, ApiKey]] = {}


def api_key_authenticate(raw_key: str) -> ApiKey | None:
    """Return the live key matching ``raw_key`` (with its workspace), or None."""
    if not raw_key or len(raw_key) > 200:
        return None
    digest = hash_key(raw_key)
    now = time.monotonic()
    recent = _recent_keys.get(digest)
    if recent is not None and recent[0] > now:
        return recent[1]
    key = (
        ApiKey.objects.select_related("workspace")
        .filter(key_hash=digest, revoked_at__isnull=True)
        .first()
    )
    if key is not None:
        if len(_recent_keys) > 10_000:
            _recent_keys.clear()
        _recent_keys[digest] = (now + KEY_CACHE_SECONDS, key)
    return key


def api_key_use(raw_key: str) -> ApiKey | None:
    """Return the live key matching ``raw_key`` and note its use (at most once a minute), or
    None: how API calls authenticate (registered in ``cdp.api.auth`` at start-up)."""
    api_key = api_key_authenticate(raw_key)
    if api_key is None:
        return None
    now = timezone.now()
    if api_key.last_used_at is None or (now - api_key.last_used_at).total_seconds() > 60:
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        api_key.last_used_at = now  # the instance may be shared by the recent-keys cache
    return api_key


def api_keys_forget() -> None:
    """Drop the recently seen keys of this process."""
    _recent_keys.clear()


def api_key_revoke(*, api_key: ApiKey) -> None:
    ApiKey.objects.filter(pk=api_key.pk).update(revoked_at=timezone.now())
    api_keys_forget()
