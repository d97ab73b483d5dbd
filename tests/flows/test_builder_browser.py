"""The visual flow builder in a real browser (SPEC §8 "Admin"): Debian's headless Chromium,
driven by Playwright, against pytest-django's live server. A marketer builds flows with clicks
only (palette buttons, clicks on boxes, a drag from an exit onto a box, pickers, numbers and
names typed in the side panel), saves them through the admin form (the same services as the
API) and activates one with the page's button; the test then reads the stored graph. Errors
of the services come back on the element they concern; Undo takes back the last change; the
add page logs no script error. ``CDP_FLOW_SCREENSHOT`` (a path) keeps pictures beside it."""

import itertools
import os

import pytest
from django.contrib.auth.models import Permission, User

from flows.models import Flow
from tests.flows.conftest import complete_flow

SCREENSHOT = os.environ.get("CDP_FLOW_SCREENSHOT")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),  # the live server's requests commit
]


@pytest.fixture
def marketer(workspace) -> User:
    """A staff member of the workspace who may add, change and view flows (given directly: a
    flush after an earlier transactional test removes the groups)."""
    user = User.objects.create_user(username="mia", password="pw-mia-123", is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="flows",
            codename__in=["add_flow", "change_flow", "view_flow", "view_flowrun"],
        )
    )
    workspace.members.add(user)
    return user


def shot(page, name: str) -> None:
    if SCREENSHOT:
        stem = os.path.splitext(SCREENSHOT)[0]
        page.screenshot(path=f"{stem}-builder-{name}.png", full_page=True)


# Every violation of the Content-Security-Policy the page sees, from the first script on.
LISTEN = """window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__cspViolations.push(e.violatedDirective + " " + e.blockedURI);
});"""


def open_add_page(
    browser, live_server, errors: list, user=("mia", "pw-mia-123"), ready: bool = True
):
    """Log in on the add page and wait for the builder (``ready``: and its catalogue)."""
    page = browser.new_context(viewport={"width": 1500, "height": 1100}).new_page()
    page.add_init_script(LISTEN)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on(
        "console",
        lambda msg: (
            errors.append(msg.text)
            if msg.type == "error" and not msg.text.startswith("Failed to load resource")
            else None
        ),
    )
    # Resources that fail (a missing script or style); the favicon is not the builder's.
    page.on(
        "response",
        lambda r: (
            errors.append(f"{r.status} {r.url}")
            if r.status >= 400 and not r.url.endswith("/favicon.ico")
            else None
        ),
    )
    page.goto(f"{live_server.url}/admin/login/?next=/admin/flows/flow/add/")
    page.fill("#id_username", user[0])
    page.fill("#id_password", user[1])
    page.click("input[type=submit]")
    page.wait_for_selector("#cdp-flow-builder[data-ready=true]" if ready else "#cdp-flow-builder")
    return page


def node(page, key: str):
    return page.locator(f'#cdp-fb-canvas .drawflow-node[data-key="{key}"]')


def add(page, palette_id: str) -> None:
    page.click(f"#cdp-fb-add-{palette_id}")


def type_in(page, selector: str, text: str) -> None:
    """Type into a panel input and leave it (the change is one undo step)."""
    page.fill(selector, text)
    page.press(selector, "Tab")


def drag_connect(page, source: str, output: int, target: str) -> None:
    """Drag from an exit dot of ``source`` onto the input of ``target``."""
    start = node(page, source).locator(f".outputs .output_{output}").bounding_box()
    end = node(page, target).locator(".inputs .input_1").bounding_box()
    page.mouse.move(start["x"] + start["width"] / 2, start["y"] + start["height"] / 2)
    page.mouse.down()
    page.mouse.move(end["x"] + end["width"] / 2, end["y"] + end["height"] / 2, steps=8)
    page.mouse.up()


def activate(page) -> None:
    """Press the page's Activate button (and confirm, where the page asks)."""
    page.click("#flow-activate")
    page.wait_for_load_state()
    if "/status/" in page.url:
        page.click("#content form [type=submit]")
        page.wait_for_load_state()


def graph(flow: Flow) -> tuple[dict, set]:
    elements = {e.key: (e.kind, e.config) for e in flow.elements.all()}
    edges = {(e.source.key, e.target.key, e.outcome) for e in flow.edges.select_related()}
    return elements, edges


def test_segment_entry_wait_branch_tag_or_webhook_built_with_clicks(
    browser, live_server, workspace, catalogue, marketer
):
    """Segment entry → wait 1 day → branch on country → yes: tag, no: webhook, each ending;
    the palette places each element after the selected one on its first free exit, the
    branch's second exit is taken by selecting the branch again. Saved, then activated."""
    errors = []
    page = open_add_page(browser, live_server, errors)
    page.fill("#id_name", "German welcome")
    add(page, "trigger_segment")
    page.select_option("#cdp-fb-segment", label="VIP")
    add(page, "wait")
    type_in(page, "#cdp-fb-duration-days", "1")
    add(page, "branch")
    type_in(page, "#cdp-fb-label", "Lives in Germany?")
    page.click("#cdp-fb-add-attribute")
    page.select_option("#cdp-fb-rule-0-field", label="country (text)")
    page.select_option("#cdp-fb-rule-0-operator", label="is")
    type_in(page, "#cdp-fb-rule-0-value", "DE")
    add(page, "tag_add")  # on the branch's "yes"
    type_in(page, "#cdp-fb-tag", "german")
    add(page, "end")
    node(page, "branch1").click()
    add(page, "webhook")  # on the branch's "no"
    type_in(page, "#cdp-fb-url", "https://hooks.example.com/abroad")
    page.click("#cdp-fb-add-payload")
    type_in(page, "#cdp-fb-payload-0-key", "person")
    type_in(page, "#cdp-fb-payload-0-value", "{{ person.id }}")
    add(page, "end")
    assert node(page, "branch1").locator(".output_1").get_attribute("data-outcome") == "yes"
    assert "country equals" in node(page, "branch1").text_content()
    assert page.locator("#cdp-fb-canvas .connection").count() == 6
    shot(page, "segment-flow")
    page.click("input[name=_continue]")
    page.wait_for_selector("#flow-diagram")

    flow = Flow.objects.get(name="German welcome")
    elements, edges = graph(flow)
    assert elements == {
        "trigger1": ("trigger", {"type": "segment_entry", "segment": catalogue["vip"].pk}),
        "wait1": ("wait", {"duration": {"days": 1}}),
        "branch1": (
            "branch",
            {"rules": {"all": [{"attribute": "country", "operator": "equals", "value": "DE"}]}},
        ),
        "tag1": ("action", {"action": "tag_add", "tag": "german"}),
        "end1": ("end", {}),
        "webhook1": (
            "action",
            {
                "action": "webhook",
                "url": "https://hooks.example.com/abroad",
                "payload": {"person": "{{ person.id }}"},
            },
        ),
        "end2": ("end", {}),
    }
    assert edges == {
        ("trigger1", "wait1", "next"),
        ("wait1", "branch1", "next"),
        ("branch1", "tag1", "yes"),
        ("tag1", "end1", "next"),
        ("branch1", "webhook1", "no"),
        ("webhook1", "end2", "next"),
    }
    assert flow.elements.get(key="branch1").label == "Lives in Germany?"
    assert flow.status == Flow.Status.DRAFT

    activate(page)
    flow.refresh_from_db()
    assert flow.status == Flow.Status.ACTIVE, page.locator("#content").text_content()[:2000]
    assert not errors


def test_event_wait_for_event_email_or_end_built_with_clicks_and_a_drag(
    browser, live_server, workspace, catalogue, marketer
):
    """Event (only with more than 2 seats) → wait up to 2 hours for a chosen ticket → met:
    email → end; timeout: an end connected by dragging the exit onto it. Saved as a draft."""
    errors = []
    page = open_add_page(browser, live_server, errors)
    page.fill("#id_name", "Ticket nudge")
    add(page, "trigger_event")
    page.select_option("#cdp-fb-event", "c_ticket_searched")
    page.click("#cdp-fb-add-where")
    page.select_option("#cdp-fb-where-0-field", "seats")
    operators = page.locator("#cdp-fb-where-0-operator option").all_text_contents()
    assert "is greater than" in operators  # the operators of a number
    assert "starts with" not in operators
    page.select_option("#cdp-fb-where-0-operator", "gt")
    type_in(page, "#cdp-fb-where-0-value", "2")
    add(page, "wait_for_event")
    page.select_option("#cdp-fb-occurred-0-event", "c_ticket_chosen")
    type_in(page, "#cdp-fb-within-days", "")
    type_in(page, "#cdp-fb-within-hours", "2")
    add(page, "email")  # on "met"
    type_in(page, "#cdp-fb-subject", "Still looking, {{ person.firstName }}?")
    type_in(page, "#cdp-fb-body", "Your seats are waiting.")
    add(page, "end")
    page.click("#cdp-fb-canvas", position={"x": 30, "y": 520})  # nothing selected
    add(page, "end")  # placed after the last element, not connected
    assert node(page, "waitevent1").locator(".output_2").get_attribute("data-outcome") == "timeout"
    assert page.locator("#cdp-fb-canvas .connection").count() == 3
    drag_connect(page, "waitevent1", 2, "end2")
    assert page.locator("#cdp-fb-canvas .connection").count() == 4
    shot(page, "event-flow")
    page.click("input[name=_save]")
    page.wait_for_selector("#result_list")

    flow = Flow.objects.get(name="Ticket nudge")
    elements, edges = graph(flow)
    assert elements == {
        "trigger1": (
            "trigger",
            {
                "type": "event",
                "event": "c_ticket_searched",
                "where": [{"property": "seats", "operator": "gt", "value": 2}],
            },
        ),
        "waitevent1": (
            "wait_for_event",
            {"occurred": [{"event": "c_ticket_chosen"}], "within": {"hours": 2}},
        ),
        "email1": (
            "action",
            {
                "action": "email",
                "to": "person",
                "subject": "Still looking, {{ person.firstName }}?",
                "body": "Your seats are waiting.",
            },
        ),
        "end1": ("end", {}),
        "end2": ("end", {}),
    }
    assert edges == {
        ("trigger1", "waitevent1", "next"),
        ("waitevent1", "email1", "met"),
        ("email1", "end1", "next"),
        ("waitevent1", "end2", "timeout"),
    }
    assert not errors


def test_a_service_error_shows_on_its_element(browser, live_server, workspace, catalogue, marketer):
    """A wait longer than a year is refused by the service: the page comes back with the box
    marked and the message in its panel; nothing is stored. Fixed, the draft saves."""
    errors = []
    page = open_add_page(browser, live_server, errors)
    page.fill("#id_name", "Too long")
    add(page, "trigger_event")
    page.select_option("#cdp-fb-event", "c_ticket_searched")
    add(page, "wait")
    type_in(page, "#cdp-fb-duration-days", "400")
    page.click("input[name=_continue]")
    page.wait_for_selector("#cdp-flow-builder[data-ready=true]")

    assert not Flow.objects.exists()
    wait = node(page, "wait1")
    assert "cdp-fb-invalid" in wait.get_attribute("class")
    assert "at most 365 days" in wait.locator(".cdp-fb-node-error").text_content()
    assert "cdp-fb-invalid" not in node(page, "trigger1").get_attribute("class")
    assert "at most 365 days" in page.locator("#cdp-fb-panel .cdp-fb-errors").text_content()
    shot(page, "error")

    type_in(page, "#cdp-fb-duration-days", "30")
    page.click("input[name=_continue]")
    page.wait_for_selector("#flow-diagram")
    flow = Flow.objects.get(name="Too long")
    assert flow.elements.get(key="wait1").config == {"duration": {"days": 30}}
    assert not errors


def test_undo_takes_back_the_last_change(browser, live_server, workspace, catalogue, marketer):
    """Undo (the button, then Ctrl+Z) takes back a typed value, then the last element with
    its edge, then a box deleted with the Delete key and its line, in one step each; what is
    saved is the graph as it stands after the undos."""
    errors = []
    page = open_add_page(browser, live_server, errors)
    page.fill("#id_name", "Undone")
    assert page.is_disabled("#cdp-fb-undo")
    add(page, "trigger_event")
    page.select_option("#cdp-fb-event", "c_checkout")
    add(page, "wait")
    type_in(page, "#cdp-fb-duration-days", "3")
    add(page, "tag_add")
    type_in(page, "#cdp-fb-tag", "late")
    assert node(page, "tag1").count() == 1

    page.click("#cdp-fb-undo")  # the tag's name
    node(page, "tag1").click()
    assert page.input_value("#cdp-fb-tag") == ""
    page.click("#cdp-fb-undo")  # the tag element and its edge
    assert node(page, "tag1").count() == 0
    page.click("#cdp-fb-canvas", position={"x": 30, "y": 520})
    page.keyboard.press("Control+z")  # the wait's 3 days
    node(page, "wait1").click()
    assert page.input_value("#cdp-fb-duration-days") == "1"
    assert page.locator("#cdp-fb-canvas .connection").count() == 1
    page.keyboard.press("Delete")  # the selected box, with its line
    assert node(page, "wait1").count() == 0
    assert page.locator("#cdp-fb-canvas .connection").count() == 0
    page.click("#cdp-fb-undo")  # both back in one step
    assert node(page, "wait1").count() == 1
    assert page.locator("#cdp-fb-canvas .connection").count() == 1

    page.click("input[name=_continue]")
    page.wait_for_selector("#flow-diagram")
    elements, edges = graph(Flow.objects.get(name="Undone"))
    assert elements["wait1"] == ("wait", {"duration": {"days": 1}})
    assert set(elements) == {"trigger1", "wait1"}
    assert edges == {("trigger1", "wait1", "next")}
    assert not errors


def test_add_page_and_template_log_no_script_errors(
    browser, live_server, workspace, catalogue, marketer
):
    """The add page (empty, and from a template) runs without a script error or a policy
    violation, the builder draws the template's elements, and the JSON stays one click away
    (what is typed there is drawn)."""
    errors = []
    page = open_add_page(browser, live_server, errors)
    assert page.is_hidden("#id_graph_elements")
    page.click("#cdp-fb-json-toggle")
    assert page.is_visible("#id_graph_elements")
    type_in(page, "#id_graph_elements", '[{"key": "done", "kind": "end", "config": {}}]')
    assert node(page, "done").count() == 1  # typed JSON redraws the canvas
    assert "diagram above" not in page.locator("#content").text_content()
    page.goto(f"{live_server.url}/admin/flows/flow/add/?template=abandoned-booking")
    page.wait_for_selector("#cdp-flow-builder[data-ready=true]")
    assert page.locator("#cdp-fb-canvas .drawflow-node").count() >= 3
    shot(page, "template")
    assert page.evaluate("window.__cspViolations") == []
    assert not errors


def test_choosing_the_workspace_reloads_the_pickers(
    browser, live_server, workspace, other_workspace, catalogue
):
    """Someone in two workspaces picks the flow's workspace on the add page: the event
    picker then offers that workspace's events; the draft is stored there."""
    from tests.factories import DefinitionFactory

    DefinitionFactory(workspace=other_workspace, definition_id="c_globex_only")
    User.objects.create_superuser("root", password="root-pw-123")
    errors = []
    page = open_add_page(browser, live_server, errors, user=("root", "root-pw-123"), ready=False)
    assert "workspace first" in page.text_content("#cdp-fb-message")
    page.select_option("#id_workspace", str(other_workspace.pk))
    page.wait_for_selector("#cdp-flow-builder[data-ready=true]")
    assert page.is_hidden("#cdp-fb-message")
    page.fill("#id_name", "Elsewhere")
    add(page, "trigger_event")
    page.wait_for_selector('#cdp-fb-event option[value="c_globex_only"]', state="attached")
    assert page.locator('#cdp-fb-event option[value="c_ticket_searched"]').count() == 0
    page.select_option("#cdp-fb-event", "c_globex_only")
    page.click("input[name=_continue]")
    page.wait_for_selector("#flow-diagram")
    flow = Flow.objects.get(name="Elsewhere")
    assert flow.workspace == other_workspace
    assert flow.elements.get().config == {"type": "event", "event": "c_globex_only"}
    assert not errors


def test_a_draft_made_through_the_api_opens_laid_out_and_saves_a_change(
    browser, live_server, workspace, catalogue, marketer
):
    """A draft whose elements have no positions opens with its boxes apart, the saved
    diagram above; changing the wait in the panel saves the draft's graph."""
    flow = complete_flow(workspace, name="From the API")
    errors = []
    page = open_add_page(browser, live_server, errors)
    page.goto(f"{live_server.url}/admin/flows/flow/{flow.pk}/change/")
    page.wait_for_selector("#cdp-flow-builder[data-ready=true]")
    assert page.is_visible("#cdp-flow-diagram")
    boxes = [node(page, key).bounding_box() for key in ("start", "wait1", "tag", "end")]
    assert all(a["x"] + a["width"] <= b["x"] for a, b in itertools.pairwise(boxes))
    assert page.locator("#cdp-fb-canvas .connection").count() == 3
    node(page, "wait1").click()
    assert page.input_value("#cdp-fb-duration-hours") == "1"
    type_in(page, "#cdp-fb-duration-hours", "6")
    page.click("input[name=_continue]")
    page.wait_for_selector("#flow-diagram")
    assert flow.elements.get(key="wait1").config == {"duration": {"hours": 6}}
    assert flow.elements.get(key="tag").config == {"action": "tag_add", "tag": "searched"}
    assert not errors


def test_activation_problems_show_on_their_elements(
    browser, live_server, workspace, catalogue, marketer
):
    """An incomplete draft saves; Activate refuses it, and the wait whose exit leads nowhere
    is marked on the canvas with the reason, as in the page's messages."""
    errors = []
    page = open_add_page(browser, live_server, errors)
    page.fill("#id_name", "Half done")
    add(page, "trigger_segment")
    page.select_option("#cdp-fb-segment", label="VIP")
    add(page, "wait")
    page.click("input[name=_continue]")
    page.wait_for_selector("#flow-diagram")
    flow = Flow.objects.get(name="Half done")
    assert flow.status == Flow.Status.DRAFT

    activate(page)
    page.wait_for_selector("#cdp-flow-builder[data-ready=true]")
    flow.refresh_from_db()
    assert flow.status == Flow.Status.DRAFT
    wait = node(page, "wait1")
    assert "cdp-fb-invalid" in wait.get_attribute("class")
    assert "'next'" in wait.locator(".cdp-fb-node-error").text_content()
    assert "cdp-fb-invalid" not in node(page, "trigger1").get_attribute("class")
    shot(page, "activation-problems")
    assert not errors


def test_a_branch_on_the_trigger_events_property(
    browser, live_server, workspace, catalogue, marketer
):
    """After an event trigger, a branch offers the trigger event's properties with the
    operators of their type; with only such a condition, no empty rule group is saved."""
    errors = []
    page = open_add_page(browser, live_server, errors)
    page.fill("#id_name", "Big groups")
    add(page, "trigger_event")
    page.select_option("#cdp-fb-event", "c_ticket_searched")
    add(page, "branch")
    page.click("#cdp-fb-add-trigger")
    page.select_option("#cdp-fb-trigger-0-field", "track_event_data.seats")
    page.select_option("#cdp-fb-trigger-0-operator", "gt")
    type_in(page, "#cdp-fb-trigger-0-value", "3")
    page.click("input[name=_continue]")
    page.wait_for_selector("#flow-diagram")
    elements, edges = graph(Flow.objects.get(name="Big groups"))
    assert elements["branch1"] == (
        "branch",
        {"trigger": [{"trigger": "track_event_data.seats", "operator": "gt", "value": 3}]},
    )
    assert edges == {("trigger1", "branch1", "next")}
    assert not errors
