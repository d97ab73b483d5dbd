"""The Segment-compatible tracking routes (``events.compat.segment``) as DRF views, so that
drf-spectacular describes them from these serializers: one view class per route, each
handing the request straight to the plain view ``segment_view(kind)`` (``CompatView``).
"""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiResponse, extend_schema_field
from rest_framework import serializers

from cdp.api.auth import ApiKeyAuthentication
from events.compat.common import CompatView, described
from events.compat.segment import segment_view

TAG = "Segment-compatible"


class WriteKeyAuthentication(ApiKeyAuthentication):
    """The key as Segment clients send it: HTTP Basic with the key as user name."""


class WriteKeyScheme(OpenApiAuthenticationExtension):
    """Describe the Segment write key in the OpenAPI schema."""

    target_class = "events.compat.segment_schema.WriteKeyAuthentication"
    name = "SegmentWriteKey"
    priority = 1

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "basic",
            "description": "The workspace key (public or secret) as user name, empty password.",
        }


@extend_schema_field({"oneOf": [{"type": "string"}, {"type": "integer"}], "nullable": True})
class SegmentIdField(serializers.JSONField):
    """An id Segment clients send as a string or a number."""


def _id(description: str = "", required: bool = False) -> SegmentIdField:
    return SegmentIdField(required=required, allow_null=True, help_text=description or None)


def _any(description: str = "") -> serializers.DictField:
    return serializers.DictField(required=False, help_text=description or None)


class SegmentCommonSerializer(serializers.Serializer):
    userId = _id("The person's external id.")
    anonymousId = _id("An anonymous id identifier (cookie, device).")
    messageId = serializers.CharField(
        required=False, help_text="The event's external id: a repeat is stored once."
    )
    timestamp = serializers.DateTimeField(required=False, help_text="When it happened (else now).")
    originalTimestamp = serializers.DateTimeField(
        required=False, help_text="Client time, corrected by sentAt."
    )
    sentAt = serializers.DateTimeField(required=False)
    context = _any("traits, page, locale, userAgent are used.")
    integrations = _any()
    writeKey = serializers.CharField(
        required=False, help_text="The key, when not sent as the HTTP Basic user name."
    )


class SegmentTrackSerializer(SegmentCommonSerializer):
    """An action: ``event`` names the definition (an existing definition id, else ``c_`` +
    snake case, defined automatically or rejected into the ingestion log as the workspace
    says)."""

    event = serializers.CharField()
    properties = _any()


class SegmentIdentifySerializer(SegmentCommonSerializer):
    """Traits to standard attributes, email/phone identifiers and custom attributes with a
    definition."""

    traits = _any()


class SegmentPageSerializer(SegmentCommonSerializer):
    """A ``pageView`` (when enabled in the workspace)."""

    name = serializers.CharField(required=False, allow_null=True)
    category = serializers.CharField(required=False, allow_null=True)
    properties = _any()


class SegmentScreenSerializer(SegmentPageSerializer):
    """A ``c_screen_viewed`` event with the screen name."""


class SegmentAliasSerializer(SegmentCommonSerializer):
    """Merge the person named by ``previousId`` into the one named by ``userId``."""

    userId = _id("The person's external id.", required=True)
    previousId = _id(required=True)


class SegmentGroupSerializer(SegmentCommonSerializer):
    """Tag the person ``group:<groupId>``."""

    groupId = _id(required=True)
    traits = _any()


class SegmentBatchSerializer(serializers.Serializer):
    batch = serializers.ListField(
        child=serializers.DictField(),
        help_text="Messages with `type`: track, identify, page, screen, alias or group.",
    )
    context = _any("Merged into each message's context.")
    sentAt = serializers.DateTimeField(required=False)
    writeKey = serializers.CharField(
        required=False, help_text="The key, when not sent as the HTTP Basic user name."
    )


class SegmentSuccessSerializer(serializers.Serializer):
    success = serializers.BooleanField(help_text="Always true.")


class SegmentErrorSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()


def _error(description: str) -> OpenApiResponse:
    return OpenApiResponse(SegmentErrorSerializer, description=description)


BODIES = {
    "batch": ("Several Segment calls", SegmentBatchSerializer),
    "track": ("Segment track call", SegmentTrackSerializer),
    "identify": ("Segment identify call", SegmentIdentifySerializer),
    "page": ("Segment page call", SegmentPageSerializer),
    "screen": ("Segment screen call", SegmentScreenSerializer),
    "alias": ("Segment alias call", SegmentAliasSerializer),
    "group": ("Segment group call", SegmentGroupSerializer),
}


class SegmentView(CompatView):
    """Segment's HTTP tracking API. Bodies may be gzipped (`Content-Encoding: gzip`).
    Per-message problems go to the ingestion log and still answer 200."""

    authentication_classes = (WriteKeyAuthentication, ApiKeyAuthentication)


def segment_route(kind: str | None, short: str | None = None):
    """Return the Django view of one Segment route (``kind`` None: ``/v1/batch``); ``short``
    names the short path of Segment's browser library (``t`` for track…)."""
    name = kind or "batch"
    summary, body = BODIES[name]
    extra = {}
    if short:
        summary = f"{summary} (browser library's short path)"
        extra["description"] = (
            f"The same as `/v1/{name}`, as Segment's browser library (analytics-next) sends "
            "it: `text/plain` JSON with `writeKey` (a public key) in the body, from a page "
            "whose origin the workspace allows."
        )
    post = described(
        "post",
        tags=[TAG],
        operation_id=f"segment_{name}" + ("_short" if short else ""),
        summary=summary,
        request={"application/json": body, "text/plain": body} if short else body,
        responses={
            200: OpenApiResponse(SegmentSuccessSerializer, description="Accepted"),
            400: _error(
                "Unreadable JSON or gzip, or over 32 KB per message / "
                "`CDP_SEGMENT_MAX_BATCH_BYTES` per batch (`Exceed payload limit`)"
            ),
            401: _error("Missing or unknown write key"),
            403: _error(
                "A browser's request (with `Origin`) from an origin the workspace does not "
                "allow (`origin_not_allowed`) or with a secret key (`public_key_required`)"
            ),
            429: _error("The key is over its rate limit (`CDP_RATE_LIMIT`); retry later"),
        },
        **extra,
    )
    view = type(
        f"Segment{name.title()}{'Short' if short else ''}View",
        (SegmentView,),
        {"handler": staticmethod(segment_view(kind)), "post": post, "__module__": __name__},
    )
    return view.as_view()
