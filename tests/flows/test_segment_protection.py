"""Segments a flow uses are protected from deletion (SPEC §4/§8 "an active flow protects the
definitions it uses from deletion", applied to segments): a trigger segment, a branch rule
on segment membership, an "add to segment" action and the exit segment. Deleting one through
the API answers 409 naming the flow; the admin's delete page says why and deletes nothing.
Once the flow is finished the segment may go (unless the flow exits on it: the flow keeps
that one for good)."""

import pytest

from flows.services import flow_activate, flow_create, flow_finish, flow_pause
from people.segments.models import Segment, SegmentMembership
from people.segments.services import segment_create, segment_members_add
from tests.api_helpers import assert_error, workspace_api
from tests.factories import PersonFactory
from tests.flows.conftest import END, chain, spec, start
from tests.people.test_admin import admin_url, login, make_staff, messages_of, page_text

pytestmark = pytest.mark.django_db


def uses(segment_id: int):
    """Flow specs naming the segment in each place a flow can."""
    tag = ("tag", "action", {"action": "tag_add", "tag": "seen"})
    return {
        "trigger": chain(start({"type": "segment_entry", "segment": segment_id}), END, name="Uses"),
        "branch": spec(
            [
                start(),
                (
                    "route",
                    "branch",
                    {"rules": {"all": [{"segment": segment_id, "operator": "member"}]}},
                ),
                tag,
                END,
            ],
            [("start", "route"), ("route", "tag", "yes"), ("route", "end", "no"), ("tag", "end")],
            name="Uses",
        ),
        "segment_add": chain(
            start(),
            ("add", "action", {"action": "segment_add", "segment": segment_id}),
            END,
            name="Uses",
        ),
        "exit": chain(start(), END, name="Uses", exit_segment_id=segment_id),
    }


@pytest.fixture
def api(workspace):
    return workspace_api(workspace).secret


@pytest.mark.parametrize("use", ["trigger", "branch", "segment_add", "exit"])
def test_api_refuses_deleting_a_segment_an_active_or_paused_flow_uses(
    workspace, catalogue, api, use
):
    """409 ``protected`` naming the flow while it is active and while paused; once it is
    finished a segment it only named is deleted, one it exits on stays protected."""
    listed = catalogue["list"]  # static, so "add to segment" may name it
    flow = flow_activate(flow=flow_create(workspace=workspace, spec=uses(listed.pk)[use]))
    url = f"/api/v1/segments/{listed.pk}"
    error = assert_error(api.delete(url), 409, "protected", "segment")
    verb = "exits on it" if use == "exit" else "uses it"
    assert error["message"] == (f"segment 'Imported' cannot be deleted: active flow 'Uses' {verb}")
    flow_pause(flow=flow)
    assert "paused flow 'Uses'" in assert_error(api.delete(url), 409, "protected")["message"]
    flow_finish(flow=flow)
    if use == "exit":
        error = assert_error(api.delete(url), 409, "protected")
        assert "finished flow 'Uses' exits on it" in error["message"]
        return
    assert api.delete(url).status_code == 204
    assert not Segment.objects.filter(pk=listed.pk).exists()


def test_a_draft_naming_a_segment_does_not_protect_it(workspace, catalogue, api):
    """Only flows people can be in protect what they name: a draft's segment is deleted (its
    activation then names the missing segment)."""
    listed = catalogue["list"]
    draft = flow_create(workspace=workspace, spec=uses(listed.pk)["trigger"])
    assert api.delete(f"/api/v1/segments/{listed.pk}").status_code == 204
    response = api.post(f"/api/v1/flows/{draft.pk}/activate")
    assert_error(response, 400, "unknown_segment")


def test_every_use_is_named(workspace, catalogue, api):
    """Two flows and a segment including it: the error names all three."""
    vip = catalogue["vip"]
    segment_create(
        workspace=workspace,
        name="Big VIPs",
        rules={"all": [{"segment": vip.pk, "operator": "member"}]},
    )
    flow_activate(
        flow=flow_create(
            workspace=workspace,
            spec=chain(start({"type": "segment_entry", "segment": vip.pk}), END, name="Welcome"),
        )
    )
    flow_activate(
        flow=flow_create(
            workspace=workspace,
            spec=spec(
                [
                    start(),
                    ("route", "branch", {"rules": {"all": [{"segment": vip.pk}]}}),
                    END,
                    ("end2", "end", {}),
                ],
                [("start", "route"), ("route", "end", "yes"), ("route", "end2", "no")],
                name="Route",
            ),
        )
    )
    error = assert_error(api.delete(f"/api/v1/segments/{vip.pk}"), 409, "protected")
    assert error["message"] == (
        "segment 'VIP' cannot be deleted: segment 'Big VIPs' "
        "includes it; active flow 'Route' uses it; active flow "
        "'Welcome' uses it"
    )


@pytest.fixture
def client(workspace):
    return login(make_staff("mia", workspace))


def test_admin_delete_page_says_which_flow_uses_the_segment(workspace, catalogue, client):
    """The delete page of a segment an active flow uses explains it, offers no confirmation,
    and a POST deletes nothing; an unused segment is deleted with its memberships."""
    listed = catalogue["list"]
    segment_members_add(segment=listed, person_ids=[PersonFactory(workspace=workspace).pk])
    flow_activate(flow=flow_create(workspace=workspace, spec=uses(listed.pk)["segment_add"]))
    url = admin_url("people_segment_delete", listed.pk)
    page = client.get(url)
    assert page.status_code == 200
    assert page.context["title"] == "Cannot delete segment"
    html = page_text(page)
    assert "The segment “Imported” cannot be deleted while it is in use:" in html
    assert "<li>active flow &#x27;Uses&#x27; uses it</li>" in html
    assert "Yes, I’m sure" not in html
    refused = client.post(url, {"post": "yes"})
    assert refused.status_code == 200
    assert Segment.objects.filter(pk=listed.pk).exists()

    vip = catalogue["vip"]
    confirm = client.get(admin_url("people_segment_delete", vip.pk))
    assert "Are you sure" in page_text(confirm)
    done = client.post(admin_url("people_segment_delete", vip.pk), {"post": "yes"}, follow=True)
    assert any("was deleted successfully" in m for m in messages_of(done))
    assert not Segment.objects.filter(pk=vip.pk).exists()
    assert SegmentMembership.objects.filter(segment=listed).count() == 1


def test_admin_bulk_delete_names_the_segments_in_use_and_deletes_none(workspace, catalogue, client):
    """ "Delete selected" with one segment in use and one unused: the page lists the one in
    use with its flow, and confirming deletes neither."""
    listed, vip = catalogue["list"], catalogue["vip"]
    flow_activate(flow=flow_create(workspace=workspace, spec=uses(listed.pk)["exit"]))
    data = {"action": "delete_selected", "_selected_action": [listed.pk, vip.pk]}
    page = client.post(admin_url("people_segment_changelist"), data)
    assert page.status_code == 200
    html = page_text(page)
    assert "The selected segments cannot be deleted while some are in use:" in html
    assert "<li>Imported: active flow &#x27;Uses&#x27; exits on it</li>" in html
    client.post(admin_url("people_segment_changelist"), {**data, "post": "yes"})
    assert Segment.objects.filter(pk__in=[listed.pk, vip.pk]).count() == 2
