"""DM Hub customer events (§6) with the seed's requests and response shapes."""

import pytest

from events.ingestion import events_ingest
from events.inputs import EventInput
from events.models import Event, IngestionLogEntry
from events.services import PropertyInput, definition_create
from people.inputs import PersonRef
from people.services import person_create

pytestmark = pytest.mark.django_db

SEED_POST = {
    "customerId": "123456",
    "event": "c_apply_card",
    "targetId": "golden_card",
    "targetName": "金卡",
    "date": "2017-06-07T03:43:00Z",
    "source": "人民广场",
    "touter": "t00001",
}
SEED_KEYS = {
    "id",
    "customerId",
    "event",
    "targetId",
    "targetName",
    "date",
    "source",
    "score",
    "tag",
    "campaign",
    "campaignName",
    "contentName",
    "externalId",
    "lastUpdated",
    "touter",
}


@pytest.fixture
def setup(workspace):
    definition_create(
        workspace=workspace,
        definition_id="c_apply_card",
        name="Apply for card",
        properties=[PropertyInput("touter", "Field agent")],
    )
    return person_create(workspace=workspace, external_id="123456")


def create(client, key, body):
    return client.post(
        f"/v1/customerevents?access_token={key}", body, content_type="application/json"
    )


def test_seed_post_stores_the_event_and_answers_the_seed_shape(client, secret_key, setup):
    """The seed's POST (custom property touter at the top level) is stored and answered with
    the seed's response fields."""
    response = create(client, secret_key, SEED_POST)
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == SEED_KEYS
    assert body["customerId"] == 123456
    assert body["event"] == "c_apply_card"
    assert body["targetName"] == "金卡"
    assert body["date"] == "2017-06-07T03:43:00Z"
    assert body["touter"] == "t00001"
    assert body["score"] == 0
    assert body["tag"] is None
    assert body["externalId"] is None
    event = Event.objects.get(pk=body["id"])
    assert event.person == setup
    assert event.properties == {"touter": "t00001"}
    assert (event.target_id, event.source) == ("golden_card", "人民广场")


def test_repeat_without_external_id_dedupes_by_date_customer_event(client, secret_key, setup):
    """Without externalId, the same (date, customer, event) is stored once; the repeat answers
    the stored event."""
    first = create(client, secret_key, SEED_POST).json()
    second = create(client, secret_key, {**SEED_POST, "touter": "t00003"}).json()
    assert second["id"] == first["id"]
    assert second["touter"] == "t00001"
    assert Event.objects.count() == 1


def test_external_id_dedupes(client, secret_key, setup):
    """With externalId, a repeat at another date is still the same event."""
    first = create(client, secret_key, {**SEED_POST, "externalId": "ord-1"}).json()
    second = create(
        client, secret_key, {**SEED_POST, "externalId": "ord-1", "date": "2017-06-08T00:00:00Z"}
    ).json()
    assert first["id"] == second["id"]
    assert Event.objects.count() == 1


def test_get_by_id_with_partition(client, secret_key, setup):
    """GET /v1/customerevents/{id} answers the seed shape; a partition of another year is 404."""
    event_id = create(client, secret_key, SEED_POST).json()["id"]
    url = f"/v1/customerevents/{event_id}?access_token={secret_key}"
    assert client.get(url).json()["touter"] == "t00001"
    assert client.get(url + "&partition=2017").status_code == 200
    assert client.get(url + "&partition=2019").status_code == 404


def _seed_history(workspace, person):
    """Events of c_apply_card and c_visit over the years, for the query tests."""
    definition_create(workspace=workspace, definition_id="c_visit", name="Visit")
    events = [
        EventInput(
            "c_apply_card", PersonRef(id=person.pk), f"{y}-03-01T00:00:00Z", {"touter": f"t{y}"}
        )
        for y in (2015, 2016, 2017, 2019, 2020)
    ]
    events += [
        EventInput("c_visit", PersonRef(id=person.pk), f"2020-0{m}-01T00:00:00Z")
        for m in range(1, 6)
    ]
    return events_ingest(workspace=workspace, events=events, origin="api")


def query(client, key, **params):
    params["access_token"] = key
    response = client.get("/v1/customerevents", params)
    assert response.status_code == 200, response.content
    return response.json()


def test_query_parameters(client, secret_key, workspace, setup):
    """customerId, comma-separated event, max (default 20), rows/page, sidx/sord and partition
    behave as the seed documents."""
    _seed_history(workspace, setup)
    default = query(client, secret_key)
    assert len(default) == 7  # the default table: 2018 on
    assert {e["date"][:4] for e in default} == {"2019", "2020"}
    assert [e["touter"] for e in query(client, secret_key, partition="2017")] == ["t2017"]
    assert {e["touter"] for e in query(client, secret_key, partition="2016")} == {"t2015", "t2016"}
    assert len(query(client, secret_key, event="c_visit")) == 5
    assert len(query(client, secret_key, event="c_visit,c_apply_card")) == 7
    assert len(query(client, secret_key, customerId="123456")) == 7
    assert query(client, secret_key, customerId="999") == []
    assert len(query(client, secret_key, max="3")) == 3
    dates = [e["date"] for e in query(client, secret_key, sidx="date", sord="desc")]
    assert dates == sorted(dates, reverse=True)
    page1 = query(client, secret_key, rows="3", page="1", sidx="date")
    page3 = query(client, secret_key, rows="3", page="3", sidx="date")
    assert len(page1) == 3
    assert len(page3) == 1
    assert page1[0]["date"] < page3[0]["date"]


def test_query_errors_name_the_parameter(client, secret_key, setup):
    """max above 1,000, a bad sidx or a malformed lastUpdatedFrom answer 400 naming it."""
    for params, field in (
        ({"max": "1001"}, "max"),
        ({"sidx": "nope"}, "sidx"),
        ({"lastUpdatedFrom": "yesterday"}, "lastUpdatedFrom"),
        ({"partition": "x"}, "partition"),
        ({"partition": "²⁰¹⁷"}, "partition"),
        ({"max": "¹"}, "max"),
        ({"page": "9" * 30}, "page"),
        ({"page": str(10**18)}, "page"),
    ):
        response = client.get("/v1/customerevents", {"access_token": secret_key, **params})
        assert response.status_code == 400
        assert response.json()["error"]["field"] == field


def test_last_updated_range(client, secret_key, setup):
    """lastUpdatedFrom/To filter on the time the platform received the event."""
    create(client, secret_key, {**SEED_POST, "date": "2019-01-01T00:00:00Z"})
    assert len(query(client, secret_key, lastUpdatedFrom="2000-01-01T00:00:00Z")) == 1
    assert query(client, secret_key, lastUpdatedTo="2000-01-01T00:00:00Z") == []


def test_malformed_and_unknown_customer_are_refused(client, secret_key, setup):
    """A missing event, an unknown customer, or a wrong token are clear errors, and the
    rejected input is kept in the ingestion log."""
    response = create(client, secret_key, {k: v for k, v in SEED_POST.items() if k != "event"})
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "event"
    response = create(client, secret_key, {**SEED_POST, "customerId": "nobody"})
    assert response.status_code == 404
    assert response.json()["error"]["field"] == "customerId"
    assert create(client, "wrong", SEED_POST).status_code == 401
    assert IngestionLogEntry.objects.count() == 2
    assert not Event.objects.exists()


def test_public_key_may_neither_send_nor_read(client, public_key, secret_key, setup):
    """A public key is refused on every DM Hub route (403 secret_key_required): sending an
    event would tell it whether the customer exists (SPEC §2)."""
    assert create(client, public_key, SEED_POST).status_code == 403
    response = client.get("/v1/customerevents", {"access_token": public_key})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "secret_key_required"
    assert not Event.objects.exists()


# max default, sidx=lastUpdated, sord default and lastUpdated bounds --------------------------


def _many(workspace, person, n: int):
    """``n`` c_apply_card events in 2020, one a day, received one minute apart in the reverse
    order of their dates (so date order and lastUpdated order differ)."""
    from datetime import UTC, datetime, timedelta

    events = [
        EventInput(
            "c_apply_card",
            PersonRef(id=person.pk),
            f"2020-01-{day:02d}T00:00:00Z",
            {"touter": f"t{day}"},
            external_id=f"x-{day}",
        )
        for day in range(1, n + 1)
    ]
    events_ingest(workspace=workspace, events=events, origin="api")
    base = datetime(2024, 6, 1, tzinfo=UTC)
    for event in Event.objects.filter(workspace=workspace):
        day = int(event.external_id.split("-")[1])
        Event.objects.filter(pk=event.pk).update(received_at=base + timedelta(minutes=n - day))
    return base


def test_max_defaults_to_20_with_more_stored(client, secret_key, workspace, setup):
    """With 25 matching events and no max, rows or page, the answer holds 20, in id order
    (sidx id, sord asc by default); max=25 returns them all."""
    _many(workspace, setup, 25)
    default = query(client, secret_key)
    assert len(default) == 20
    ids = [e["id"] for e in default]
    assert ids == sorted(ids)
    assert ids == list(Event.objects.order_by("id").values_list("id", flat=True)[:20])
    assert len(query(client, secret_key, max="25")) == 25
    assert len(query(client, secret_key, page="2")) == 5


def test_sidx_last_updated_as_in_the_seed_with_default_sord(client, secret_key, workspace, setup):
    """The seed's own example sidx=lastUpdated sorts by the time the event reached the
    platform; without sord the order is ascending, sord=desc reverses it."""
    _many(workspace, setup, 5)
    ascending = query(client, secret_key, sidx="lastUpdated")
    stamps = [e["lastUpdated"] for e in ascending]
    assert stamps == sorted(stamps)
    assert len(set(stamps)) == 5
    # received in the reverse order of their dates: the oldest date was updated last
    assert [e["touter"] for e in ascending] == ["t5", "t4", "t3", "t2", "t1"]
    descending = query(client, secret_key, sidx="lastUpdated", sord="desc")
    assert [e["id"] for e in descending] == [e["id"] for e in reversed(ascending)]
    assert [e["id"] for e in query(client, secret_key, sidx="lastUpdated", sord="asc")] == [
        e["id"] for e in ascending
    ]


def test_last_updated_bounds_exclude_events_outside_them(client, secret_key, workspace, setup):
    """lastUpdatedFrom and lastUpdatedTo are inclusive bounds: events received before
    the one or after the other are left out."""
    _many(workspace, setup, 5)  # received 2024-06-01T00:00Z (t5) … 00:04Z (t1)
    inside = query(
        client,
        secret_key,
        lastUpdatedFrom="2024-06-01T00:01:00Z",
        lastUpdatedTo="2024-06-01T00:03:00Z",
        sidx="lastUpdated",
    )
    assert [e["touter"] for e in inside] == ["t4", "t3", "t2"]
    after = query(client, secret_key, lastUpdatedFrom="2024-06-01T00:03:30Z")
    assert {e["touter"] for e in after} == {"t1"}
    before = query(client, secret_key, lastUpdatedTo="2024-06-01T00:00:59Z")
    assert {e["touter"] for e in before} == {"t5"}
    assert query(client, secret_key, lastUpdatedFrom="2024-06-02T00:00:00Z") == []


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("customerId", "12\u00003456"),
        ("targetName", "gold\u0000card"),
        ("touter", "t\u00001"),
        ("externalId", "x\u0000"),
    ],
)
def test_nul_characters_are_a_field_error_not_a_server_error(
    client, secret_key, setup, field, value
):
    """PostgreSQL cannot store NUL characters: a value holding one is refused with a JSON 400
    naming the field, and nothing is stored."""
    response = create(client, secret_key, {**SEED_POST, field: value})
    assert response.status_code == 400, response.content
    assert response.json()["error"]["field"] == field
    assert not Event.objects.exists()


@pytest.mark.parametrize("customer_id", ["0¹", "²", "9" * 30, 10**30])
def test_customer_ids_that_are_not_plain_numbers_are_external_ids(
    client, secret_key, setup, customer_id
):
    """Digits that are not ASCII (which ``int`` refuses) or beyond the id range name an
    external id: nobody has it, so 404 person_not_found, not a server error; on query, no
    events."""
    response = create(client, secret_key, {**SEED_POST, "customerId": customer_id})
    assert response.status_code == 404, response.content
    assert response.json()["error"]["code"] == "person_not_found"
    assert query(client, secret_key, customerId=str(customer_id)) == []


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("event", ["c_apply_card"]),
        ("event", {"code": "c_apply_card"}),
        ("event", True),
        ("event", 7),
        ("customerId", ["123456"]),
        ("customerId", {"id": "123456"}),
        ("customerId", True),
        ("date", ["2017-06-07T03:43:00Z"]),
        ("date", {"at": "2017-06-07T03:43:00Z"}),
        ("targetId", ["golden_card"]),
        ("targetName", {"zh": "金卡"}),
        ("source", True),
        ("contentName", ["x"]),
        ("score", "5"),
        ("score", 1.5),
        ("tag", ["vip", "gold"]),
        ("campaign", {"code": "c1"}),
        ("campaignName", ["x"]),
        ("summary", {"a": 1}),
        ("externalId", ["ord-1"]),
        ("touter", ["t00001"]),
    ],
)
def test_a_field_of_the_wrong_json_type_answers_400_naming_it(
    client, secret_key, setup, field, value
):
    """The seed's POST with one field of another JSON type (``event`` a list or an object,
    ``customerId`` a list…) answers 400 in the endpoint's error shape naming that field (a
    custom property as ``properties.<key>``), keeps the body in the ingestion log and stores
    nothing."""
    response = create(client, secret_key, {**SEED_POST, field: value})
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "invalid_type"
    assert error["field"] == ("properties.touter" if field == "touter" else field)
    assert not Event.objects.exists()
    assert IngestionLogEntry.objects.count() == 1
    assert query(client, secret_key, partition="2017") == []


def _person_score(app_client, person) -> int:
    response = app_client.get(f"/api/v1/people/{person.pk}")
    assert response.status_code == 200, response.content
    return response.json()["score"]


def test_score_answers_the_points_the_event_added(client, app_client, secret_key, workspace):
    """The seed's POST of an event whose definition adds 5 points answers ``score`` 5, the
    points the customer gained (read back on the person); a repeat that is not stored again
    answers 0 and adds nothing; reading the event back answers the 5 it added."""
    definition_create(
        workspace=workspace,
        definition_id="c_apply_card",
        name="Apply for card",
        default_score=5,
        properties=[PropertyInput("touter", "Field agent")],
    )
    person = person_create(workspace=workspace, external_id="123456")
    first = create(client, secret_key, SEED_POST)
    assert first.status_code == 200, first.content
    assert first.json()["score"] == 5
    assert _person_score(app_client, person) == 5
    repeat = create(client, secret_key, SEED_POST).json()
    assert repeat["id"] == first.json()["id"]
    assert repeat["score"] == 0
    assert _person_score(app_client, person) == 5
    url = f"/v1/customerevents/{repeat['id']}?access_token={secret_key}&partition=2017"
    assert client.get(url).json()["score"] == 5
    assert query(client, secret_key, partition="2017")[0]["score"] == 5


def test_score_sent_with_the_event_is_the_points_added(client, app_client, secret_key, workspace):
    """An event carrying its own ``score`` adds that instead of the definition's: answered
    and read back on the person."""
    definition_create(
        workspace=workspace,
        definition_id="c_apply_card",
        name="Apply for card",
        default_score=5,
        properties=[PropertyInput("touter", "Field agent")],
    )
    person = person_create(workspace=workspace, external_id="123456")
    response = create(client, secret_key, {**SEED_POST, "score": 3})
    assert response.json()["score"] == 3
    assert _person_score(app_client, person) == 3
