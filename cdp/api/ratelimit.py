"""Rate limits per API key (§11), counted in the cache (Redis in production, shared by every
web process) with django-ratelimit's fixed windows.

``CDP_RATE_LIMIT`` (default ``1000/s``, empty to switch off) applies to each key separately.
DRF views get it through ``ApiKeyThrottle``; the compatible endpoints call ``key_rate_limited``
and answer 429 in their own system's shape. When the cache cannot be reached the request is
let through (losing events is worse than an unmetered minute) and a warning is logged.
"""

import logging

from django.conf import settings
from django_ratelimit.core import is_ratelimited
from rest_framework.throttling import BaseThrottle

from cdp.api.auth import KeyPrincipal

logger = logging.getLogger(__name__)
GROUP = "cdp-api-key"


def key_rate_limited(request, principal) -> bool:
    """Count this request against the caller's key; True when the key is over its limit."""
    rate = settings.CDP_RATE_LIMIT
    if not rate or principal is None:
        return False
    key_id = str(principal.api_key.pk)
    try:
        return is_ratelimited(
            request, group=GROUP, key=lambda _group, _request: key_id, rate=rate, increment=True
        )
    except Exception as exc:  # the cache's own connection errors differ per backend
        logger.warning("rate limit not checked, cache unavailable: %s", exc)
        return False


class ApiKeyThrottle(BaseThrottle):
    """DRF throttle: 429 ``throttled`` in the native error shape, with ``Retry-After``."""

    def allow_request(self, request, view):
        user = request.user
        return not (isinstance(user, KeyPrincipal) and key_rate_limited(request, user))

    def wait(self):
        return 1
