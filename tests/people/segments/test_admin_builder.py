"""The JSON endpoints behind the segment builder and "Refresh now", through real admin
requests: the catalogue is the workspace's own, the preview count is the service's and bad
rules are a 400 naming the node, a refresh is queued and its state reported, and nobody
outside the workspace (or without a staff session) gets anything."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission, User
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from events.ingestion import events_ingest
from events.models import EventDefinition
from events.services import definition_set_enabled
from people.segments.models import Segment
from people.segments.refresh import PROGRESS_KEY, segment_refresh
from people.segments.services import segment_create, segment_preview
from people.services import attribute_definition_create
from tests.factories import DefinitionFactory, PersonFactory, event, props
from tests.people.test_admin import admin_url, changelist_rows, login, make_staff, page_text

pytestmark = pytest.mark.django_db
GERMANS = {"all": [{"attribute": "country", "operator": "equals", "value": "DE"}]}


def segment_editor(workspace) -> User:
    """A staff member of ``workspace`` with the segment permissions given directly (a
    transactional test may run after a flush that removed the migrated groups)."""
    user = User.objects.create_user(username="sam", password="pw", is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="people",
            codename__in=["view_segment", "add_segment", "change_segment"],
        )
    )
    workspace.members.add(user)
    return user


@pytest.fixture
def marketer_client(workspace):
    return login(make_staff("mia", workspace))


@pytest.fixture
def superuser_client(db):
    return login(
        User.objects.create_superuser(username="root", password="pw", email="root@example.com")
    )


def catalogue(client, **query):
    response = client.get(admin_url("people_segment_builder_catalogue"), query)
    return response.status_code, response.json()


def preview(client, rules, **query):
    url = admin_url("people_segment_builder_preview")
    if query:
        url += "?" + "&".join(f"{k}={v}" for k, v in query.items())
    response = client.post(url, {"rules": rules}, content_type="application/json")
    return response.status_code, response.json()


# Catalogue ---------------------------------------------------------------------------------


def test_catalogue_holds_the_workspace_only(workspace, other_workspace, marketer_client):
    """Definitions (built-in and own, with property types), custom attributes, other segments,
    tags and templates of the marketer's workspace; another workspace's never appear, and the
    segment being edited is not offered to itself."""
    DefinitionFactory(
        workspace=workspace,
        definition_id="c_purchase",
        name="Purchase",
        properties=props(amount="number", sku="text", paid="boolean", at="datetime"),
    )
    DefinitionFactory(
        workspace=other_workspace, definition_id="c_secret", properties=props(code="text")
    )
    attribute_definition_create(workspace=workspace, key="plan", name="Plan", type="text")
    attribute_definition_create(workspace=other_workspace, key="secret", name="S", type="text")
    PersonFactory(workspace=workspace, tags=["vip"])
    PersonFactory(workspace=other_workspace, tags=["hidden"])
    mine = segment_create(workspace=workspace, name="Germans", rules=GERMANS)
    segment_create(workspace=workspace, name="Listed", kind=Segment.Kind.STATIC)
    segment_create(workspace=other_workspace, name="Theirs", rules=GERMANS)

    status, body = catalogue(marketer_client)
    assert status == 200
    assert body["workspace"] == {"id": workspace.pk, "name": "Acme"}
    codes = {d["id"]: d for d in body["definitions"]}
    assert "c_secret" not in codes
    assert "pageView" in codes
    assert codes["pageView"]["enabled"] is False
    assert {p["key"]: p["type"] for p in codes["c_purchase"]["properties"]} == {
        "amount": "number",
        "sku": "text",
        "paid": "boolean",
        "at": "opaque",
    }
    assert body["customAttributes"] == [{"key": "plan", "label": "Plan", "type": "text"}]
    assert [s["name"] for s in body["segments"]] == ["Germans", "Listed"]
    assert body["tags"] == ["vip"]
    assert {"value": "equals", "label": "is"} in body["operators"]["text"]
    assert [o["value"] for o in body["operators"]["opaque"]] == ["is_set", "is_not_set"]
    assert {"key": "country", "label": "country", "type": "text"} in body["fields"]
    assert {"key": "birthDate", "label": "birth date", "type": "date"} in body["fields"]
    assert body["countOperators"] == ["=", ">=", "<=", ">", "<"]
    assert "mortgage-interest" in {t["key"] for t in body["templates"]}

    status, body = catalogue(marketer_client, segment=mine.pk)
    assert status == 200
    assert [s["name"] for s in body["segments"]] == ["Listed"]


def test_catalogue_of_the_workspace_a_superuser_chooses(
    workspace, other_workspace, superuser_client, marketer_client
):
    """With several workspaces the add form names one; a marketer cannot name another's."""
    DefinitionFactory(workspace=other_workspace, definition_id="c_secret")
    status, body = catalogue(superuser_client)
    assert (status, body["error"]["field"]) == (400, "workspace")
    status, body = catalogue(superuser_client, workspace=other_workspace.pk)
    assert status == 200
    assert "c_secret" in {d["id"] for d in body["definitions"]}
    assert catalogue(marketer_client, workspace=other_workspace.pk)[0] == 404
    assert catalogue(marketer_client, workspace="x")[0] == 404


# Preview -----------------------------------------------------------------------------------


@pytest.fixture
def mortgage_visitors(workspace):
    """Three Germans and a Frenchman; two of the Germans viewed /mortgage twice this month."""
    definition_set_enabled(
        workspace=workspace,
        enabled=True,
        definition=EventDefinition.objects.get(workspace=None, definition_id="pageView"),
    )
    now = timezone.now()
    people = [
        PersonFactory(workspace=workspace, standard={"country": c})
        for c in ("DE", "DE", "DE", "FR")
    ]
    views = {
        0: ["/mortgage", "/mortgage"],
        1: ["/mortgage", "/mortgage", "/home"],
        2: ["/mortgage"],
        3: ["/mortgage", "/mortgage"],
    }
    items = [
        event(
            "pageView",
            people[i],
            occurred_at=now - timedelta(days=k + 1),
            properties={"path": path},
        )
        for i, paths in views.items()
        for k, path in enumerate(paths)
    ]
    assert events_ingest(workspace=workspace, events=items, origin="api").rejected == 0
    return people


MORTGAGE_IN_GERMANY = {
    "all": [
        {
            "event": "pageView",
            "occurred": True,
            "count": {"operator": ">=", "value": 2},
            "window": {"lastDays": 30},
            "where": [{"property": "path", "operator": "equals", "value": "/mortgage"}],
        },
        {"attribute": "country", "operator": "equals", "value": "DE"},
    ]
}


def test_preview_counts_what_the_service_counts(workspace, marketer_client, mortgage_visitors):
    """The count is ``segment_preview``'s, for a new segment and for the one being edited."""
    status, body = preview(marketer_client, MORTGAGE_IN_GERMANY)
    assert status == 200
    assert body == {"count": 2}
    assert segment_preview(workspace=workspace, rules=MORTGAGE_IN_GERMANY) == 2
    segment = segment_create(workspace=workspace, name="Germans", rules=GERMANS)
    assert preview(marketer_client, GERMANS, segment=segment.pk) == (200, {"count": 3})


def test_bad_rules_are_a_400_naming_the_condition(
    workspace, other_workspace, marketer_client, mortgage_visitors
):
    """Rule errors carry the node's path and the service's message; never a 500."""
    rules = {"all": [GERMANS["all"][0], {"event": "pageVeiw"}]}
    status, body = preview(marketer_client, rules)
    assert status == 400
    assert body["error"]["field"] == "rules.all[1].event"
    assert body["error"]["message"].startswith("there is no event 'pageVeiw'")
    assert body["error"]["code"] == "unknown_definition"

    wrong_operator = {
        "any": [{"all": [{"attribute": "score", "operator": "contains", "value": "x"}]}]
    }
    status, body = preview(marketer_client, wrong_operator)
    assert (status, body["error"]["field"]) == (400, "rules.any[0].all[0].operator")

    theirs = segment_create(workspace=other_workspace, name="Theirs", rules=GERMANS)
    status, body = preview(marketer_client, {"all": [{"segment": theirs.pk}]})
    assert (status, body["error"]["field"]) == (400, "rules.all[0].segment")

    status, body = preview(
        marketer_client, {"all": [{"attribute": "score", "operator": "gt", "value": 10**30}]}
    )
    assert status in (200, 400)  # PostgreSQL compares as numeric; SQLite refuses the integer
    assert ("count" in body) == (status == 200)
    status, body = preview(
        marketer_client, {"all": [{"attribute": "city", "operator": "equals", "value": "a\u0000b"}]}
    )
    assert status in (200, 400)  # PostgreSQL refuses NUL in text; SQLite compares it
    assert ("count" in body) == (status == 200)
    assert marketer_client.get(admin_url("people_segment_add")).status_code == 200  # usable

    url = admin_url("people_segment_builder_preview")
    response = marketer_client.post(url, "{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["message"] == 'send a JSON object {"rules": …}'
    response = marketer_client.post(
        url, '{"rules": ' + "[" * 100_000, content_type="application/json"
    )
    assert response.status_code == 400
    status, body = preview(marketer_client, None)
    assert (status, body["error"]["field"]) == (400, "rules")
    assert marketer_client.get(url).status_code == 405


def test_preview_of_an_edited_segment_rejects_a_cycle(workspace, marketer_client):
    """Editing A to include B, which includes A, is refused as the save would refuse it."""
    first = segment_create(workspace=workspace, name="A", rules=GERMANS)
    segment_create(workspace=workspace, name="B", rules={"all": [{"segment": first.pk}]})
    second = Segment.objects.get(name="B")
    status, body = preview(marketer_client, {"all": [{"segment": second.pk}]}, segment=first.pk)
    assert status == 400
    assert body["error"]["code"] == "segment_cycle"
    assert body["error"]["field"] == "rules.all[0].segment"


def test_preview_needs_the_csrf_token(workspace):
    """The preview is a POST of the admin session, protected against cross-site requests."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(make_staff("mia", workspace))
    response = client.post(
        admin_url("people_segment_builder_preview"),
        {"rules": GERMANS},
        content_type="application/json",
    )
    assert response.status_code == 403
    client.get(admin_url("people_segment_add"))  # sets the CSRF cookie, as the page does
    token = client.cookies["csrftoken"].value
    response = client.post(
        admin_url("people_segment_builder_preview"),
        {"rules": GERMANS},
        content_type="application/json",
        headers={"X-CSRFToken": token},
    )
    assert response.status_code == 200


# Refresh -----------------------------------------------------------------------------------


def test_refresh_queues_and_the_status_follows_it(
    workspace, marketer_client, django_capture_on_commit_callbacks
):
    """The POST queues the refresh (202, queued) for after commit; once the task has run the
    state is idle with the new member count."""
    PersonFactory(workspace=workspace, standard={"country": "DE"})
    PersonFactory(workspace=workspace, standard={"country": "DE"})
    segment = segment_create(workspace=workspace, name="Germans", rules=GERMANS)
    refresh = admin_url("people_segment_refresh", segment.pk)
    status = admin_url("people_segment_refresh_status", segment.pk)

    with django_capture_on_commit_callbacks(execute=True):  # the task runs at "commit"
        response = marketer_client.post(refresh)
        assert response.status_code == 202
        assert response.json()["status"] == "queued"
        assert marketer_client.get(status).json()["status"] == "queued"
    state = marketer_client.get(status).json()
    assert (state["status"], state["progress"], state["memberCount"]) == ("idle", 100, 2)
    assert state["lastRefreshedTime"]
    assert marketer_client.get(refresh).status_code == 405


@pytest.mark.django_db(transaction=True)
def test_in_process_refresh_is_done_or_failed_when_the_post_answers(workspace):
    """Without a broker the task runs inside the POST (autocommit): the answer is the final
    state; rules that stopped validating fail the refresh and the answer carries the error
    instead of a server error."""
    client = login(segment_editor(workspace))
    PersonFactory(workspace=workspace, standard={"country": "DE"})
    segment = segment_create(workspace=workspace, name="Germans", rules=GERMANS)
    refresh = admin_url("people_segment_refresh", segment.pk)
    response = client.post(refresh)
    state = response.json()
    assert (response.status_code, state["status"], state["memberCount"]) == (202, "idle", 1)

    Segment.objects.filter(pk=segment.pk).update(rules={"all": [{"event": "c_gone"}]})
    response = client.post(refresh)
    state = response.json()
    assert (response.status_code, state["status"]) == (202, "failed")
    assert "there is no event 'c_gone'" in state["error"]
    assert client.get(admin_url("people_segment_refresh_status", segment.pk)).json() == state


def test_status_reports_a_running_refresh_and_the_list_draws_it(workspace, marketer_client):
    """While a refresh runs its progress comes from where the refresh reports it."""
    segment = segment_create(workspace=workspace, name="Germans", rules=GERMANS)
    Segment.objects.filter(pk=segment.pk).update(refresh_status="running")
    cache.set(PROGRESS_KEY.format(segment.pk), 45)
    try:
        state = marketer_client.get(admin_url("people_segment_refresh_status", segment.pk)).json()
        listing = marketer_client.get(admin_url("people_segment_changelist"))
    finally:
        cache.delete(PROGRESS_KEY.format(segment.pk))
    assert (state["status"], state["progress"]) == ("running", 45)
    assert '<progress class="cdp-progress" max="100" value="45"></progress>' in page_text(listing)


def test_static_segments_are_not_refreshed(workspace, marketer_client):
    segment = segment_create(workspace=workspace, name="Listed", kind=Segment.Kind.STATIC)
    response = marketer_client.post(admin_url("people_segment_refresh", segment.pk))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "segment_kind"


# Who may call them -------------------------------------------------------------------------


def test_endpoints_refuse_outsiders(workspace, other_workspace):
    """No staff session: 403; staff of another workspace: 404 for this workspace's segment;
    staff without segment permissions: 403."""
    segment = segment_create(workspace=workspace, name="Germans", rules=GERMANS)
    urls = {
        "catalogue": admin_url("people_segment_builder_catalogue"),
        "preview": admin_url("people_segment_builder_preview"),
        "refresh": admin_url("people_segment_refresh", segment.pk),
        "status": admin_url("people_segment_refresh_status", segment.pk),
        "csv": admin_url("people_segment_members_csv", segment.pk),
    }
    post = {"preview", "refresh"}

    def call(client, name, query=""):
        method = client.post if name in post else client.get
        return method(urls[name] + query, content_type="application/json")

    anonymous = Client()
    customer = User.objects.create_user(username="cus", password="pw")  # not staff
    for client in (anonymous, login(customer)):
        for name in urls:
            response = call(client, name)
            assert response.status_code == 403, name
            assert response.json()["error"]["code"] == "forbidden"

    outsider = login(make_staff("olga", other_workspace))
    for name in ("refresh", "status", "csv"):
        assert call(outsider, name).status_code == 404, name
    assert call(outsider, "catalogue", f"?segment={segment.pk}").status_code == 404
    assert call(outsider, "preview", f"?segment={segment.pk}").status_code == 404
    assert call(outsider, "catalogue", f"?workspace={workspace.pk}").status_code == 404

    developer = login(make_staff("dev", workspace, group="Developer"))
    assert call(developer, "catalogue").status_code == 403
    assert call(developer, "preview").status_code == 403
    assert call(developer, "status").status_code == 403


# The pages --------------------------------------------------------------------------------


def test_change_page_wires_the_builder_refresh_and_members(workspace, marketer_client):
    """The rules field stays in the form for the builder; the page links all members (the
    people list filtered to the segment) and the CSV of them."""
    ann = PersonFactory(workspace=workspace, external_id="ann", standard={"country": "DE"})
    segment = segment_create(workspace=workspace, name="Germans", rules=GERMANS)
    segment_refresh(segment=segment)
    page = marketer_client.get(admin_url("people_segment_change", segment.pk))
    text = page_text(page)
    assert 'name="rules"' in text
    assert "cdp/admin/segment_builder.js" in text
    assert "cdp-segment-builder-config" in text
    assert page.context["builder_config"]["segmentId"] == segment.pk
    assert 'id="cdp-refresh-button"' in text
    members = admin_url("people_person_changelist") + f"?segment={segment.pk}"
    assert f'href="{members}"' in text
    listing = marketer_client.get(members)
    assert [p.pk for p in changelist_rows(listing)] == [ann.pk]
    csv = marketer_client.get(admin_url("people_segment_members_csv", segment.pk))
    lines = b"".join(csv.streaming_content).decode().splitlines()
    assert [line.split(",")[:3] for line in lines[1:]] == [["Germans", str(ann.pk), "ann"]]


def test_static_segment_page_has_no_builder(workspace, marketer_client):
    segment = segment_create(workspace=workspace, name="Listed", kind=Segment.Kind.STATIC)
    text = page_text(marketer_client.get(admin_url("people_segment_change", segment.pk)))
    assert 'name="rules"' not in text
    assert "cdp-refresh-button" not in text
