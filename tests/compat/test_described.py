"""The compatible endpoints' answers are what the OpenAPI schema says (its serializers in
``events.compat``): the same keys and value types, for a success and for refusals."""

import pytest
from django.test import Client

from events.compat.infobip import InfobipAnswerSerializer, InfobipErrorSerializer
from events.compat.quick_audience import QaAnswerSerializer
from events.compat.segment_schema import SegmentErrorSerializer, SegmentSuccessSerializer
from tests.api_helpers import assert_described, key_client, workspace_api

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(workspace):
    api = workspace_api(workspace)
    definition = {"definitionId": "c_booked", "name": "Booked"}
    assert api.secret.post("/api/v1/definitions", definition).status_code == 201
    assert api.secret.post("/api/v1/people", {"externalId": "ann"}).status_code == 201
    return api


def test_infobip_answers(api):
    """A stored event and the refusals (bad body, public key, unknown key) in Infobip's shapes."""
    url = "/peopleevents/1/persons/ann/definitions/c_booked/events"
    answer = api.secret.post(url, {"properties": {}})
    assert answer.status_code == 200
    assert_described(InfobipAnswerSerializer, answer.json())
    for response in (
        api.secret.post(url, {"nope": 1}),
        api.public.post(url, {"properties": {}}),
        key_client("wrong").post(url, {"properties": {}}),
    ):
        assert response.status_code in (400, 401, 403)
        assert_described(InfobipErrorSerializer, response.json())


def test_quick_audience_answers(api):
    """Accepted, partly rejected and unreadable calls answer the one documented shape."""
    message = {
        "eventCode": "c_booked",
        "eventTime": "2026-03-01T10:00:00Z",
        "customerId": "ann",
        "extendAttributes": {"outBizId": "b-1"},
    }
    for body, status in (([message], 200), ([message, {"eventCode": "x"}], 200), ("[", 400)):
        response = api.secret.post("/quickaudience/v1/event-messages", body)
        assert response.status_code == status, response.content
        assert_described(QaAnswerSerializer, response.json())
    users = api.secret.post("/quickaudience/v1/user-messages", [{"customerId": "ann"}])
    assert_described(QaAnswerSerializer, users.json())


def test_segment_answers(api):
    """A track call answers ``{"success": true}``; a refused body and a missing key answer
    ``{"code", "message"}``."""
    track = {"userId": "ann", "event": "c_booked"}
    ok = key_client(api.secret_raw, "Bearer").post("/v1/track", track)
    assert ok.status_code == 200
    assert_described(SegmentSuccessSerializer, ok.json())
    bad = key_client(api.secret_raw, "Bearer").post("/v1/batch", {"batch": 1})
    assert bad.status_code == 400
    assert_described(SegmentErrorSerializer, bad.json())
    anonymous = Client().post("/v1/track", track, content_type="application/json")
    assert anonymous.status_code == 401
    assert_described(SegmentErrorSerializer, anonymous.json())
