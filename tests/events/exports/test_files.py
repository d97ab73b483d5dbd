"""Export files as §9 fixes them, read back from moto's S3 over HTTP: names from the first and
last events, at most 50,000 lines, the mandatory fields and their formats, the collision
prefix, and the flow fields of ``enrichWithMomentsInfo``."""

import re
from datetime import UTC, datetime, timedelta

import pytest

from events.exports.formats import export_time
from events.exports.services import ExportSpec
from events.inputs import FlowCause
from events.models import Event
from tests.events.exports.conftest import T0, bulk_events, ingest
from tests.factories import DefinitionFactory, PersonFactory, event, props

pytestmark = pytest.mark.django_db(transaction=True)

TIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+0000$")
NAME_RE = re.compile(r"^(?P<id>[0-9a-f-]{36})-events-(?P<first>\d{17})-(?P<last>\d{17})\.json\.gz$")
MANDATORY = ["definitionId", "eventId", "sessionId", "personId", "externalPersonId", "occuredTime"]
THEN = "eventTime"


def compact(text: str) -> str:
    """``2024-05-01T12:00:00.123+0000`` → ``20240501120000123``."""
    return re.sub(r"\D", "", text[:23])


def spec(bucket="", **extra) -> ExportSpec:
    return ExportSpec(start_time=T0, end_time=T0 + timedelta(days=30), bucket=bucket, **extra)


def test_lines_carry_the_mandatory_fields_first_in_their_formats(shop, s3, submit):
    """Every line starts with the six mandatory fields as the seed writes them: ids as strings
    (``eventId``, ``personId``), sessionId and externalPersonId null when absent,
    ``occuredTime`` the time the platform *received* the event, in UTC with milliseconds and
    ``+0000``; then ``eventTime``, when the event happened; then the properties, a property
    named like a mandatory field prefixed ``<definitionId>_``. File names carry the first and
    last event times (the times the request's range selects on)."""
    workspace, ann, bob = shop
    ingest(
        workspace,
        [
            event(
                "c_order",
                ann,
                occurred_at="2024-05-01T14:00:35.495123+02:00",
                properties={"total": 9.5, "personId": "P-7", "note": 'ü "quoted"'},
                session_id="s-1",
            ),
            event("c_order", bob, occurred_at="2024-05-02T00:00:00Z", properties={}),
        ],
    )
    export = submit(workspace, spec(bucket=s3.name))
    assert export.status == "completed", export.error
    [key] = s3.objects()
    first, second = s3.lines(key)
    stored = {e.person_id: e for e in Event.objects.filter(workspace=workspace)}
    received = {pk: export_time(e.received_at) for pk, e in stored.items()}
    assert received[ann.pk] > "2025"  # received now, not at the event's own time
    assert list(first)[:7] == [*MANDATORY, THEN]
    assert first == {
        "definitionId": "c_order",
        "eventId": str(stored[ann.pk].pk),
        "sessionId": "s-1",
        "personId": str(ann.pk),
        "externalPersonId": "ann",
        "occuredTime": received[ann.pk],
        "eventTime": "2024-05-01T12:00:35.495+0000",
        "total": 9.5,
        "c_order_personId": "P-7",
        "note": 'ü "quoted"',
    }
    assert second == {
        "definitionId": "c_order",
        "eventId": str(stored[bob.pk].pk),
        "sessionId": None,
        "personId": str(bob.pk),
        "externalPersonId": None,
        "occuredTime": received[bob.pk],
        "eventTime": "2024-05-02T00:00:00.000+0000",
    }
    for line in (first, second):
        assert TIME_RE.match(line["occuredTime"])
        assert TIME_RE.match(line["eventTime"])
    match = NAME_RE.match(key)
    assert match, key
    assert match["id"] == str(export.request_id)
    assert (match["first"], match["last"]) == ("20240501120035495", "20240502000000000")


def test_event_sent_late_exports_received_time_as_occured_time(shop, s3, submit, api_client):
    """An event sent today about 2024 exports with ``occuredTime`` = when it was received and
    ``eventTime`` = its own time; ``eventId`` and ``personId`` are the ids the API answers,
    as strings."""
    workspace, ann, _ = shop
    response = api_client.post(
        "/api/v1/events",
        {
            "definitionId": "c_order",
            "person": {"externalId": "ann"},
            "occurredTime": "2024-05-03T08:30:00.000Z",
            "properties": {"total": 12},
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    assert str(response.json()["eventId"]) == str(Event.objects.get(workspace=workspace).pk)
    submit(workspace, spec(bucket=s3.name))
    [line] = s3.lines(s3.objects()[0])
    stored = Event.objects.get(workspace=workspace)
    assert line["eventId"] == str(stored.pk)
    assert line["personId"] == str(ann.pk)
    assert line["externalPersonId"] == "ann"
    assert line["eventTime"] == "2024-05-03T08:30:00.000+0000"
    assert line["occuredTime"] == export_time(stored.received_at)
    assert line["occuredTime"] != line["eventTime"]
    assert line["total"] == 12


def test_property_named_event_time_is_prefixed(workspace, s3, submit):
    """A property named ``eventTime`` is written ``<definitionId>_eventTime``: the line's own
    ``eventTime`` is the event's time."""
    DefinitionFactory(
        workspace=workspace, definition_id="c_booking", properties=props(eventTime="text")
    )
    person = PersonFactory(workspace=workspace)
    ingest(
        workspace,
        [
            event(
                "c_booking",
                person,
                occurred_at=T0 + timedelta(hours=2),
                properties={"eventTime": "next Friday"},
            )
        ],
    )
    submit(workspace, spec(bucket=s3.name))
    [line] = s3.lines(s3.objects()[0])
    assert line["eventTime"] == "2024-05-01T02:00:00.000+0000"
    assert line["c_booking_eventTime"] == "next Friday"


def test_template_property_named_session_id_is_prefixed(workspace, s3, submit):
    """The template ``viewPortionSet`` has a ``sessionId`` property: it is written as
    ``viewPortionSet_sessionId`` next to the event's own session id."""
    person = PersonFactory(workspace=workspace)
    ingest(
        workspace,
        [
            event(
                "viewPortionSet",
                person,
                occurred_at=T0 + timedelta(hours=1),
                session_id="web-1",
                properties={"itemId": 5, "portion": 0.5, "sessionId": "p-9"},
            )
        ],
    )
    submit(workspace, spec(bucket=s3.name))
    [line] = s3.lines(s3.objects()[0])
    assert line["sessionId"] == "web-1"
    assert line["viewPortionSet_sessionId"] == "p-9"
    assert line["itemId"] == 5


def test_enrichment_adds_flow_fields_to_events_a_flow_caused(workspace, s3, submit):
    """With ``enrichWithMomentsInfo``, events stored with a flow cause (``Event.flow_cause``,
    written by the ingestion service from ``EventInput.flow_cause``) carry campaignName,
    elementName, campaignStart and flowElementId; other events do not, and a property named
    like a flow field is prefixed. Without the flag no line has them."""
    DefinitionFactory(
        workspace=workspace, definition_id="c_mail_sent", properties=props(campaignName="text")
    )
    person = PersonFactory(workspace=workspace)
    cause = FlowCause(
        flow_id=3,
        flow_name="Welcome journey",
        element_id=17,
        element_name="Send welcome mail",
        flow_started_at=datetime(2024, 4, 30, 8, 0, 0, 250000, tzinfo=UTC),
    )
    ingest(
        workspace,
        [
            event(
                "c_mail_sent",
                person,
                occurred_at=T0 + timedelta(minutes=1),
                properties={"campaignName": "spring"},
                flow_cause=cause,
            )
        ],
        origin=Event.Origin.FLOW,
    )
    ingest(
        workspace,
        [
            event(
                "c_mail_sent",
                person,
                occurred_at=T0 + timedelta(minutes=2),
                properties={"campaignName": "manual"},
            )
        ],
    )
    assert Event.objects.filter(flow_cause__isnull=False).count() == 1

    submit(workspace, spec(bucket=s3.name, enrich_with_moments_info=True))
    [key] = s3.objects()
    caused, plain = s3.lines(key)
    assert caused["campaignName"] == "Welcome journey"
    assert caused["elementName"] == "Send welcome mail"
    assert caused["campaignStart"] == "2024-04-30T08:00:00.250+0000"
    assert caused["flowElementId"] == "3-17"  # "<flow>-<element>", a string as in the seed
    assert caused["c_mail_sent_campaignName"] == "spring"
    assert "elementName" not in plain
    assert plain["c_mail_sent_campaignName"] == "manual"

    submit(workspace, spec(bucket=s3.name, path="plain"))
    [key] = [k for k in s3.objects() if k.startswith("plain/")]
    for line in s3.lines(key):
        assert "elementName" not in line
        assert "flowElementId" not in line
        assert "campaignName" in line  # the property keeps its own name


def test_definitions_and_time_range_select_the_events(shop, s3, submit):
    """Only events of the listed definitions, at or after startTime and before endTime, of the
    request's workspace, in time order."""
    workspace, ann, _ = shop
    other = PersonFactory(workspace=PersonFactory().workspace)
    DefinitionFactory(workspace=other.workspace, definition_id="c_order")
    DefinitionFactory(workspace=workspace, definition_id="c_other")
    ingest(
        workspace,
        [
            event("c_order", ann, occurred_at=T0 - timedelta(seconds=1)),
            event("c_order", ann, occurred_at=T0 + timedelta(minutes=2)),
            event("c_other", ann, occurred_at=T0 + timedelta(minutes=3)),
            event("c_order", ann, occurred_at=T0),
            event("c_order", ann, occurred_at=T0 + timedelta(days=30)),
        ],
    )
    ingest(other.workspace, [event("c_order", other, occurred_at=T0 + timedelta(minutes=1))])
    submit(workspace, spec(bucket=s3.name, definition_ids=("c_order",)))
    lines = s3.lines(s3.objects()[0])
    assert [line["eventTime"][:19] for line in lines] == [
        "2024-05-01T00:00:00",
        "2024-05-01T00:02:00",
    ]
    assert {line["personId"] for line in lines} == {str(ann.pk)}


def test_no_events_no_files(workspace, s3, submit):
    """An empty range completes with no file, 0 events and progress 100."""
    export = submit(workspace, spec(bucket=s3.name))
    assert (export.status, export.files_written, export.events_written, export.progress) == (
        "completed",
        0,
        0,
        100,
    )
    assert s3.objects() == []


def test_120001_events_make_three_files_of_50000_50000_20001(shop, s3, submit):
    """Files hold at most 50,000 lines; each is named after its first and last events; every
    event is written once, in (occurred time, id) order."""
    workspace = shop[0]
    bulk_events(workspace, 120_001, T0)
    export = submit(workspace, spec(bucket=s3.name, path="daily/x"))
    assert export.status == "completed", export.error
    assert (export.files_written, export.events_written, export.progress) == (3, 120_001, 100)
    keys = s3.objects()
    assert len(keys) == 3
    assert all(k.startswith("daily/x/") for k in keys)
    files = [s3.lines(k) for k in sorted(keys)]
    assert [len(f) for f in files] == [50_000, 50_000, 20_001]
    for key, lines in zip(sorted(keys), files, strict=True):
        match = NAME_RE.match(key.rsplit("/", 1)[1])
        assert (match["first"], match["last"]) == (
            compact(lines[0]["eventTime"]),
            compact(lines[-1]["eventTime"]),
        )
    totals = [line["total"] for lines in files for line in lines]
    assert totals == list(range(120_001))
    assert s3.pending_uploads() == []
