"""PPMessage's aggregate names in flows (SPEC §8, seed 002): ``event_count_N``,
``event_first_time_N``, ``event_last_time_N`` in branch rules, and those plus
``event_last_data_N`` and the trigger's ``track_event_*`` in email and webhook templates, N
being the definition's sequence number in the workspace.

The events are the seed's web tracking events (``window._ppmatc`` items as the web SDK sends
them to ``/api/v1/collect``); the results are read back through the API.
"""

import json

import pytest
from django.core import mail

from events.models import EventDefinition
from events.services import PropertyInput, definition_create, workspace_definitions_ensure
from flows.models import FlowRun
from tests.api_helpers import workspace_api
from tests.factories import PersonFactory, event
from tests.flows.conftest import END, chain, spec, start
from tests.flows.test_runtime import active, ingest
from tests.flows.test_runtime import receiver as receiver  # the fixture

pytestmark = pytest.mark.django_db

CLICK = {"x": 120, "y": 48, "page_url": "https://shop.example.com/products"}


def _numbers(workspace, *codes) -> list[int]:
    pks = [EventDefinition.objects.get(workspace=workspace, definition_id=c).pk for c in codes]
    seqs = workspace_definitions_ensure(workspace=workspace, definition_pks=pks)
    return [seqs[pk] for pk in pks]


def _renamed_routing(workspace):
    """The agent routing flow (``tests.flows.conftest.ROUTING``) with its two aggregates
    named as PPMessage names them."""
    product, pricing = _numbers(workspace, "c_product_viewed", "c_pricing_viewed")
    route = {
        "rules": {
            "all": [
                {"aggregate": f"event_count_{product}", "operator": ">", "value": 8},
                {"aggregate": f"event_count_{pricing}", "operator": ">", "value": 8},
            ]
        }
    }
    return spec(
        [
            start(),
            ("route", "branch", route),
            ("a", "action", {"action": "tag_add", "tag": "agent_a"}),
            ("b", "action", {"action": "tag_add", "tag": "agent_b"}),
            END,
            ("end2", "end", {}),
        ],
        [
            ("start", "route"),
            ("route", "a", "yes"),
            ("route", "b", "no"),
            ("a", "end"),
            ("b", "end2"),
        ],
        name="Agent routing",
    )


def test_branch_on_event_count_n(workspace, catalogue, django_capture_on_commit_callbacks):
    """ "Counts of events 2 and 3 both > 8" written with PPMessage's names routes as the
    definition ids do: the keen visitor to agent A, the casual one to B."""
    flow = active(workspace, _renamed_routing(workspace))
    keen, casual = PersonFactory(workspace=workspace), PersonFactory(workspace=workspace)
    history = [
        event(code, who)
        for who, n in ((keen, 9), (casual, 4))
        for code in ("c_product_viewed", "c_pricing_viewed")
        for _ in range(n)
    ]
    ingest(workspace, django_capture_on_commit_callbacks, *history)
    ingest(
        workspace,
        django_capture_on_commit_callbacks,
        event("c_ticket_searched", keen),
        event("c_ticket_searched", casual),
    )
    api = workspace_api(workspace)
    assert api.secret.get(f"/api/v1/people/{keen.pk}/tags").json()["tags"] == ["agent_a"]
    assert api.secret.get(f"/api/v1/people/{casual.pk}/tags").json()["tags"] == ["agent_b"]
    assert FlowRun.objects.filter(flow=flow, state="finished").count() == 2


def test_an_unnumbered_event_is_refused_naming_the_field(workspace, catalogue):
    api = workspace_api(workspace)
    answer = api.secret.post(
        "/api/v1/segments/preview",
        {"rules": {"all": [{"aggregate": "event_count_999", "operator": ">", "value": 8}]}},
    )
    assert answer.status_code == 400, answer.content
    error = answer.json()["error"]
    assert error["field"] == "rules.all[0].aggregate"
    assert "999" in error["message"]


def test_segment_rule_by_ppmessage_name(workspace, catalogue, django_capture_on_commit_callbacks):
    """The same name in a segment's preview counts who did the event more than 8 times."""
    [product] = _numbers(workspace, "c_product_viewed")
    keen, casual = PersonFactory(workspace=workspace), PersonFactory(workspace=workspace)
    ingest(
        workspace,
        django_capture_on_commit_callbacks,
        *[event("c_product_viewed", who) for who, n in ((keen, 9), (casual, 2)) for _ in range(n)],
    )
    answer = workspace_api(workspace).secret.post(
        "/api/v1/segments/preview",
        {"rules": {"all": [{"aggregate": f"event_count_{product}", "operator": ">", "value": 8}]}},
    )
    assert answer.status_code == 200, answer.content
    assert answer.json()["count"] == 1


def test_templates_read_the_seed_names(
    workspace,
    catalogue,
    receiver,
    django_capture_on_commit_callbacks,
):
    """A webhook and an email started by the seed's click read ``event_count_N``,
    ``event_last_data_N`` and ``track_event_*`` of that click."""
    url, received, _, _ = receiver
    definition_create(
        workspace=workspace,
        definition_id="c_webclick",
        name="webclick",
        properties=[PropertyInput("x", type="number"), PropertyInput("y", type="number")],
    )
    [n] = _numbers(workspace, "c_webclick")
    PersonFactory(
        workspace=workspace,
        external_id="ann",
        identifiers={"email": "ann@example.com", "anonymous_id": "visitor-1"},
    )
    text = (
        f"{{{{ event_count_{n} }}}} clicks, last on {{{{ event_last_data_{n}.page_url }}}} "
        f"(event {{{{ track_event_seq }}}}, {{{{ track_event_uuid }}}}, "
        "x={{ track_event_data.x }})"
    )
    active(
        workspace,
        chain(
            start({"type": "event", "event": "c_webclick"}),
            ("hook", "action", {"action": "webhook", "url": url, "payload": {"text": text}}),
            (
                "mail",
                "action",
                {"action": "email", "to": "person", "subject": "Clicks", "body": text},
            ),
            END,
            reentry="recurring",
        ),
    )
    api = workspace_api(workspace)
    for x in (1, 120):
        with django_capture_on_commit_callbacks(execute=True):
            answer = api.public.post(
                "/api/v1/collect",
                {
                    "anonymousId": "visitor-1",
                    "events": [
                        {
                            "type": "track",
                            "event": "webclick",
                            "data": {**CLICK, "x": x},
                            "timestamp": 1_714_564_800 + x,
                        }
                    ],
                },
            )
        assert answer.json()["accepted"] == 1, answer.content
    expected = f"2 clicks, last on https://shop.example.com/products (event {n}, c_webclick, x=120)"
    assert json.loads(received[-1][1])["data"] == {"text": expected}
    assert mail.outbox[-1].body == expected
