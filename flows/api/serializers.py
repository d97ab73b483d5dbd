"""Serializers of the flows API: the request shapes views check, and the answers the OpenAPI
schema describes (the answers themselves are built by ``flows.api.representation``;
tests/flows/test_api.py checks each answer against its serializer)."""

from rest_framework import serializers

from cdp.ids import MAX_ID
from flows.models import Flow, FlowEdge, FlowElement, FlowRun

MAX_POSITION = 1_000_000
DURATION_HELP = '{"days": D, "hours": H, "minutes": M}; any of the three.'


class FlowElementSerializer(serializers.Serializer):
    key = serializers.CharField(max_length=32, help_text='Unique in the flow, e.g. "wait1".')
    kind = serializers.ChoiceField(choices=FlowElement.Kind.values)
    label = serializers.CharField(required=False, allow_blank=True, max_length=200)
    config = serializers.JSONField(
        required=False, help_text="The kind's settings; formats in the README (Flows)."
    )
    positionX = serializers.IntegerField(
        required=False, min_value=-MAX_POSITION, max_value=MAX_POSITION
    )
    positionY = serializers.IntegerField(
        required=False, min_value=-MAX_POSITION, max_value=MAX_POSITION
    )


class FlowEdgeSerializer(serializers.Serializer):
    source = serializers.CharField(max_length=32, help_text="Key of the element it leaves.")
    target = serializers.CharField(max_length=32, help_text="Key of the element it enters.")
    outcome = serializers.ChoiceField(
        choices=FlowEdge.Outcome.values, required=False, help_text="next; met / timeout; yes / no."
    )


class FlowPatchSerializer(serializers.Serializer):
    name = serializers.CharField(required=False, max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, max_length=5000)
    startsTime = serializers.DateTimeField(required=False, allow_null=True)
    endsTime = serializers.DateTimeField(required=False, allow_null=True)
    reentry = serializers.ChoiceField(choices=Flow.Reentry.values, required=False)
    reentryInterval = serializers.JSONField(
        required=False, allow_null=True, help_text=DURATION_HELP
    )
    exitSegmentId = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=MAX_ID
    )
    elements = FlowElementSerializer(many=True, required=False, max_length=100)
    edges = FlowEdgeSerializer(many=True, required=False, max_length=300)

    def validate(self, attrs):
        if ("elements" in attrs) != ("edges" in attrs):
            missing = "edges" if "elements" in attrs else "elements"
            raise serializers.ValidationError(
                {missing: "send elements and edges together: the graph is replaced as a whole"}
            )
        return attrs


class FlowInSerializer(FlowPatchSerializer):
    name = serializers.CharField(max_length=200)


class FlowSummarySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    description = serializers.CharField(allow_blank=True)
    status = serializers.CharField(help_text="draft, active, paused or finished.")
    startsTime = serializers.DateTimeField(allow_null=True)
    endsTime = serializers.DateTimeField(allow_null=True)
    reentry = serializers.CharField()
    reentryInterval = serializers.JSONField(allow_null=True, help_text=DURATION_HELP)
    exitSegmentId = serializers.IntegerField(allow_null=True)
    createdTime = serializers.DateTimeField()
    modifiedTime = serializers.DateTimeField()
    activatedTime = serializers.DateTimeField(allow_null=True)


class FlowOutSerializer(FlowSummarySerializer):
    elements = FlowElementSerializer(many=True)
    edges = FlowEdgeSerializer(many=True)


class FlowRunSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    flowId = serializers.IntegerField()
    personId = serializers.IntegerField()
    state = serializers.ChoiceField(choices=FlowRun.State.values)
    currentElement = serializers.CharField(allow_null=True)
    stepNo = serializers.IntegerField()
    context = serializers.JSONField()
    resumeTime = serializers.DateTimeField(allow_null=True)
    enteredTime = serializers.DateTimeField()
    finishedTime = serializers.DateTimeField(allow_null=True)
    exitReason = serializers.CharField(allow_null=True)


class TemplateCandidateSerializer(serializers.Serializer):
    definitionId = serializers.CharField()
    name = serializers.CharField()


class TemplateSlotSerializer(serializers.Serializer):
    event = serializers.CharField(help_text="The event's name in the template.")
    label = serializers.CharField(help_text="What the event stands for.")
    definitionId = serializers.CharField(
        allow_null=True, help_text="The workspace's definition used for it; null while open."
    )
    resolvedBy = serializers.ChoiceField(
        choices=["id", "name", "chosen"],
        allow_null=True,
        help_text="id: same id; name: the one definition whose id or name carries the event's "
        "words; chosen: given in definitions. null: open (none or several match).",
    )
    candidates = TemplateCandidateSerializer(
        many=True, help_text="For an open event: the definitions to choose from."
    )


class FlowTemplateSerializer(serializers.Serializer):
    key = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField()
    requires = serializers.ListField(
        child=serializers.CharField(), help_text="Event names the template uses."
    )
    missing = serializers.ListField(
        child=serializers.CharField(), help_text="What this workspace lacks to activate it."
    )
    slots = TemplateSlotSerializer(
        many=True, help_text="Each event of the template and the definition filling it here."
    )
    flow = serializers.JSONField(
        help_text="A body for POST /api/v1/flows, with this workspace's definitions filled in."
    )


class FlowFromTemplateInSerializer(serializers.Serializer):
    name = serializers.CharField(
        required=False,
        max_length=200,
        help_text="The draft's name; default the template's, numbered when taken (\"… (2)\").",
    )
    definitions = serializers.DictField(
        child=serializers.CharField(max_length=64),
        required=False,
        help_text="The workspace's definition id to use for a template event, by the "
        'template\'s name of it, e.g. {"c_product_viewed": "c_item_seen"}.',
    )


class FlowFromTemplateSerializer(FlowOutSerializer):
    missing = serializers.ListField(
        child=serializers.CharField(), help_text="What the draft lacks to be activated."
    )
    slots = TemplateSlotSerializer(many=True)


class FlowActivateInSerializer(serializers.Serializer):
    admitCurrentMembers = serializers.BooleanField(
        required=False,
        default=False,
        help_text="For a flow triggered by entering a segment: let the people in the segment "
        "now enter too (otherwise only who enters it from now on).",
    )


class FlowActivatedSerializer(FlowOutSerializer):
    admitted = serializers.IntegerField(
        allow_null=True,
        help_text="How many current members of the trigger segment were let in; null when "
        "not asked (or the trigger is not segment entry).",
    )
