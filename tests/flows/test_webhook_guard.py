"""Flow webhooks never reach internal services (SPEC §11). Saving a flow whose webhook names an
internal or unresolvable host is answered 400 naming the field, through the API and the
admin; at send time the address is checked again (DNS may have moved), and a refused one fails
the step once, logged, without retries; redirects are not followed; the step log keeps the
status and a short part of the answer. Receivers are real HTTP servers on 127.0.0.1."""

import pytest
from django.utils import timezone

from events.ingestion import events_ingest
from flows.effects import RESPONSE_KEPT
from flows.models import Flow, FlowRun, FlowStepLog
from flows.services import flow_activate, flow_create
from tests.api_helpers import assert_error, workspace_api
from tests.factories import event
from tests.flows.conftest import END, chain, outbound_allow, start
from tests.flows.test_admin import WAIT_2H
from tests.http_receiver import Receiver
from tests.people.test_admin import admin_url, form_data, login, make_staff, page_text

pytestmark = pytest.mark.django_db

INTERNAL = [
    "http://127.0.0.1:5432/",
    "http://10.0.0.1/",
    "http://169.254.169.254/latest/meta-data/",
    "http://[::ffff:169.254.169.254]/",
    "http://localhost/",
    "http://metadata.google.internal/computeMetadata/v1/",  # unresolvable here, or link-local
    "http://[::1]/",
    "http://0.0.0.0/",
    "http://224.0.0.1/",
]


def body(url: str) -> dict:
    return {
        "name": "Hook",
        "elements": [
            {
                "key": "start",
                "kind": "trigger",
                "config": {"type": "event", "event": "c_ticket_searched"},
            },
            {"key": "hook", "kind": "action", "config": {"action": "webhook", "url": url}},
            {"key": "end", "kind": "end", "config": {}},
        ],
        "edges": [{"source": "start", "target": "hook"}, {"source": "hook", "target": "end"}],
    }


@pytest.fixture
def api(workspace):
    return workspace_api(workspace).secret


@pytest.mark.parametrize("url", INTERNAL)
def test_api_refuses_a_webhook_to_an_internal_host(api, catalogue, url):
    """Creating a flow with the webhook URL is answered 400 ``url_refused`` on the URL's field;
    nothing is stored."""
    error = assert_error(
        api.post("/api/v1/flows", body(url)), 400, "url_refused", "elements[1].config.url"
    )
    assert "public" in error["message"] or "does not resolve" in error["message"]
    assert not Flow.objects.exists()


def test_api_refuses_the_internal_host_on_update_and_saves_an_allowed_one(api, catalogue, settings):
    """A host in ``CDP_OUTBOUND_ALLOWED_HOSTS`` is saved (201); changing the URL to an internal
    address is answered 400 and the stored URL stays."""
    settings.CDP_OUTBOUND_ALLOWED_HOSTS = ["127.0.0.1:9000"]
    created = api.post("/api/v1/flows", body("http://127.0.0.1:9000/hook"))
    assert created.status_code == 201, created.content
    url = f"/api/v1/flows/{created.json()['id']}"
    changed = body("http://127.0.0.1:9001/hook")
    patched = api.patch(url, {"elements": changed["elements"], "edges": changed["edges"]})
    assert_error(patched, 400, "url_refused", "elements[1].config.url")
    hook = Flow.objects.get().elements.get(key="hook")
    assert hook.config["url"] == "http://127.0.0.1:9000/hook"


def test_admin_form_refuses_a_webhook_to_an_internal_host(workspace, catalogue):
    """The admin saves through the same service: the form comes back naming the element's URL
    and the reason; no flow is stored."""
    client = login(make_staff("mia", workspace))
    url = admin_url("flows_flow_add")
    data = form_data(client.get(url), "flow_form")
    elements = WAIT_2H % 1
    hook = '{"key": "hook", "kind": "action", "config": {"action": "webhook", "url": "http://169.254.169.254/"}}'
    data.update(
        name="Hook",
        reentry="once",
        interval_days="",
        graph_elements=elements.replace(
            '{"key": "end", "kind": "end"}', hook + ', {"key": "end", "kind": "end"}'
        ),
        graph_edges='[{"source": "start", "target": "wait1"}, '
        '{"source": "wait1", "target": "hook"}, {"source": "hook", "target": "end"}]',
    )
    response = client.post(url, data)
    assert response.status_code == 200
    text = page_text(response)
    assert "config.url" in text
    assert "169.254.169.254 is a link-local address" in text
    assert not Flow.objects.exists()


def hook_flow(workspace, url: str) -> Flow:
    return flow_activate(
        flow=flow_create(
            workspace=workspace,
            spec=chain(start(), ("hook", "action", {"action": "webhook", "url": url}), END),
        )
    )


def enter(workspace, person, capture) -> FlowRun:
    with capture(execute=True):
        events_ingest(
            workspace=workspace, origin="api", events=[event("c_ticket_searched", person)]
        )
    return FlowRun.objects.get(person=person)


def test_send_time_refusal_fails_the_step_once_without_retry(
    workspace, catalogue, person, settings, caplog, django_capture_on_commit_callbacks
):
    """A flow saved while its host was allowed, run once it no longer is (as when DNS moves a
    name to an internal address): nothing reaches the receiver, the step is ``failed`` with
    the reason, the refusal is logged, no retry is scheduled and the run goes on."""
    with Receiver() as receiver:
        outbound_allow(settings, receiver.url)
        flow = hook_flow(workspace, receiver.url)
        settings.CDP_OUTBOUND_ALLOWED_HOSTS = []
        run = enter(workspace, person, django_capture_on_commit_callbacks)
        assert receiver.received == []
    step = FlowStepLog.objects.get(run=run, element__key="hook")
    assert step.outcome == "failed"
    assert step.detail["attempts"] == 1
    assert "127.0.0.1 is a loopback address" in step.detail["error"]
    assert "webhook refused" in caplog.text
    assert (run.state, run.exit_reason) == (FlowRun.State.FINISHED, "completed")
    assert not FlowRun.objects.filter(flow=flow, resume_at__gt=timezone.now()).exists()


def test_redirect_is_not_followed(
    workspace, catalogue, person, settings, django_capture_on_commit_callbacks
):
    """A receiver answering 302 to another (allowed) receiver: the second gets nothing, the
    step fails with the status recorded and is not retried."""
    with Receiver() as target, Receiver(status=302) as redirecting:
        redirecting.headers = {"Location": target.url}
        outbound_allow(settings, redirecting.url)
        outbound_allow(settings, target.url)
        hook_flow(workspace, redirecting.url)
        run = enter(workspace, person, django_capture_on_commit_callbacks)
        assert (len(redirecting.received), target.received) == (1, [])
    step = FlowStepLog.objects.get(run=run, element__key="hook")
    assert (step.outcome, step.detail["status"]) == ("failed", 302)
    assert "redirect" in step.detail["error"]
    assert run.state == FlowRun.State.FINISHED


def test_step_log_keeps_a_short_part_of_the_answer(
    workspace, catalogue, person, settings, django_capture_on_commit_callbacks
):
    """A 5,000-character answer: the step is ``sent`` with its status and at most
    ``RESPONSE_KEPT`` (200) characters of the body."""
    with Receiver(body=b"a" * 5000) as receiver:
        outbound_allow(settings, receiver.url)
        hook_flow(workspace, receiver.url)
        run = enter(workspace, person, django_capture_on_commit_callbacks)
        assert len(receiver.received) == 1
    step = FlowStepLog.objects.get(run=run, element__key="hook")
    assert (step.outcome, step.detail["status"]) == ("sent", 200)
    assert step.detail["response"] == "a" * RESPONSE_KEPT
    assert RESPONSE_KEPT <= 200
