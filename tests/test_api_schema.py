"""The OpenAPI schema (drf-spectacular) is served, valid, and describes the endpoints; Swagger
UI is served from local static files (no network at run time)."""

import html
import re

import pytest
import yaml
from drf_spectacular.validation import validate_schema

pytestmark = pytest.mark.django_db

NATIVE = [
    "/api/v1/events",
    "/api/v1/events/batch",
    "/api/v1/events/{id}",
    "/api/v1/definitions",
    "/api/v1/definitions/{definition_id}",
    "/api/v1/channels",
    "/api/v1/channels/{channel_id}",
    "/api/v1/people",
    "/api/v1/people/{person_id}",
    "/api/v1/people/lookup",
    "/api/v1/people/{person_id}/identifiers",
    "/api/v1/people/{person_id}/tags",
    "/api/v1/attribute-definitions",
    "/api/v1/segments",
    "/api/v1/segments/{segment_id}",
    "/api/v1/segments/preview",
    "/api/v1/segments/templates",
    "/api/v1/segments/{segment_id}/refresh",
    "/api/v1/segments/{segment_id}/members",
    "/api/v1/segments/{segment_id}/members/{person_id}",
    "/api/v1/flows",
    "/api/v1/flows/{flow_id}",
    "/api/v1/flows/templates",
    "/api/v1/flows/templates/{key}",
    "/api/v1/flows/{flow_id}/activate",
    "/api/v1/flows/{flow_id}/pause",
    "/api/v1/flows/{flow_id}/resume",
    "/api/v1/flows/{flow_id}/finish",
    "/api/v1/flows/{flow_id}/runs",
    "/api/v1/people/{person_id}/flow-runs",
    "/api/v1/exports/events",
    "/api/v1/exports/events/{request_id}",
    "/api/v1/exports/definitions",
    "/api/v1/analytics/segmentation",
    "/api/v1/analytics/funnels",
    "/api/v1/analytics/funnels/templates",
    "/api/v1/analytics/insights",
    "/api/v1/analytics/insights/{insight_id}",
    "/api/v1/analytics/insights/{insight_id}/result",
]
COMPATIBLE = [
    "/peopleevents/1/persons/{personId}/definitions/{definitionId}/events",
    "/v1/customerevents",
    "/v1/customerevents/{id}",
    "/quickaudience/v1/event-messages",
    "/quickaudience/v1/user-messages",
    "/v1/batch",
    "/v1/track",
    "/v1/identify",
    "/v1/page",
    "/v1/screen",
    "/v1/alias",
    "/v1/group",
    *(f"/v1/{short}" for short in "tpisgab"),
]


@pytest.fixture
def schema(client):
    response = client.get("/api/v1/schema")
    assert response.status_code == 200
    return yaml.safe_load(response.content)


def test_schema_is_valid_openapi(schema):
    """The served document passes drf-spectacular's OpenAPI 3 validation."""
    validate_schema(schema)
    assert schema["info"]["title"]


@pytest.mark.parametrize("path", NATIVE + COMPATIBLE)
def test_schema_describes_endpoint(schema, path):
    """Every native and compatible endpoint is in the schema."""
    assert path in schema["paths"], sorted(schema["paths"])


def test_api_key_security_scheme(schema):
    """The key schemes are declared so Swagger UI can send a key."""
    assert schema["components"]["securitySchemes"]


def test_swagger_ui_is_served_offline(client):
    """Swagger UI loads its scripts and styles from this app's static files, and its start-up
    code from the docs URL itself (a script file, not inline: the Content-Security-Policy)."""
    page = client.get("/api/v1/docs")
    assert page.status_code == 200
    text = page.content.decode()
    assets = [html.unescape(a) for a in re.findall(r'(?:src|href)="([^"]+)"', text)]
    assert assets
    start_up = [a for a in assets if not a.startswith("/static/")]
    assert start_up == ["/api/v1/docs?script="], assets
    script = client.get(start_up[0])
    assert script["Content-Type"].startswith("application/javascript")
    assert "/api/v1/schema" in script.content.decode()
    assert "<script>" not in text
