"""Helpers for tests of the native API: workspace keys and HTTP clients that send them.

The clients are Django's test client over the real URL map, middleware and database; they
only add the key header and encode bodies as JSON.
"""

from dataclasses import dataclass

from django.test import Client

from people.models import ApiKey, Workspace
from people.workspaces import api_key_create


class JsonClient(Client):
    """A test client whose write methods send JSON bodies by default."""

    def post(self, path, data=None, content_type="application/json", **extra):
        return super().post(path, data, content_type=content_type, **extra)

    def patch(self, path, data=None, content_type="application/json", **extra):
        return super().patch(path, data, content_type=content_type, **extra)

    def delete(self, path, data=None, content_type="application/json", **extra):
        return super().delete(path, data, content_type=content_type, **extra)


def key_client(raw_key: str | None, scheme: str = "App") -> JsonClient:
    """Return a client sending ``Authorization: <scheme> <raw_key>`` (nothing for None)."""
    headers = {"Authorization": f"{scheme} {raw_key}"} if raw_key else {}
    return JsonClient(headers=headers)


@dataclass
class WorkspaceApi:
    """A workspace with a secret and a public key and a client for each."""

    workspace: Workspace
    secret_key: ApiKey
    secret_raw: str
    public_key: ApiKey
    public_raw: str

    @property
    def secret(self) -> JsonClient:
        return key_client(self.secret_raw)

    @property
    def public(self) -> JsonClient:
        return key_client(self.public_raw)


def workspace_api(workspace: Workspace) -> WorkspaceApi:
    """Create a secret and a public key for ``workspace`` through the key service."""
    secret = api_key_create(workspace=workspace, kind=ApiKey.Kind.SECRET, name="server")
    public = api_key_create(workspace=workspace, kind=ApiKey.Kind.PUBLIC, name="browser")
    return WorkspaceApi(
        workspace=workspace,
        secret_key=secret.api_key,
        secret_raw=secret.raw_key,
        public_key=public.api_key,
        public_raw=public.raw_key,
    )


def assert_error(response, status: int, code: str | None = None, field: str | None = None) -> dict:
    """Check the native error shape ``{"error": {"code", "message", "field"}}``, the status,
    and (when given) the code and field; return the error object."""
    assert response.status_code == status, (response.status_code, response.content[:500])
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert {"code", "message", "field"} <= set(error), error
    assert isinstance(error["message"], str)
    assert error["message"]
    if code is not None:
        assert error["code"] == code, error
    if field is not None:
        assert error["field"] == field, error
    return error


def undescribed(serializer, body, path: str = "") -> list[str]:
    """Return where ``body`` (an API answer) strays from ``serializer`` (its OpenAPI
    description): keys it does not document, required keys missing, nested alike."""
    from rest_framework import serializers

    if isinstance(serializer, serializers.ListSerializer):
        if not isinstance(body, list):
            return [f"{path or 'body'}: not a list"]
        return [
            p
            for i, item in enumerate(body)
            for p in undescribed(serializer.child, item, f"{path}[{i}]")
        ]
    if not isinstance(serializer, serializers.Serializer):
        return []
    if not isinstance(body, dict):
        return [f"{path or 'body'}: not an object"]
    fields = serializer.fields
    found = [f"{path}.{k}: not described" for k in sorted(set(body) - set(fields))]
    found += [
        f"{path}.{k}: described as required, missing"
        for k, f in fields.items()
        if f.required and k not in body
    ]
    for name in sorted(set(body) & set(fields)):
        found += undescribed(fields[name], body[name], f"{path}.{name}")
    return found


def assert_described(serializer_class, body) -> None:
    """Assert the answer ``body`` is what ``serializer_class`` documents: the same keys, and
    each value valid for its field (type, nullability, choices)."""
    found = undescribed(serializer_class(), body)
    assert not found, found
    checked = serializer_class(data=body)
    assert checked.is_valid(), checked.errors
