"""Serializers that describe the native JSON shapes in the OpenAPI schema.

The ingest routes do not run these per event (see ``events.api.payloads``); the definitions
routes use ``DefinitionInSerializer`` to check a request's shape.
"""

from rest_framework import serializers

from cdp.api.schema import ErrorDetailSerializer
from events.models import PropertyDefinition

# The range of the integer columns a default score is stored in.
INT_MIN, INT_MAX = -(2**31), 2**31 - 1


class PersonRefSerializer(serializers.Serializer):
    id = serializers.IntegerField(required=False)
    externalId = serializers.CharField(required=False)
    identifiers = serializers.DictField(
        child=serializers.CharField(), required=False, help_text='e.g. {"email": "ann@example.com"}'
    )


class EventInSerializer(serializers.Serializer):
    definitionId = serializers.CharField(max_length=32)
    person = PersonRefSerializer()
    occurredTime = serializers.DateTimeField(required=False)
    properties = serializers.DictField(required=False)
    externalId = serializers.CharField(required=False, max_length=255)
    sessionId = serializers.CharField(required=False, max_length=64)
    targetId = serializers.CharField(required=False, max_length=255)
    targetName = serializers.CharField(required=False, max_length=255)
    source = serializers.CharField(required=False, max_length=255)
    contentName = serializers.CharField(required=False, max_length=255)
    score = serializers.IntegerField(required=False)
    tags = serializers.CharField(
        required=False, max_length=255, help_text="Comma separated; added to the person."
    )
    campaign = serializers.CharField(required=False, max_length=64)
    campaignName = serializers.CharField(required=False, max_length=255)
    summary = serializers.CharField(required=False, max_length=1024)


class IngestAnswerSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["accepted", "duplicate"])
    eventId = serializers.IntegerField(
        required=False, help_text="Secret keys only: no internal ids for public keys."
    )
    personId = serializers.IntegerField(required=False, help_text="Secret keys only.")


class EventBatchInSerializer(serializers.Serializer):
    events = EventInSerializer(many=True)


class ItemResultSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    status = serializers.ChoiceField(choices=["accepted", "duplicate", "rejected"])
    eventId = serializers.IntegerField(
        allow_null=True, required=False, help_text="Secret keys only."
    )
    errors = ErrorDetailSerializer(many=True)


class EventBatchOutSerializer(serializers.Serializer):
    results = ItemResultSerializer(many=True)
    accepted = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    rejected = serializers.IntegerField()


class EventOutSerializer(serializers.Serializer):
    """An event as ``events.api.representation.event_json`` answers it (tests/test_api_shapes.py
    holds the two together)."""

    id = serializers.IntegerField()
    definitionId = serializers.CharField()
    personId = serializers.IntegerField()
    occurredTime = serializers.DateTimeField()
    receivedTime = serializers.DateTimeField()
    sessionId = serializers.CharField(allow_null=True)
    externalId = serializers.CharField(allow_null=True)
    targetId = serializers.CharField(allow_null=True)
    targetName = serializers.CharField(allow_null=True)
    source = serializers.CharField(allow_null=True)
    contentName = serializers.CharField(allow_null=True)
    score = serializers.IntegerField(
        allow_null=True, help_text="The score this event set; null: its definition's default."
    )
    tags = serializers.CharField(allow_null=True, help_text="Comma separated.")
    campaign = serializers.CharField(allow_null=True)
    campaignName = serializers.CharField(allow_null=True)
    summary = serializers.CharField(allow_null=True)
    properties = serializers.DictField()
    origin = serializers.CharField()


class PropertyInSerializer(serializers.Serializer):
    key = serializers.CharField(max_length=64)
    name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    type = serializers.ChoiceField(
        choices=PropertyDefinition.Type.values, required=False, default=PropertyDefinition.Type.TEXT
    )
    required = serializers.BooleanField(required=False, default=False)
    scope = serializers.ChoiceField(
        choices=PropertyDefinition.Scope.values,
        required=False,
        default=PropertyDefinition.Scope.EVENT,
    )


class DefinitionInSerializer(serializers.Serializer):
    definitionId = serializers.CharField(max_length=64)
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    properties = PropertyInSerializer(many=True, required=False, default=list)
    defaultScore = serializers.IntegerField(
        required=False, default=0, min_value=INT_MIN, max_value=INT_MAX
    )
    lifecycleStage = serializers.CharField(
        required=False, allow_blank=True, max_length=32, default=""
    )
    channel = serializers.CharField(
        required=False, allow_null=True, default=None, help_text="The channel's APP_KEY."
    )
    enabled = serializers.BooleanField(required=False, default=True)


class DefinitionPatchSerializer(serializers.Serializer):
    definitionId = serializers.CharField(max_length=64, required=False)
    name = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    properties = PropertyInSerializer(many=True, required=False)
    defaultScore = serializers.IntegerField(required=False, min_value=INT_MIN, max_value=INT_MAX)
    lifecycleStage = serializers.CharField(required=False, allow_blank=True, max_length=32)
    enabled = serializers.BooleanField(required=False)


class DefinitionOutSerializer(serializers.Serializer):
    """A definition as ``events.api.representation.definition_json`` answers it
    (tests/test_api_shapes.py holds the two together)."""

    definitionId = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField(allow_blank=True)
    kind = serializers.CharField()
    category = serializers.CharField(allow_null=True)
    channel = serializers.CharField(allow_null=True, help_text="The channel's APP_KEY.")
    defaultScore = serializers.IntegerField()
    lifecycleStage = serializers.CharField(allow_null=True)
    enabled = serializers.BooleanField()
    properties = PropertyInSerializer(many=True)
    createdTime = serializers.DateTimeField()
    modifiedTime = serializers.DateTimeField()
