"""Fixtures for the compatible endpoints: a workspace key and people named in the seeds."""

import pytest
from django.test import Client

from people.models import ApiKey
from people.workspaces import api_key_create


@pytest.fixture
def secret_key(workspace) -> str:
    return api_key_create(workspace=workspace, kind=ApiKey.Kind.SECRET).raw_key


@pytest.fixture
def public_key(workspace) -> str:
    return api_key_create(workspace=workspace, kind=ApiKey.Kind.PUBLIC).raw_key


@pytest.fixture
def app_client(secret_key) -> Client:
    """A client sending ``Authorization: App <secret key>``."""
    return Client(HTTP_AUTHORIZATION=f"App {secret_key}")
