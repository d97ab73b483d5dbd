"""The flows API through the HTTP client: CRUD with the whole graph, status moves, runs of a
flow and of a person, templates; secret keys only; workspaces isolated; webhook secrets never
read back; bad input answered 400 in the native shape, never 500."""

import json

import pytest

from flows.api.serializers import FlowOutSerializer, FlowRunSerializer, FlowSummarySerializer
from flows.models import Flow, FlowElement, FlowRun
from tests.api_helpers import assert_described, assert_error, workspace_api
from tests.flows.conftest import run_at

pytestmark = pytest.mark.django_db

ELEMENTS = [
    {
        "key": "start",
        "kind": "trigger",
        "label": "Searched",
        "config": {"type": "event", "event": "c_ticket_searched"},
        "positionX": 0,
        "positionY": 0,
    },
    {
        "key": "chosen",
        "kind": "wait_for_event",
        "label": "",
        "config": {
            "occurred": [{"event": "c_ticket_chosen"}],
            "notOccurred": [{"event": "c_checkout"}],
            "within": {"days": 1},
        },
        "positionX": 240,
        "positionY": 0,
    },
    {
        "key": "hook",
        "kind": "action",
        "label": "Tell sales",
        "config": {
            "action": "webhook",
            "url": "https://hooks.example.com/cdp",
            "secret": "top-s3cret",
            "payload": {"person": "{{ person.id }}"},
        },
        "positionX": 480,
        "positionY": 0,
    },
    {"key": "end", "kind": "end", "label": "", "config": {}, "positionX": 720, "positionY": 0},
]
EDGES = [
    {"source": "start", "target": "chosen", "outcome": "next"},
    {"source": "chosen", "target": "hook", "outcome": "met"},
    {"source": "chosen", "target": "end", "outcome": "timeout"},
    {"source": "hook", "target": "end", "outcome": "next"},
]
BODY = {
    "name": "Abandoned booking",
    "description": "remind",
    "reentry": "recurring",
    "reentryInterval": {"days": 7},
    "elements": ELEMENTS,
    "edges": EDGES,
}


@pytest.fixture
def api(workspace):
    return workspace_api(workspace)


@pytest.fixture
def created(api, catalogue):
    response = api.secret.post("/api/v1/flows", BODY)
    assert response.status_code == 201, response.content
    return response.json()


def test_create_read_update_delete(api, created):
    """The body sent is the body read back (the secret aside); PATCH changes what it names;
    a draft is deleted."""
    assert created["status"] == "draft"
    assert created["reentryInterval"] == {"days": 7, "hours": 0, "minutes": 0}
    assert [e["key"] for e in created["elements"]] == ["start", "chosen", "hook", "end"]
    assert created["edges"] == EDGES
    assert created["elements"][1] == ELEMENTS[1]
    url = f"/api/v1/flows/{created['id']}"
    assert api.secret.get(url).json() == created
    listed = api.secret.get("/api/v1/flows").json()
    assert [(f["id"], f["status"]) for f in listed] == [(created["id"], "draft")]
    assert "elements" not in listed[0]

    patched = api.secret.patch(url, {"description": "v2", "reentry": "once"})
    assert patched.status_code == 200, patched.content
    body = patched.json()
    assert (body["description"], body["reentry"], body["reentryInterval"]) == ("v2", "once", None)
    assert body["elements"] == created["elements"]

    shorter = [ELEMENTS[0], ELEMENTS[3]]
    patched = api.secret.patch(
        url, {"elements": shorter, "edges": [{"source": "start", "target": "end"}]}
    )
    assert patched.status_code == 200, patched.content
    assert [e["key"] for e in patched.json()["elements"]] == ["start", "end"]
    assert_error(api.secret.patch(url, {"elements": shorter}), 400, field="edges")

    assert api.secret.delete(url).status_code == 204
    assert_error(api.secret.get(url), 404)


def test_webhook_secret_is_never_returned(api, created):
    """Answers say whether a secret is set, never the secret; sending the read body back keeps
    it stored."""
    hook = created["elements"][2]["config"]
    assert hook["hasSecret"] is True
    assert "secret" not in hook
    url = f"/api/v1/flows/{created['id']}"
    for response in (
        api.secret.get(url),
        api.secret.get("/api/v1/flows"),
        api.secret.patch(url, {"elements": created["elements"], "edges": created["edges"]}),
    ):
        assert response.status_code == 200
        assert b"top-s3cret" not in response.content
    stored = FlowElement.objects.get(flow_id=created["id"], key="hook").config
    assert stored["secret"] == "top-s3cret"
    assert "hasSecret" not in stored


def test_status_moves_and_conflicts(api, created):
    """Activate, pause, resume, finish; edits of an active flow's graph and moves out of order
    answer 409 saying what to do; renaming an active flow is fine."""
    url = f"/api/v1/flows/{created['id']}"
    activated = api.secret.post(f"{url}/activate")
    assert activated.status_code == 200, activated.content
    assert activated.json()["status"] == "active"
    assert activated.json()["activatedTime"]
    assert_error(api.secret.post(f"{url}/activate"), 409, "flow_state", "status")
    assert_error(api.secret.post(f"{url}/resume"), 409, "flow_state")
    error = assert_error(
        api.secret.patch(url, {"reentryInterval": {"days": 1}}), 409, "flow_not_editable", "status"
    )
    assert "pause it first" in error["message"]
    assert_error(api.secret.delete(url), 409, "flow_state")
    assert api.secret.patch(url, {"name": "Renamed"}).json()["name"] == "Renamed"

    assert api.secret.post(f"{url}/pause").json()["status"] == "paused"
    assert api.secret.patch(url, {"reentryInterval": {"days": 1}}).status_code == 200
    assert api.secret.post(f"{url}/resume").json()["status"] == "active"
    assert api.secret.post(f"{url}/finish").json()["status"] == "finished"
    assert api.secret.delete(url).status_code == 204


def test_invalid_and_incomplete_flows_answer_every_problem(api, catalogue):
    """A bad config answers 400 on its path; activating an incomplete draft lists every
    problem under ``errors``."""
    bad = {
        **BODY,
        "elements": [
            ELEMENTS[0],
            {
                **ELEMENTS[1],
                "config": {"notOccurred": [{"event": "c_checkout"}], "within": {"days": 1}},
            },
        ],
        "edges": [],
    }
    error = assert_error(
        api.secret.post("/api/v1/flows", bad),
        400,
        "not_occurred_alone",
        "elements[1].config.notOccurred",
    )
    assert "plain wait" in error["message"]

    draft = api.secret.post(
        "/api/v1/flows", {"name": "Loose", "elements": ELEMENTS, "edges": EDGES[:1]}
    ).json()
    error = assert_error(
        api.secret.post(f"/api/v1/flows/{draft['id']}/activate"), 400, "missing_exit", "elements[1]"
    )
    assert [(e["field"], e["code"]) for e in error["errors"]] == [
        ("elements[1]", "missing_exit"),
        ("elements[1]", "missing_exit"),
        ("elements[2]", "missing_exit"),
        ("elements[2]", "unreachable_element"),
        ("elements[3]", "unreachable_element"),
    ]
    assert_error(
        api.secret.post("/api/v1/flows", {**BODY, "name": "Loose"}), 400, "duplicate", "name"
    )


def test_runs_of_a_flow_and_of_a_person(api, workspace, created, person):
    """Runs are listed newest first with pages, filtered by state; a person's runs span
    their flows."""
    flow = Flow.objects.get(pk=created["id"])
    api.secret.post(f"/api/v1/flows/{flow.pk}/activate")
    done = run_at(flow, person, "end", state=FlowRun.State.FINISHED)
    waiting = run_at(flow, person, "chosen")
    page = api.secret.get(f"/api/v1/flows/{flow.pk}/runs?limit=1").json()
    assert page["count"] == 2
    assert [r["id"] for r in page["results"]] == [waiting.pk]
    run = page["results"][0]
    assert (run["personId"], run["state"], run["currentElement"]) == (
        person.pk,
        "waiting",
        "chosen",
    )
    finished = api.secret.get(f"/api/v1/flows/{flow.pk}/runs?state=finished").json()
    assert [r["id"] for r in finished["results"]] == [done.pk]
    assert_error(api.secret.get(f"/api/v1/flows/{flow.pk}/runs?state=asleep"), 400, field="state")
    mine = api.secret.get(f"/api/v1/people/{person.pk}/flow-runs").json()
    assert [r["id"] for r in mine["results"]] == [waiting.pk, done.pk]


def test_answers_are_what_the_schema_describes(api, created, person):
    """A flow (created and read back, and in the list) and its runs (waiting, finished) have
    the keys and value types their serializers document."""
    assert_described(FlowOutSerializer, created)
    assert_described(FlowOutSerializer, api.secret.get(f"/api/v1/flows/{created['id']}").json())
    for summary in api.secret.get("/api/v1/flows").json():
        assert_described(FlowSummarySerializer, summary)
    flow = Flow.objects.get(pk=created["id"])
    api.secret.post(f"/api/v1/flows/{flow.pk}/activate")
    run_at(flow, person, "end", state=FlowRun.State.FINISHED)
    run_at(flow, person, "chosen")
    runs = api.secret.get(f"/api/v1/flows/{flow.pk}/runs").json()["results"]
    assert len(runs) == 2
    for run in runs:
        assert_described(FlowRunSerializer, run)


def test_templates_say_what_the_workspace_lacks(api, workspace):
    templates = api.secret.get("/api/v1/flows/templates").json()
    by_key = {t["key"]: t for t in templates}
    assert set(by_key) == {
        "abandoned-booking",
        "reactivation-45-days",
        "mortgage-offer",
        "ppmessage-agent-routing",
    }
    assert (
        "event c_checkout: create it as a custom definition"
        in by_key["abandoned-booking"]["missing"]
    )
    assert by_key["mortgage-offer"]["flow"]["elements"][0]["config"]["event"] == "pageView"


def test_definition_used_by_an_active_flow_answers_409(api, created):
    """Deleting a definition an active flow uses is refused, naming the flow."""
    api.secret.post(f"/api/v1/flows/{created['id']}/activate")
    error = assert_error(api.secret.delete("/api/v1/definitions/c_ticket_chosen"), 409, "protected")
    assert "active flow 'Abandoned booking' uses it" in error["message"]


def test_other_workspaces_and_public_keys_are_refused(api, created, other_workspace, person):
    """Another workspace's key sees none of the flows, runs or the person; public keys cannot
    use the API."""
    other = workspace_api(other_workspace)
    flow_id = created["id"]
    assert other.secret.get("/api/v1/flows").json() == []
    for path in (
        f"/api/v1/flows/{flow_id}",
        f"/api/v1/flows/{flow_id}/runs",
        f"/api/v1/people/{person.pk}/flow-runs",
    ):
        assert_error(other.secret.get(path), 404)
    for move in ("activate", "pause", "resume", "finish"):
        assert_error(other.secret.post(f"/api/v1/flows/{flow_id}/{move}"), 404)
    assert_error(other.secret.patch(f"/api/v1/flows/{flow_id}", {"name": "x"}), 404)
    assert_error(other.secret.delete(f"/api/v1/flows/{flow_id}"), 404)
    assert_error(api.public.get("/api/v1/flows"), 403)
    # A flow naming this workspace's definitions is only a draft in the other one: it saves,
    # and its activation names the definitions that workspace lacks.
    draft = other.secret.post("/api/v1/flows", BODY)
    assert draft.status_code == 201, draft.content
    assert_error(
        other.secret.post(f"/api/v1/flows/{draft.json()['id']}/activate"),
        400,
        "unknown_definition",
        "elements[0].config.event",
    )
    assert Flow.objects.get(pk=draft.json()["id"]).workspace_id == other_workspace.pk
    assert Flow.objects.get(pk=flow_id).name == "Abandoned booking"


BAD_BODIES = [
    None,
    [],
    "x",
    {"name": ""},
    {"name": "a\u0000"},
    {"name": "x" * 201},
    {"name": "n", "elements": "x", "edges": []},
    {"name": "n", "elements": [1], "edges": []},
    {"name": "n", "elements": [{"key": "a", "kind": "nope"}], "edges": []},
    {"name": "n", "elements": [{"key": "a", "kind": "end", "config": "x"}], "edges": []},
    {"name": "n", "elements": [{"key": "a", "kind": "end", "positionX": 10**20}], "edges": []},
    {"name": "n", "elements": [{"key": "a" * 40, "kind": "end"}], "edges": []},
    {"name": "n", "elements": [{"key": "a", "kind": "end"}], "edges": [{"source": 1}]},
    {
        "name": "n",
        "elements": [{"key": "a", "kind": "wait", "config": {"duration": {"days": 10**30}}}],
        "edges": [],
    },
    {
        "name": "n",
        "elements": [
            {"key": "a", "kind": "action", "config": {"action": "tag_add", "tag": "\u0000"}}
        ],
        "edges": [],
    },
    {
        "name": "n",
        "elements": [
            {
                "key": "a",
                "kind": "trigger",
                "config": {"type": "schedule", "segment": 10**30, "every": {"days": 1}},
            }
        ],
        "edges": [],
    },
    {
        "name": "n",
        "elements": [
            {
                "key": "a",
                "kind": "trigger",
                "config": {"type": "schedule", "segment": True, "at": "0001-01-01T00:00:00+05:00"},
            }
        ],
        "edges": [],
    },
    {
        "name": "n",
        "elements": [
            {"key": "a", "kind": "branch", "config": {"rules": {"all": [{"segment": 10**30}]}}}
        ],
        "edges": [],
    },
    {
        "name": "n",
        "elements": [{"key": "a", "kind": "branch", "config": {"trigger": [{"trigger": None}]}}],
        "edges": [],
    },
    {"name": "n", "startsTime": "0001-01-01T00:00:00+05:00"},
    {"name": "n", "endsTime": "9999-12-31T23:59:59-05:00"},
    {"name": "n", "startsTime": "1900-01-01T00:00:00Z"},
    {"name": "n", "reentryInterval": "x"},
    {"name": "n", "reentryInterval": {"days": -1}},
    {"name": "n", "reentry": "recurring", "reentryInterval": {"days": 10**9}},
    {"name": "n", "exitSegmentId": 10**30},
    {"name": "n", "exitSegmentId": 999999},
    {"name": "n", "reentry": "often"},
]


@pytest.mark.parametrize("body", BAD_BODIES, ids=[str(i) for i in range(len(BAD_BODIES))])
def test_bad_input_answers_400(api, catalogue, body):
    """Malformed and impossible bodies get a 400 in the native shape naming the field."""
    response = api.secret.post(
        "/api/v1/flows", data=json.dumps(body), content_type="application/json"
    )
    assert_error(response, 400)
    assert not Flow.objects.exists()


def test_bad_queries_and_ids_answer_4xx(api, created):
    """Unknown filters are 400 naming the parameter; ids beyond any row are 404; page sizes
    are capped."""
    assert_error(api.secret.get("/api/v1/flows?status=sleeping"), 400, field="status")
    assert_error(api.secret.get("/api/v1/flows/100000000000000000000000"), 404)
    assert api.secret.get(f"/api/v1/flows/{created['id']}/runs?limit=100000").status_code == 200
    assert_error(api.secret.get("/api/v1/people/100000000000000000000000/flow-runs"), 404)


def test_exit_segment_cannot_be_deleted_while_a_flow_uses_it(api, created, catalogue):
    """The segment a flow exits on is protected: deleting it answers 409 naming the flow."""
    vip = catalogue["vip"]
    url = f"/api/v1/flows/{created['id']}"
    assert api.secret.patch(url, {"exitSegmentId": vip.pk}).json()["exitSegmentId"] == vip.pk
    error = assert_error(api.secret.delete(f"/api/v1/segments/{vip.pk}"), 409, "protected")
    assert "flow 'Abandoned booking'" in error["message"]
    assert api.secret.patch(url, {"exitSegmentId": None}).status_code == 200
    assert api.secret.delete(f"/api/v1/segments/{vip.pk}").status_code == 204


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("patch", "", {"description": "v2"}),
        ("post", "/activate", None),
        ("delete", "", None),
    ],
)
def test_a_flow_deleted_while_the_request_runs_answers_404(
    api, created, monkeypatch, method, suffix, body
):
    """The view finds the flow, a concurrent request deletes it before the service locks it:
    404 in the native shape, not a 500."""
    from flows.api import views

    found = views.flow_get

    def found_then_deleted(**kwargs):
        flow = found(**kwargs)
        Flow.objects.filter(pk=flow.pk).delete()
        return flow

    monkeypatch.setattr(views, "flow_get", found_then_deleted)
    url = f"/api/v1/flows/{created['id']}{suffix}"
    response = getattr(api.secret, method)(url, body) if body else getattr(api.secret, method)(url)
    error = assert_error(response, 404, code="not_found")
    assert error["message"] == "the flow was deleted while this request ran"
