"""The flows admin (SPEC §8), through real admin requests by a marketer of the workspace: the
list and its status actions, the status buttons of the flow page (CSRF-checked posts), the
form saved through the services, the drawn diagram with counts from runs the runtime made,
runs with their step log, the person's run history, and 404 for other workspaces' flows."""

import re
from datetime import timedelta

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Group
from django.utils import timezone

from events.ingestion import events_ingest
from flows.diagram import flow_diagram
from flows.engine import flow_run_step, run_exit
from flows.inputs import EdgeInput, ElementInput, FlowSpec
from flows.models import Flow, FlowRun
from flows.services import flow_activate, flow_create, flow_finish, flow_pause
from tests.factories import DefinitionFactory, PersonFactory, event
from tests.flows.conftest import END, TICKET, chain, complete_flow, spec, start
from tests.people.test_admin import (
    admin_url,
    changelist_rows,
    form_data,
    login,
    make_staff,
    messages_of,
    page_text,
)

pytestmark = pytest.mark.django_db
NODE_RE = re.compile(
    r'<g class="cdp-flow-node" data-key="([^"]+)" data-kind="[^"]+" '
    r'data-entered="(\d+)" data-waiting="(\d+)" data-passed="(\d+)" '
    r'data-exited="(\d+)"'
)
WAIT_2H = (
    '[{"key": "start", "kind": "trigger", "config": {"type": "event", "event": '
    '"c_ticket_searched"}}, {"key": "wait1", "kind": "wait", "label": "Pause", '
    '"config": {"duration": {"hours": %d}}}, {"key": "end", "kind": "end"}]'
)
EDGES = '[{"source": "start", "target": "wait1"}, {"source": "wait1", "target": "end"}]'


@pytest.fixture
def client(workspace):
    return login(make_staff("mia", workspace))


def diagram_counts(html: str) -> dict[str, tuple[int, ...]]:
    """Return ``{key: (entered, waiting, passed, exited)}`` read from the page's SVG."""
    return {key: tuple(int(n) for n in numbers) for key, *numbers in NODE_RE.findall(html)}


def ingest(workspace, capture, *people):
    with capture(execute=True):
        result = events_ingest(
            workspace=workspace,
            origin="api",
            events=[event("c_ticket_searched", person) for person in people],
        )
    assert result.rejected == 0


def test_marketers_may_manage_flows_and_read_runs(db):
    """The migration gives the Marketer group the flow permissions and read access to runs."""
    codenames = set(
        Group.objects.get(name="Marketer").permissions.values_list("codename", flat=True)
    )
    assert {
        "view_flow",
        "add_flow",
        "change_flow",
        "delete_flow",
        "view_flowrun",
        "view_flowsteplog",
    } <= codenames


def test_list_diagram_and_runs_show_counts_of_real_runs(
    workspace, catalogue, client, django_capture_on_commit_callbacks, django_assert_num_queries
):
    """Three people enter; one exits at the wait, one goes on to the end, one still waits.
    The list counts live and finished runs; the diagram's boxes count each element."""
    flow = flow_activate(flow=complete_flow(workspace))
    ann, bob, cem = (
        PersonFactory(workspace=workspace, external_id=n) for n in ("ann", "bob", "cem")
    )
    ingest(workspace, django_capture_on_commit_callbacks, ann, bob, cem)
    runs = {r.person_id: r for r in FlowRun.objects.filter(flow=flow)}
    assert run_exit(run_id=runs[bob.pk].pk, reason="left")
    with django_capture_on_commit_callbacks(execute=True):
        flow_run_step(
            run_id=runs[ann.pk].pk,
            step_no=runs[ann.pk].step_no,
            now=timezone.now() + timedelta(hours=2),
        )
    assert FlowRun.objects.get(pk=runs[ann.pk].pk).state == FlowRun.State.FINISHED

    listing = client.get(admin_url("flows_flow_changelist"))
    [row] = changelist_rows(listing)
    assert (row.live_count, row.finished_count) == (1, 2)
    assert "event c_ticket_searched" in page_text(listing)

    page = client.get(admin_url("flows_flow_change", flow.pk))
    html = page_text(page)
    assert diagram_counts(html) == {
        "start": (3, 0, 3, 0),
        "wait1": (3, 1, 1, 1),
        "tag": (1, 0, 1, 0),
        "end": (1, 0, 1, 0),
    }
    assert "wait 1 h" in html
    assert "add tag searched" in html
    for person in (ann, bob, cem):
        assert admin_url("people_person_change", person.pk) in html
    assert "left" in html  # bob's exit reason in the latest runs
    with django_assert_num_queries(4):  # elements, edges, step counts, run counts
        flow_diagram(flow=flow)


def test_user_text_is_escaped_in_the_diagram(workspace, catalogue, client):
    """A label with markup is shown as text, never run."""
    flow = flow_create(
        workspace=workspace,
        spec=FlowSpec(
            name="<b>Bold</b> flow",
            elements=(
                ElementInput(key="start", kind="trigger", config=TICKET),
                ElementInput(key="end", kind="end", label="<script>alert(1)</script>"),
            ),
            edges=(EdgeInput(source="start", target="end"),),
        ),
    )
    html = page_text(client.get(admin_url("flows_flow_change", flow.pk)))
    svg = html[html.index('<svg xmlns="http://www.w3.org/2000/svg" class="cdp-flow-diagram"') :]
    svg = svg[: svg.index("</svg>")]
    assert "<script>" not in svg
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in svg
    assert "Diagram of the flow &lt;b&gt;Bold&lt;/b&gt; flow" in svg


def test_actions_move_the_status_and_list_every_problem(workspace, catalogue, client):
    """Activate lists each problem of an incomplete flow with the element it is about; a
    complete one is activated, then paused; pausing a draft is refused with the reason."""
    broken = flow_create(
        workspace=workspace,
        spec=spec(
            [start(), ("wait1", "wait", {"duration": {"hours": 1}}), END],
            [("start", "wait1")],
            name="Broken",
        ),
    )
    good = complete_flow(workspace, name="Good")
    url = admin_url("flows_flow_changelist")
    response = client.post(
        url, {"action": "activate", "_selected_action": [broken.pk, good.pk]}, follow=True
    )
    shown = messages_of(response)
    assert any(
        m.startswith("Broken: element 'wait1' (wait): ") and "no 'next' exit" in m for m in shown
    )
    assert any(
        m.startswith("Broken: element 'end' (end)") and "cannot be reached" in m for m in shown
    )
    assert "Good: activated" in shown
    broken.refresh_from_db()
    good.refresh_from_db()
    assert (broken.status, good.status) == (Flow.Status.DRAFT, Flow.Status.ACTIVE)

    response = client.post(
        url, {"action": "pause", "_selected_action": [broken.pk, good.pk]}, follow=True
    )
    shown = messages_of(response)
    assert "Good: paused" in shown
    assert any(m.startswith("Broken: ") and "only an active flow is paused" in m for m in shown)
    good.refresh_from_db()
    assert good.status == Flow.Status.PAUSED


def test_add_form_saves_through_the_service_with_readable_errors(workspace, catalogue, client):
    """Bad JSON and bad element settings come back on the form, naming the element; a good
    graph is stored as a draft of the marketer's workspace."""
    url = admin_url("flows_flow_add")
    data = form_data(client.get(url), "flow_form")
    data.update(name="Reminder", graph_elements="[{", graph_edges="[]")
    response = client.post(url, data)
    assert response.status_code == 200
    assert "This is not valid JSON" in page_text(response)

    data.update(graph_elements=WAIT_2H % 9000, graph_edges=EDGES)
    response = client.post(url, data)
    assert response.status_code == 200
    assert "element &#x27;wait1&#x27; (wait), config.duration" in page_text(response)
    assert not Flow.objects.exists()

    data.update(graph_elements=WAIT_2H % 2, interval_days="", reentry="once")
    response = client.post(url, data)
    assert response.status_code == 302, page_text(response)[:3000]
    flow = Flow.objects.get(name="Reminder")
    assert (flow.workspace, flow.status) == (workspace, Flow.Status.DRAFT)
    assert flow.elements.get(key="wait1").config == {"duration": {"hours": 2}}
    assert flow.edges.count() == 2


def test_active_flow_is_read_only_until_paused(workspace, catalogue, client):
    """An active flow's graph and settings are shown disabled with "pause it first"; posting
    another graph changes only the name. Once paused, the graph is edited."""
    flow = flow_activate(
        flow=flow_create(
            workspace=workspace,
            spec=chain(start(), ("wait1", "wait", {"duration": {"hours": 1}}), END, name="Live"),
        )
    )
    url = admin_url("flows_flow_change", flow.pk)
    page = client.get(url)
    assert "pause it first" in page_text(page)
    assert page.context["adminform"].form.fields["graph_elements"].disabled
    data = form_data(page, "flow_form")
    assert "graph_elements" not in data  # disabled fields are not sent
    data.update(name="Live (renamed)", graph_elements=WAIT_2H % 5, graph_edges=EDGES)
    assert client.post(url, data).status_code == 302
    flow.refresh_from_db()
    assert flow.name == "Live (renamed)"
    assert flow.elements.get(key="wait1").config == {"duration": {"hours": 1}}

    flow_pause(flow=flow)
    data = form_data(client.get(url), "flow_form")
    data.update(graph_elements=WAIT_2H % 5, graph_edges=EDGES)
    response = client.post(url, data)
    assert response.status_code == 302, page_text(response)[:3000]
    assert flow.elements.get(key="wait1").config == {"duration": {"hours": 5}}
    assert not flow.elements.filter(key="tag").exists()


def test_template_prefills_the_add_form_and_says_what_is_missing(workspace, client):
    """ "Start from" a template fills the form; what the workspace lacks is listed."""
    response = client.get(admin_url("flows_flow_add") + "?template=abandoned-booking")
    form = response.context["adminform"].form
    assert form.initial["name"] == "Abandoned ticket booking"
    assert form.initial["reentry"] == "recurring"
    assert form.initial["interval_days"] == 7
    html = page_text(response)
    assert "c_ticket_chosen" in html  # in the elements JSON
    assert "event c_ticket_searched: create it as a custom definition" in html


def test_other_workspaces_flows_and_runs_answer_404(
    workspace, other_workspace, catalogue, client, django_capture_on_commit_callbacks
):
    """A marketer lists only their flows; another workspace's flow and runs answer 404 on
    every page (change, history, delete, status buttons), like ids that do not exist, and
    a status move posted for it changes nothing."""
    mine = complete_flow(workspace, name="Mine")
    DefinitionFactory(workspace=other_workspace, definition_id="c_ticket_searched")
    theirs = flow_activate(flow=complete_flow(other_workspace, name="Theirs"))
    ingest(
        other_workspace,
        django_capture_on_commit_callbacks,
        PersonFactory(workspace=other_workspace),
    )
    run = FlowRun.objects.get(flow=theirs)
    assert [f.pk for f in changelist_rows(client.get(admin_url("flows_flow_changelist")))] == [
        mine.pk
    ]
    for url in (
        admin_url("flows_flow_change", theirs.pk),
        admin_url("flows_flow_history", theirs.pk),
        admin_url("flows_flow_delete", theirs.pk),
        admin_url("flows_flowrun_change", run.pk),
        admin_url("flows_flowrun_history", run.pk),
        admin_url("flows_flow_change", 10**9),
        admin_url("flows_flowrun_change", 10**9),
    ):
        assert client.get(url).status_code == 404, url
    assert client.post(admin_url("flows_flow_status", theirs.pk, "pause")).status_code == 404
    assert (
        client.post(
            admin_url("flows_flow_status", theirs.pk, "finish"), {"confirmed": "yes"}
        ).status_code
        == 404
    )
    theirs.refresh_from_db()
    assert theirs.status == Flow.Status.ACTIVE
    assert changelist_rows(client.get(admin_url("flows_flowrun_changelist"))) == []
    assert client.get(admin_url("flows_flow_change", mine.pk)).status_code == 200


def test_run_page_and_person_page_show_the_history(
    workspace, catalogue, client, person, django_capture_on_commit_callbacks
):
    """The run page lists its steps; the person page lists the person's runs, newest first."""
    first = flow_activate(flow=complete_flow(workspace, name="First"))
    second = flow_activate(
        flow=flow_create(workspace=workspace, spec=chain(start(), END, name="Second"))
    )
    ingest(workspace, django_capture_on_commit_callbacks, person)
    waiting = FlowRun.objects.get(flow=first)
    done = FlowRun.objects.get(flow=second)
    assert done.state == FlowRun.State.FINISHED

    run_page = page_text(client.get(admin_url("flows_flowrun_change", waiting.pk)))
    assert "entered" in run_page
    assert "waiting" in run_page
    listing = client.get(admin_url("flows_flowrun_changelist") + f"?flow__id__exact={first.pk}")
    assert [r.pk for r in changelist_rows(listing)] == [waiting.pk]

    html = page_text(client.get(admin_url("people_person_change", person.pk)))
    section = html[html.index('id="flow-runs"') :]
    assert admin_url("flows_flow_change", first.pk) in section
    assert admin_url("flows_flow_change", second.pk) in section
    newest_first = sorted([done, waiting], key=lambda r: (r.entered_at, r.pk), reverse=True)
    assert [section.index(f'id="flow-run-{r.pk}"') for r in newest_first] == sorted(
        section.index(f'id="flow-run-{r.pk}"') for r in newest_first
    )
    for text in ("Waiting", "Finished", "completed"):
        assert text in section


def test_a_finished_flow_is_deleted_with_its_runs_an_active_one_is_not(
    workspace, catalogue, client, person, django_capture_on_commit_callbacks
):
    """Delete goes through ``flow_delete``: a finished flow goes with its runs; an active
    flow offers no delete."""
    flow = flow_activate(flow=complete_flow(workspace))
    ingest(workspace, django_capture_on_commit_callbacks, person)
    assert client.get(admin_url("flows_flow_delete", flow.pk)).status_code == 403
    flow_finish(flow=flow)
    url = admin_url("flows_flow_delete", flow.pk)
    assert client.get(url).status_code == 200
    assert client.post(url, {"post": "yes"}).status_code == 302
    assert not Flow.objects.exists()
    assert not FlowRun.objects.exists()


# The status buttons of the flow page ------------------------------------------------------


def buttons(response) -> list[str]:
    """The status buttons the flow page shows, in order."""
    return re.findall(r'<button type="submit" id="flow-(\w+)"', page_text(response))


def press(client, flow, move: str, **data):
    """Post a status button of the flow page as a browser does: with the page's CSRF token."""
    page = client.get(admin_url("flows_flow_change", flow.pk))
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page_text(page)).group(1)
    return client.post(
        admin_url("flows_flow_status", flow.pk, move),
        {"csrfmiddlewaretoken": token, **data},
        follow=True,
    )


@pytest.fixture
def csrf_client(workspace):
    """A marketer's browser: CSRF checked as in production."""
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    browser.force_login(make_staff("noa", workspace))
    return browser


def test_status_buttons_move_the_flow_through_its_life(
    workspace, catalogue, csrf_client, person, django_capture_on_commit_callbacks
):
    """A draft offers Activate; active: Pause and Finish; paused: Resume and Finish;
    finished: none. Each button posts (with the CSRF token) to the service and comes back
    to the page with a message; Finish asks first, saying who will exit."""
    flow = complete_flow(workspace)
    url = admin_url("flows_flow_change", flow.pk)
    assert buttons(csrf_client.get(url)) == ["activate"]

    page = press(csrf_client, flow, "activate")
    assert page.redirect_chain == [(url, 302)]
    assert "Complete: activated" in messages_of(page)
    assert buttons(page) == ["pause", "finish"]
    flow.refresh_from_db()
    assert flow.status == Flow.Status.ACTIVE
    ingest(workspace, django_capture_on_commit_callbacks, person)  # waits an hour

    page = press(csrf_client, flow, "pause")
    assert "Complete: paused" in messages_of(page)
    assert buttons(page) == ["resume", "finish"]
    page = press(csrf_client, flow, "resume")
    assert "Complete: resumed" in messages_of(page)
    assert buttons(page) == ["pause", "finish"]

    ask = press(csrf_client, flow, "finish")
    assert ask.redirect_chain == []
    assert "the 1 person still in it will exit" in page_text(ask)
    flow.refresh_from_db()
    assert flow.status == Flow.Status.ACTIVE
    page = press(csrf_client, flow, "finish", confirmed="yes")
    assert "Complete: finished" in messages_of(page)
    assert buttons(page) == []
    flow.refresh_from_db()
    assert flow.status == Flow.Status.FINISHED
    assert FlowRun.objects.get(flow=flow).state == FlowRun.State.EXITED
    assert [
        e.change_message for e in LogEntry.objects.filter(object_id=str(flow.pk)).order_by("pk")
    ] == [
        "Activate (status: activated).",
        "Pause (status: paused).",
        "Resume (status: resumed).",
        "Finish (status: finished).",
    ]


def test_status_button_shows_each_problem_and_leaves_the_flow(workspace, catalogue, csrf_client):
    """Activating an incomplete flow from its page lists every problem as an admin message
    naming the element; the flow stays a draft. Without the CSRF token the post is refused;
    a GET does nothing; an unknown move is 404."""
    broken = flow_create(
        workspace=workspace,
        spec=spec(
            [start(), ("wait1", "wait", {"duration": {"hours": 1}}), END],
            [("start", "wait1")],
            name="Broken",
        ),
    )
    page = press(csrf_client, broken, "activate")
    shown = messages_of(page)
    assert any(
        m.startswith("Broken: element 'wait1' (wait): ") and "no 'next' exit" in m for m in shown
    ), shown
    assert any(
        m.startswith("Broken: element 'end' (end)") and "cannot be reached" in m for m in shown
    ), shown
    assert buttons(page) == ["activate"]
    status_url = admin_url("flows_flow_status", broken.pk, "activate")
    assert csrf_client.post(status_url).status_code == 403
    assert csrf_client.get(status_url).status_code == 405
    assert press(csrf_client, broken, "explode").status_code == 404
    broken.refresh_from_db()
    assert broken.status == Flow.Status.DRAFT


def test_status_buttons_need_the_change_permission(workspace, catalogue):
    """A staff user who may only view flows sees the page read-only, graph included, with
    no buttons; posting one is refused."""
    from django.contrib.auth.models import Permission, User

    viewer = User.objects.create_user(username="vic", password="pw", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_flow"))
    workspace.members.add(viewer)
    flow = complete_flow(workspace)
    browser = login(viewer)
    page = browser.get(admin_url("flows_flow_change", flow.pk))
    assert page.status_code == 200
    assert buttons(page) == []
    html = page_text(page)
    assert "&quot;key&quot;: &quot;wait1&quot;" in html  # the elements, shown as text
    assert "&quot;outcome&quot;: &quot;next&quot;" in html  # the edges
    assert browser.post(admin_url("flows_flow_status", flow.pk, "activate")).status_code == 403
    flow.refresh_from_db()
    assert flow.status == Flow.Status.DRAFT
