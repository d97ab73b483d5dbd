"""Limits every request meets before any view code: JSON nesting depth (``CDP_MAX_JSON_DEPTH``)
in the API, the compatible endpoints and the admin's JSON, NUL characters in query parameters
and paths, and the type of hand-read fields (SPEC §11)."""

import json

import pytest

from tests.api_helpers import assert_error, workspace_api
from tests.factories import DefinitionFactory, PersonFactory, props
from tests.people.test_admin import admin_url, form_data, login, make_staff

pytestmark = pytest.mark.django_db


def deep(levels: int) -> dict:
    """Segment rules nested ``levels`` groups deep (two JSON levels each)."""
    rules: dict = {"tag": "vip"}
    for _ in range(levels):
        rules = {"any": [rules]}
    return rules


@pytest.fixture
def api(workspace):
    DefinitionFactory(workspace=workspace, definition_id="c_p", properties=props(total="number"))
    PersonFactory(workspace=workspace, external_id="ann", identifiers={"email": "a@example.com"})
    return workspace_api(workspace)


@pytest.fixture
def marketer(workspace):
    return login(make_staff("mia", workspace))


DEEP_ROUTES = [
    "/api/v1/definitions",
    "/api/v1/people",
    "/api/v1/segments",
    "/api/v1/segments/preview",
    "/api/v1/flows",
    "/api/v1/exports/events",
    "/api/v1/analytics/segmentation",
    "/api/v1/analytics/funnels",
    "/api/v1/events/batch",
    "/api/v1/collect",
]


@pytest.mark.parametrize("url", DEEP_ROUTES)
def test_a_body_nested_450_groups_deep_is_a_400_too_deep(api, url):
    """A body nested about 900 levels (orjson parses it; Python recursion would not survive
    it) is refused as ``too_deep`` naming the body, on every route that once answered 500."""
    client = api.public if url == "/api/v1/collect" else api.secret
    response = client.post(url, {"rules": deep(450), "events": [deep(450)]})
    assert_error(response, 400, "too_deep", "body")


def test_the_depth_limit_is_a_setting(api, settings):
    """``CDP_MAX_JSON_DEPTH`` moves the bound: a 12-level body passes at 64 and is refused
    at 8."""
    body = {"rules": deep(5)}  # 2 + 10 levels
    assert api.secret.post("/api/v1/segments/preview", body).status_code == 200
    settings.CDP_MAX_JSON_DEPTH = 8
    assert_error(api.secret.post("/api/v1/segments/preview", body), 400, "too_deep", "body")


@pytest.mark.parametrize(
    "url",
    [
        "/v1/track",
        "/quickaudience/v1/event-messages",
        "/peopleevents/1/persons/ann/definitions/c_p/events",
        "/v1/customerevents?access_token={key}",
    ],
)
def test_compatible_endpoints_refuse_a_deep_body_without_500(api, url):
    """The compatible endpoints read bodies through the same bounded parser."""
    response = api.secret.post(
        url.replace("{key}", api.secret_raw), {"userId": "ann", "properties": deep(450)}
    )
    assert 400 <= response.status_code < 500, response.content[:300]
    assert "deeper than" in response.content.decode()


def test_quick_audience_wrapper_string_is_bounded_too(api):
    """The SDK's wrapper carries the messages as a JSON string: parsed with the same bound."""
    wrapped = json.dumps([{"customerId": "ann", "extendAttributes": deep(450)}])
    response = api.secret.post(
        "/quickaudience/v1/user-messages", {"customerMessageModelListStr": wrapped}
    )
    assert response.status_code == 400, response.content[:300]
    assert "deeper than" in response.json()["errorDesc"]


def test_admin_segment_form_and_preview_refuse_deep_rules(workspace, marketer):
    """The admin segment form's JSON field and the builder's live count refuse rules nested
    deeper than the bound with an error, not a 500."""
    from people.segments.models import Segment

    url = admin_url("people_segment_add")
    data = form_data(marketer.get(url), "segment_form")
    data.update(name="Deep", kind="dynamic", rules=json.dumps(deep(450)))
    response = marketer.post(url, data)
    assert response.status_code == 200
    assert "Enter a valid JSON" in response.content.decode()
    assert not Segment.objects.exists()
    response = marketer.post(
        admin_url("people_segment_builder_preview"),
        {"rules": deep(450)},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "too_deep"


def test_admin_analytics_refuses_a_deep_query(workspace):
    """The admin's analytics query answers 400 ``too_deep`` for a deep body."""
    client = login(make_staff("ana", workspace))
    response = client.post(
        admin_url("events_analytics_segmentation") + f"?workspace={workspace.pk}",
        {"events": [deep(450)]},
        content_type="application/json",
    )
    assert response.status_code == 400, response.content[:300]
    assert response.json()["error"]["code"] == "too_deep"


NUL_URLS = [
    ("/api/v1/events?definitionId=%00", "definitionId"),
    ("/api/v1/people?tag=a%00b", "tag"),
    ("/api/v1/people/lookup?type=email&value=%00", "value"),
    ("/v1/customerevents?access_token={key}&customerId=%00", "customerId"),
    ("/v1/customerevents?access_token={key}&event=c_p%00", "event"),
    ("/api/v1/events?a%00=1", "a\\0"),
    ("/peopleevents/1/persons/ann/definitions/c_p/events?x=%00", "x"),
]


@pytest.mark.parametrize(("url", "field"), NUL_URLS, ids=[u for u, _ in NUL_URLS])
def test_nul_in_a_query_parameter_is_a_400_naming_it(api, url, field):
    """A NUL character in a query parameter is a 400 naming it, before any view (PostgreSQL
    cannot hold NUL in text)."""
    client = api.secret
    url = url.replace("{key}", api.secret_raw)
    response = client.post(url, {}) if url.startswith("/peopleevents") else client.get(url)
    assert_error(response, 400, "invalid", field)


def test_admin_autocomplete_and_search_with_nul_are_a_plain_400(workspace, marketer):
    """Admin pages answer a NUL in the query with a plain 400, not a 500."""
    response = marketer.get(
        "/admin/autocomplete/?term=%00&app_label=people&model_name=person&field_name=workspace"
    )
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/plain")
    assert marketer.get(admin_url("people_person_changelist") + "?q=%00").status_code == 400


@pytest.mark.parametrize("event", [["c_p"], {"a": 1}])
def test_dm_hub_event_of_the_wrong_type_is_a_400_naming_event(api, event):
    """DM Hub's ``event`` as a list or object is a 400 ``invalid_type`` naming ``event``
    (once a TypeError in the ingestion service)."""
    response = api.secret.post(
        f"/v1/customerevents?access_token={api.secret_raw}", {"customerId": "ann", "event": event}
    )
    assert_error(response, 400, "invalid_type", "event")


@pytest.mark.parametrize(
    "mutation",
    [
        {"count": {"operator": ">=", "value": None}},
        {"count": {"operator": ">=", "value": 0}},
        {"count": {"operator": [">="], "value": 1}},
    ],
)
def test_segment_count_conditions_of_any_shape_answer_without_500(api, mutation):
    """A count with a null value is a 400 naming ``count.value``; ``>= 0`` selects everyone;
    an operator that is a list is a 400 naming ``count.operator``."""
    rules = {"all": [{"event": "c_p", **mutation}]}
    for method, url in (("post", "/api/v1/segments/preview"), ("post", "/api/v1/segments")):
        response = getattr(api.secret, method)(url, {"name": "S", "rules": rules})
        value = mutation["count"]["value"]
        if value == 0:
            assert response.status_code in (200, 201), response.content[:300]
        else:
            which = "value" if value is None else "operator"
            assert_error(response, 400, field=f"rules.all[0].count.{which}")


@pytest.mark.parametrize(
    "condition",
    [
        {"attribute": ["country"], "operator": "equals"},
        {"identifier": {"email": 1}},
        {"aggregate": "c_p", "field": ["count"]},
    ],
)
def test_rule_names_of_the_wrong_type_are_a_400_naming_them(api, condition):
    """Names read from a rule tree by hand are type-checked by the shared helper."""
    response = api.secret.post("/api/v1/segments/preview", {"rules": {"all": [condition]}})
    error = assert_error(response, 400, "invalid_type")
    assert error["field"].startswith("rules.all[0].")
