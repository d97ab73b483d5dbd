"""The segments API through the HTTP client: CRUD, preview, members, membership with the
explanation, refresh, static members, templates; secret keys only; workspaces isolated."""

from datetime import timedelta

import pytest
from django.utils import timezone

from events.ingestion import events_ingest
from people.segments.api import SegmentOutSerializer
from people.segments.services import segment_create
from tests.api_helpers import assert_described, assert_error, workspace_api
from tests.factories import DefinitionFactory, PersonFactory, event

pytestmark = pytest.mark.django_db
RULES = {
    "all": [
        {"event": "c_visit", "count": {"operator": ">=", "value": 2}, "window": {"lastDays": 30}}
    ]
}


@pytest.fixture
def api(workspace):
    return workspace_api(workspace)


@pytest.fixture
def visitors(workspace):
    """Ann visited 3 times, Bob once, Cid never."""
    DefinitionFactory(workspace=workspace, definition_id="c_visit")
    ann, bob, cid = (
        PersonFactory(workspace=workspace, external_id=n) for n in ("ann", "bob", "cid")
    )
    now = timezone.now()
    events_ingest(
        workspace=workspace,
        origin="api",
        events=[
            event("c_visit", p, occurred_at=now - timedelta(hours=h))
            for p, h in ((ann, 1), (ann, 2), (ann, 3), (bob, 1))
        ],
    )
    return ann, bob, cid


def create(api, capture, **body):
    with capture(execute=True):
        return api.secret.post("/api/v1/segments", {"name": "Regulars", **body})


def test_segments_are_answered_as_described(api, visitors, django_capture_on_commit_callbacks):
    """A segment (queued, refreshed; dynamic and static) has the keys and value types the
    schema's serializer documents."""
    created = create(api, django_capture_on_commit_callbacks, rules=RULES).json()
    assert_described(SegmentOutSerializer, created)
    with django_capture_on_commit_callbacks(execute=True):
        api.secret.post("/api/v1/segments", {"name": "Picked", "kind": "static"})
    for segment in api.secret.get("/api/v1/segments").json():
        assert_described(SegmentOutSerializer, segment)
    assert_described(
        SegmentOutSerializer, api.secret.get(f"/api/v1/segments/{created['id']}").json()
    )


def test_crud_preview_members_and_explanation(api, visitors, django_capture_on_commit_callbacks):
    """A created segment is refreshed after commit; members are listed with pages; one
    person's membership comes with each condition's figure; rules can be changed and the
    segment deleted."""
    ann, bob, _ = visitors
    capture = django_capture_on_commit_callbacks
    preview = api.secret.post("/api/v1/segments/preview", {"rules": RULES})
    assert preview.json() == {"count": 1}

    response = create(api, capture, rules=RULES, description="came back")
    assert response.status_code == 201, response.content
    segment = response.json()
    assert (segment["kind"], segment["rules"], segment["refreshStatus"]) == (
        "dynamic",
        RULES,
        "queued",
    )
    detail = api.secret.get(f"/api/v1/segments/{segment['id']}").json()
    assert (detail["memberCount"], detail["refreshStatus"]) == (1, "idle")
    assert [s["id"] for s in api.secret.get("/api/v1/segments").json()] == [segment["id"]]

    members = api.secret.get(f"/api/v1/segments/{segment['id']}/members?limit=10").json()
    assert members["count"] == 1
    assert [(m["personId"], m["externalId"]) for m in members["results"]] == [(ann.pk, "ann")]

    check = api.secret.get(f"/api/v1/segments/{segment['id']}/members/{bob.pk}").json()
    assert (check["member"], check["qualifies"], check["enteredTime"]) == (False, False, None)
    leaf = check["explanation"]["conditions"][0]
    assert leaf == {
        "path": "rules.all[0]",
        "met": False,
        "countsForMembership": False,
        "conditions": [],
        "figure": "1 c_visit in the last 30 days; needs >= 2",
    }
    check = api.secret.get(f"/api/v1/segments/{segment['id']}/members/{ann.pk}").json()
    assert (check["member"], check["qualifies"]) == (True, True)
    assert check["explanation"]["figure"] == "1 of 1 met; needs all"

    looser = {"all": [{"event": "c_visit"}]}
    with capture(execute=True):
        patched = api.secret.patch(f"/api/v1/segments/{segment['id']}", {"rules": looser})
    assert patched.status_code == 200, patched.content
    assert api.secret.get(f"/api/v1/segments/{segment['id']}").json()["memberCount"] == 2

    with capture(execute=True):
        refreshed = api.secret.post(f"/api/v1/segments/{segment['id']}/refresh")
    assert refreshed.status_code == 202
    assert api.secret.delete(f"/api/v1/segments/{segment['id']}").status_code == 204
    assert_error(api.secret.get(f"/api/v1/segments/{segment['id']}"), 404)


def test_bad_rules_answer_400_naming_the_node(api, visitors, django_capture_on_commit_callbacks):
    """Validation errors come back in the native shape with the node's path as field."""
    bad = {
        "all": [
            {
                "event": "c_visit",
                "where": [{"property": "page", "operator": "equals", "value": "/"}],
            }
        ]
    }
    error = assert_error(
        create(api, django_capture_on_commit_callbacks, rules=bad),
        400,
        "unknown_property",
        "rules.all[0].where[0].property",
    )
    assert "c_visit has no property 'page'" in error["message"]
    assert_error(
        api.secret.post("/api/v1/segments/preview", {"rules": {"all": "x"}}),
        400,
        "invalid_rule",
        "rules.all",
    )
    create(api, django_capture_on_commit_callbacks, rules=RULES)
    assert_error(
        create(api, django_capture_on_commit_callbacks, rules=RULES), 400, "duplicate", "name"
    )


def test_static_segment_members_by_id_and_csv(
    api, workspace, visitors, django_capture_on_commit_callbacks
):
    """A static segment takes people by id or from a CSV of identifiers, and lets them go."""
    ann, bob, cid = visitors
    from people.services import identifier_add

    identifier_add(person=cid, type="email", value="cid@example.com")
    segment = create(api, django_capture_on_commit_callbacks, kind="static").json()
    url = f"/api/v1/segments/{segment['id']}/members"
    assert api.secret.post(url, {"personIds": [ann.pk]}).json() == {
        "count": 1,
        "unmatched": 0,
        "invalid": [],
    }
    body = {"csv": "external_id,email\nbob,\n,CID@example.com\nnobody,\nzed,not-an-email\n"}
    assert api.secret.post(url, body).json() == {
        "count": 2,
        "unmatched": 2,
        "invalid": [
            {"field": "line 5.email", "code": "invalid", "message": "is not an email address"}
        ],
    }
    assert api.secret.get(url).json()["count"] == 3
    assert api.secret.delete(url, {"personIds": [bob.pk]}).json() == {"count": 1}
    assert api.secret.get(f"/api/v1/segments/{segment['id']}").json()["memberCount"] == 2
    dynamic = create(api, django_capture_on_commit_callbacks, name="D", rules=RULES).json()
    assert_error(
        api.secret.post(f"/api/v1/segments/{dynamic['id']}/members", {"personIds": [ann.pk]}),
        400,
        "segment_kind",
    )


def test_member_csv_with_stray_carriage_returns_and_nul_characters(
    api, visitors, django_capture_on_commit_callbacks
):
    """Line ends are the csv module's own (CR, LF or CRLF, a lone CR inside a line too); a
    CSV with a NUL character is refused naming the field; a value over the csv module's
    limit is refused naming its line. Never a server error."""
    segment = create(api, django_capture_on_commit_callbacks, kind="static").json()
    url = f"/api/v1/segments/{segment['id']}/members"
    crlf = api.secret.post(url, {"csv": "external_id\r\nann\rbob\r\n\u00e4\u00f4\r\u0081"})
    assert crlf.json() == {"count": 2, "unmatched": 2, "invalid": []}
    assert_error(api.secret.post(url, {"csv": "external_id\nx\u0000y\ncid\n"}), 400, field="csv")
    huge = api.secret.post(url, {"csv": "external_id\nann\n" + "x" * 200_000 + "\n"})
    error = assert_error(huge, 400, code="invalid", field="file")
    assert error["message"].startswith("is not readable as CSV at line 3: field larger")


def test_templates_are_offered(api):
    """The seed examples are listed as starting points."""
    templates = api.secret.get("/api/v1/segments/templates").json()
    assert "Visited the mortgage page 5 times in 30 days" in [t["name"] for t in templates]
    assert all(t["rules"] for t in templates)


def test_public_keys_and_other_workspaces_are_refused(
    api, workspace, other_workspace, visitors, django_capture_on_commit_callbacks
):
    """Public keys cannot use the API; another workspace's key sees none of the segments,
    members or people."""
    ann = visitors[0]
    segment = create(api, django_capture_on_commit_callbacks, rules=RULES).json()
    assert_error(api.public.get("/api/v1/segments"), 403)
    other = workspace_api(other_workspace)
    assert other.secret.get("/api/v1/segments").json() == []
    for path in (
        f"/api/v1/segments/{segment['id']}",
        f"/api/v1/segments/{segment['id']}/members",
        f"/api/v1/segments/{segment['id']}/members/{ann.pk}",
    ):
        assert_error(other.secret.get(path), 404)
    assert_error(other.secret.post(f"/api/v1/segments/{segment['id']}/refresh"), 404)
    assert other.secret.post(
        "/api/v1/segments/preview",
        {"rules": {"all": [{"attribute": "externalId", "operator": "is_set"}]}},
    ).json() == {"count": 0}
    theirs = create(other, django_capture_on_commit_callbacks, kind="static").json()
    added = other.secret.post(f"/api/v1/segments/{theirs['id']}/members", {"personIds": [ann.pk]})
    assert added.json() == {"count": 0, "unmatched": 0, "invalid": []}


def test_explanation_says_what_counts_for_membership_inside_none(api, workspace):
    """Inside "none of", the met condition is what keeps the person out
    (countsForMembership false) and the unmet one counts for them."""
    ann = PersonFactory(workspace=workspace, tags=["vip"])
    segment = segment_create(
        workspace=workspace,
        name="Not vip, not press",
        rules={"all": [{"none": [{"tag": "vip"}, {"tag": "press"}]}]},
    )
    check = api.secret.get(f"/api/v1/segments/{segment.pk}/members/{ann.pk}").json()
    [group] = check["explanation"]["conditions"]
    assert (group["met"], group["countsForMembership"]) == (False, False)
    assert [(c["met"], c["countsForMembership"]) for c in group["conditions"]] == [
        (True, False),
        (False, True),
    ]
