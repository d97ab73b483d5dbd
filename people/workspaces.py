"""Write paths for workspaces and their API keys (hashed; the raw key is shown once)."""

import hashlib
import secrets
import time
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from people.models import ApiKey, LifecycleStage, Workspace

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


def api_keys_forget() -> None:
    """Drop the recently seen keys of this process."""
    _recent_keys.clear()


def api_key_revoke(*, api_key: ApiKey) -> None:
    ApiKey.objects.filter(pk=api_key.pk).update(revoked_at=timezone.now())
    api_keys_forget()
