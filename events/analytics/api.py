"""Analytics API under ``/api/v1/analytics/`` (SPEC §10); secret keys only.

- ``POST /api/v1/analytics/segmentation``: events and unique people per hour/day/week for up to
  10 series, optionally broken down by one property and restricted to a segment;
- ``POST /api/v1/analytics/funnels``: people per step of 2 to 10 ordered steps, conversions and
  median times between steps;
- ``GET /api/v1/analytics/funnels/templates``: ready-made funnels (the seed examples);
- ``POST /api/v1/analytics/retention``: people who did one event, by cohort day or week, who
  did another in each later period;
- ``POST /api/v1/analytics/{funnels,segmentation,retention}/people``: the people behind one
  number of an answer (the query's body plus the keys naming the number), a page at a time.

Bodies are read by ``events.analytics.queries`` (the serializers below describe them in the
schema); errors use the native shape ``{"error": {"code", "message", "field"}}``.
"""

from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from cdp.api.auth import SecretKeyRequired
from cdp.api.errors import service_error_response
from cdp.api.schema import ErrorSerializer
from cdp.errors import ErrorCode, ServiceError
from events.analytics.funnels import funnel_run
from events.analytics.people import people_page
from events.analytics.presets import FUNNEL_TEMPLATES
from events.analytics.queries import (
    funnel_people_parse,
    funnel_query_parse,
    retention_people_parse,
    retention_query_parse,
    segmentation_people_parse,
    segmentation_query_parse,
)
from events.analytics.representation import (
    funnel_json,
    people_json,
    retention_json,
    segmentation_json,
)
from events.analytics.retention import retention_run
from events.analytics.segmentation import segmentation_run

SELECTION_HELP = (
    'An event definition id, or {"event": id, "where": [{"property", "operator", '
    '"value"}]} with property conditions as in segment rules.'
)
SELECTION_SCHEMA = {
    "oneOf": [
        {"type": "string"},
        {
            "type": "object",
            "required": ["event"],
            "properties": {
                "event": {"type": "string"},
                "where": {"type": "array", "items": {"type": "object"}},
            },
        },
    ],
    "description": SELECTION_HELP,
}


@extend_schema_field(SELECTION_SCHEMA)
class SelectionField(serializers.JSONField):
    """A series or a step: a definition id or an object with property conditions."""


class BreakdownSerializer(serializers.Serializer):
    property = serializers.CharField(max_length=64)
    limit = serializers.IntegerField(
        min_value=1, max_value=50, default=10, help_text='Top values shown; the rest are "other".'
    )


class SegmentationInSerializer(serializers.Serializer):
    events = serializers.ListField(child=SelectionField(), min_length=1, max_length=10)
    # "from": see below.
    to = serializers.CharField(help_text="End (a date includes that whole day, UTC).")
    interval = serializers.ChoiceField(choices=["hour", "day", "week"], default="day")
    breakdown = BreakdownSerializer(required=False)
    segment = serializers.IntegerField(required=False, help_text="Only its current members.")


class FunnelInSerializer(serializers.Serializer):
    steps = serializers.ListField(child=SelectionField(), min_length=2, max_length=10)
    to = serializers.CharField(help_text="End of the range step 1 must fall in.")
    conversionWindow = serializers.DictField(
        child=serializers.IntegerField(min_value=1),
        required=False,
        help_text='One of {"days": N} (at most 90), {"hours": N}, {"minutes": N}; default 7 days.',
    )
    segment = serializers.IntegerField(required=False, help_text="Only its current members.")


@extend_schema_field({"type": "string", "pattern": "^(day|week)$", "default": "day"})
class RetentionIntervalField(serializers.CharField):
    """Day or week (a pattern, not an enum: a second "interval" choice set would collide with
    the segmentation's in the schema's enum names)."""


class RetentionInSerializer(serializers.Serializer):
    cohortEvent = SelectionField(
        help_text="The event whose first occurrence puts a person in a cohort."
    )
    returnEvent = SelectionField(help_text="The event counted in each later period.")
    to = serializers.CharField(help_text="End of the range the cohort event must fall in.")
    interval = RetentionIntervalField(default="day", help_text="Cohorts by day or week.")
    periods = serializers.IntegerField(
        min_value=1, max_value=60, default=7, help_text="Periods after period 0."
    )
    segment = serializers.IntegerField(required=False, help_text="Only its current members.")


class PageFieldsMixin(serializers.Serializer):
    limit = serializers.IntegerField(min_value=1, max_value=1000, default=100)
    offset = serializers.IntegerField(min_value=0, max_value=10**9, default=0)


class FunnelPeopleInSerializer(FunnelInSerializer, PageFieldsMixin):
    step = serializers.IntegerField(min_value=1, help_text="The step (1 is the first).")
    outcome = serializers.ChoiceField(
        choices=["converted", "dropped"],
        default="converted",
        help_text="converted: reached the step; dropped: reached the step before, not this one.",
    )


class SegmentationPeopleInSerializer(SegmentationInSerializer, PageFieldsMixin):
    series = serializers.IntegerField(
        min_value=0, help_text="Position in the answer's series (0 is the first)."
    )
    bucket = serializers.IntegerField(
        min_value=0, help_text="Position in the answer's buckets (0 is the first)."
    )


class RetentionPeopleInSerializer(RetentionInSerializer, PageFieldsMixin):
    cohort = serializers.IntegerField(
        min_value=0, help_text="Position in the answer's cohorts (0 is the first)."
    )
    period = serializers.IntegerField(
        min_value=0, required=False, allow_null=True, help_text="Left out: the whole cohort."
    )


class PersonRowSerializer(serializers.Serializer):
    personId = serializers.IntegerField()
    externalId = serializers.CharField(allow_null=True)
    name = serializers.CharField()


class PeopleOutSerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text="Everyone behind the number (equals it).")
    limit = serializers.IntegerField()
    offset = serializers.IntegerField()
    results = PersonRowSerializer(many=True, help_text="In id order.")


class CohortSerializer(serializers.Serializer):
    start = serializers.DateTimeField(help_text="Start of the cohort's day or week (UTC).")
    people = serializers.IntegerField(help_text="People whose first cohort event fell in it.")
    returned = serializers.ListField(
        child=serializers.IntegerField(), help_text="People who returned, per period 0…periods."
    )


class RetentionOutSerializer(serializers.Serializer):
    interval = serializers.CharField()
    periods = serializers.IntegerField()
    cohortEvent = serializers.CharField()
    returnEvent = serializers.CharField()
    segment = serializers.IntegerField(allow_null=True)
    cohorts = CohortSerializer(many=True)


class SeriesSerializer(serializers.Serializer):
    event = serializers.CharField()
    label = serializers.CharField()
    value = serializers.CharField(
        allow_null=True, help_text="The breakdown value (null: not set, or no breakdown)."
    )
    other = serializers.BooleanField(help_text="The values outside the top ones.")
    events = serializers.ListField(child=serializers.IntegerField())
    people = serializers.ListField(
        child=serializers.IntegerField(), help_text="Unique people per bucket."
    )
    totalEvents = serializers.IntegerField()


class SegmentationOutSerializer(serializers.Serializer):
    interval = serializers.CharField()
    breakdown = serializers.CharField(allow_null=True)
    segment = serializers.IntegerField(allow_null=True)
    buckets = serializers.ListField(
        child=serializers.DateTimeField(), help_text="Start of each bucket (UTC)."
    )
    series = SeriesSerializer(many=True)


class StepSerializer(serializers.Serializer):
    step = serializers.IntegerField()
    event = serializers.CharField()
    label = serializers.CharField()
    people = serializers.IntegerField()
    conversionFromPrevious = serializers.FloatField(allow_null=True)
    conversionFromFirst = serializers.FloatField()
    medianSecondsFromPrevious = serializers.FloatField(allow_null=True)


class FunnelOutSerializer(serializers.Serializer):
    conversionWindowSeconds = serializers.IntegerField()
    segment = serializers.IntegerField(allow_null=True)
    steps = StepSerializer(many=True)


# "from" is a Python keyword: declared on the serializers that have it here.
for _serializer, _help in (
    (SegmentationInSerializer, "Start (a date or a date-time)."),
    (FunnelInSerializer, "Start of the range step 1 must fall in."),
    (RetentionInSerializer, "Start of the range the cohort event must fall in."),
    (SegmentationPeopleInSerializer, "Start (a date or a date-time)."),
    (FunnelPeopleInSerializer, "Start of the range step 1 must fall in."),
    (RetentionPeopleInSerializer, "Start of the range the cohort event must fall in."),
    (SegmentationOutSerializer, "Start of the range (UTC)."),
    (FunnelOutSerializer, "Start of the range step 1 fell in (UTC)."),
    (RetentionOutSerializer, "Start of the range (UTC)."),
):
    _serializer._declared_fields["from"] = serializers.CharField(help_text=_help)
for _serializer in (SegmentationOutSerializer, FunnelOutSerializer, RetentionOutSerializer):
    _serializer._declared_fields["to"] = serializers.CharField(help_text="End (exclusive, UTC).")


class FunnelTemplateSerializer(serializers.Serializer):
    key = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField()
    query = serializers.JSONField(help_text="Steps and conversion window; add from and to.")
    requires = serializers.ListField(child=serializers.CharField())


def _answer(run, parse, represent, request, argument: str = "query") -> Response:
    workspace = request.user.workspace
    try:
        parsed = parse(workspace=workspace, data=request.data)
        result = run(workspace=workspace, **{argument: parsed})
    except ServiceError as exc:
        timeout = exc.first.code == ErrorCode.QUERY_TIMEOUT
        return service_error_response(
            exc, status.HTTP_503_SERVICE_UNAVAILABLE if timeout else status.HTTP_400_BAD_REQUEST
        )
    return Response(represent(result))


ERRORS = {
    400: OpenApiResponse(ErrorSerializer, description="bad input, with the field"),
    503: OpenApiResponse(ErrorSerializer, description="the query took too long"),
}


class SegmentationView(APIView):
    permission_classes = [SecretKeyRequired]

    @extend_schema(
        request=SegmentationInSerializer,
        responses={200: SegmentationOutSerializer, **ERRORS},
        examples=[
            OpenApiExample(
                "Page views by path",
                request_only=True,
                value={
                    "events": ["pageView"],
                    "from": "2024-05-01",
                    "to": "2024-05-31",
                    "interval": "day",
                    "breakdown": {"property": "path", "limit": 5},
                },
            )
        ],
    )
    def post(self, request):
        """Events and unique people per hour, day or week, per series (and breakdown value)."""
        return _answer(segmentation_run, segmentation_query_parse, segmentation_json, request)


class FunnelView(APIView):
    permission_classes = [SecretKeyRequired]

    @extend_schema(
        request=FunnelInSerializer,
        responses={200: FunnelOutSerializer, **ERRORS},
        examples=[
            OpenApiExample(
                "Ticket purchase",
                request_only=True,
                value={
                    "steps": ["c_ticket_searched", "c_ticket_chosen", "c_checkout"],
                    "from": "2024-05-01",
                    "to": "2024-05-31",
                    "conversionWindow": {"days": 7},
                },
            )
        ],
    )
    def post(self, request):
        """People reaching each step in order within the conversion window of their step 1,
        conversion from the previous and the first step, median time from the previous."""
        return _answer(funnel_run, funnel_query_parse, funnel_json, request)


class FunnelTemplatesView(APIView):
    permission_classes = [SecretKeyRequired]

    @extend_schema(responses={200: FunnelTemplateSerializer(many=True)})
    def get(self, request):
        """Ready-made funnels (the seed examples); ``requires`` names the definitions."""
        return Response(
            [
                {
                    "key": t.key,
                    "name": t.name,
                    "description": t.description,
                    "query": t.query,
                    "requires": list(t.requires),
                }
                for t in FUNNEL_TEMPLATES
            ]
        )


class RetentionView(APIView):
    permission_classes = [SecretKeyRequired]

    @extend_schema(
        request=RetentionInSerializer,
        responses={200: RetentionOutSerializer, **ERRORS},
        examples=[
            OpenApiExample(
                "Searchers who buy",
                request_only=True,
                value={
                    "cohortEvent": "c_ticket_searched",
                    "returnEvent": "c_checkout",
                    "from": "2024-05-01",
                    "to": "2024-05-31",
                    "interval": "week",
                    "periods": 4,
                },
            )
        ],
    )
    def post(self, request):
        """Per cohort (the day or week of a person's first cohort event in the range): its
        people, and how many of them did the return event in each period 0…periods."""
        return _answer(retention_run, retention_query_parse, retention_json, request)


def _people_view(serializer, parse, summary: str):
    class PeopleView(APIView):
        permission_classes = [SecretKeyRequired]

        @extend_schema(request=serializer, responses={200: PeopleOutSerializer, **ERRORS})
        def post(self, request):
            return _answer(people_page, parse, people_json, request, "request")

    PeopleView.post.__doc__ = summary
    return PeopleView


FunnelPeopleView = _people_view(
    FunnelPeopleInSerializer,
    funnel_people_parse,
    "The people of one funnel step: converted (reached it) or dropped (reached the step "
    "before, not this one); the count equals the step's number.",
)
SegmentationPeopleView = _people_view(
    SegmentationPeopleInSerializer,
    segmentation_people_parse,
    "The unique people of one series in one bucket; the count equals the answer's people.",
)
RetentionPeopleView = _people_view(
    RetentionPeopleInSerializer,
    retention_people_parse,
    "The people of one retention cell (a cohort and a period), or of a whole cohort.",
)
