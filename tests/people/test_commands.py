"""Management commands: ``create_api_key`` prints only a working key; ``admin_bootstrap``
prints a password that logs in."""

import re
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from people.models import ApiKey, LifecycleStage, Workspace
from people.workspaces import api_key_authenticate
from tests.factories import WorkspaceFactory

pytestmark = pytest.mark.django_db


def run(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_create_api_key_creates_the_workspace_and_prints_only_the_key():
    """With a new slug the workspace is created (with its stages) and stdout is one line: a
    secret key that authenticates for that workspace."""
    out, _ = run("create_api_key", "--workspace", "new-slug")
    lines = out.splitlines()
    assert len(lines) == 1
    key = lines[0]
    assert re.fullmatch(r"cdp_sk_[A-Za-z0-9_-]{40,}", key)
    workspace = Workspace.objects.get(slug="new-slug")
    assert LifecycleStage.objects.filter(workspace=workspace).count() == 5
    found = api_key_authenticate(key)
    assert (found.workspace_id, found.kind) == (workspace.pk, ApiKey.Kind.SECRET)


def test_create_api_key_public_for_an_existing_workspace():
    """--public prints a cdp_pk_ key for the existing workspace; no second workspace."""
    workspace = WorkspaceFactory(slug="shop")
    out, _ = run("create_api_key", "--workspace", "shop", "--public", "--name", "web")
    key = out.strip()
    assert out.count("\n") == 1
    assert key.startswith("cdp_pk_")
    found = api_key_authenticate(key)
    assert (found.workspace_id, found.kind, found.name) == (workspace.pk, "public", "web")
    assert Workspace.objects.filter(slug="shop").count() == 1


def _admin_login(client, password: str) -> bool:
    """Log in through the admin's login form (the login throttle needs the request)."""
    response = client.post(
        "/admin/login/", {"username": "admin", "password": password, "next": "/admin/"}
    )
    return response.status_code == 302


def test_admin_bootstrap_prints_a_password_that_logs_in(client):
    """The printed password logs the admin user in; running it again resets the password."""
    WorkspaceFactory(slug="demo")
    out, _ = run("admin_bootstrap")
    password = re.search(r"password: (\S+)", out).group(1)
    user = get_user_model().objects.get(username="admin")
    assert user.is_staff
    assert user.is_superuser
    assert list(user.workspaces.values_list("slug", flat=True)) == ["demo"]
    assert _admin_login(client, password)
    assert client.get("/admin/").status_code == 200

    client.logout()
    again, _ = run("admin_bootstrap")
    new_password = re.search(r"password: (\S+)", again).group(1)
    assert "reset" in again
    assert new_password != password
    assert not _admin_login(client, password)
    assert _admin_login(client, new_password)
