"""API key authentication (§2): ``Authorization: App <key>`` (Infobip), ``Bearer <key>``, HTTP
Basic with the key as user name (Segment clients), and ``access_token`` in the query string
where a view allows it (DM Hub-compatible endpoints only).

Keys and workspaces live on the floor above (``people``): it registers the function that turns
a raw key into the live key with ``key_lookup_register`` in ``PeopleConfig.ready()``
(``people.workspaces.api_key_use``), so the kernel imports nothing from it.
"""

import base64
import binascii
from collections.abc import Callable
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions

# The registered lookup: raw key → the live key (``workspace``, ``is_secret``, ``prefix``,
# its use recorded) or None.
_key_lookup: list[Callable[[str], Any]] = []


def key_lookup_register(lookup: Callable[[str], Any]) -> None:
    """Make ``lookup`` the way API keys are found (``PeopleConfig.ready()``)."""
    _key_lookup[:] = [lookup]


class KeyPrincipal:
    """The caller behind an API key: its workspace and whether it may manage or only ingest."""

    is_authenticated = True
    is_anonymous = False

    def __init__(self, api_key):
        self.api_key = api_key
        self.workspace = api_key.workspace
        self.is_secret = api_key.is_secret

    def __str__(self) -> str:
        return f"key {self.api_key.prefix}…"


def raw_key_from_request(request, *, allow_query_token: bool = False) -> str | None:
    """Return the key the request carries, in any accepted form, or None."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, value = header.partition(" ")
    scheme = scheme.lower()
    value = value.strip()
    if scheme in {"app", "bearer", "token"} and value:
        return value
    if scheme == "basic" and value:
        try:
            decoded = base64.b64decode(value, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        user, _, password = decoded.partition(":")
        return user or password or None
    if allow_query_token:
        return request.GET.get("access_token") or None
    return None


def principal_for_key(raw_key: str | None) -> KeyPrincipal | None:
    if not raw_key:
        return None
    if not _key_lookup:
        raise ImproperlyConfigured("no API key lookup registered (the people app)")
    api_key = _key_lookup[0](raw_key)
    return None if api_key is None else KeyPrincipal(api_key)


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """DRF authentication by workspace API key."""

    allow_query_token = False

    def authenticate(self, request):
        raw = raw_key_from_request(request, allow_query_token=self.allow_query_token)
        if raw is None:
            return None
        principal = principal_for_key(raw)
        if principal is None:
            raise exceptions.AuthenticationFailed("unknown or revoked API key")
        return principal, principal.api_key

    def authenticate_header(self, request):
        return 'App realm="cdp"'


class QueryTokenAuthentication(ApiKeyAuthentication):
    """Also accepts ``?access_token=<key>`` (DM Hub-compatible endpoints)."""

    allow_query_token = True


class SecretKeyRequired(permissions.BasePermission):
    """Secret keys only: reading and managing."""

    message = "this endpoint needs a secret API key"

    def has_permission(self, request, view):
        return isinstance(request.user, KeyPrincipal) and request.user.is_secret


class IngestKeyRequired(permissions.BasePermission):
    """Any live key, public ones included: ingestion only."""

    message = "an API key is required"

    def has_permission(self, request, view):
        return isinstance(request.user, KeyPrincipal)


class ApiKeyScheme(OpenApiAuthenticationExtension):
    """Describe key authentication in the OpenAPI schema."""

    target_class = "cdp.api.auth.ApiKeyAuthentication"
    name = "AppKey"
    match_subclasses = True

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`App <key>`, `Bearer <key>`, or HTTP Basic with the key as "
            "user name. Public keys may only ingest.",
        }
