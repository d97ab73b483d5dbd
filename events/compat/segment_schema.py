"""OpenAPI description of the Segment-compatible tracking routes (``events.compat.segment``).

They are plain Django views answering in Segment's shapes, so drf-spectacular cannot introspect
them; this postprocessing hook (listed in ``SPECTACULAR_SETTINGS``) adds their paths.
"""

TAG = "Segment-compatible"
SECURITY = [{"SegmentWriteKey": []}, {"AppKey": []}]
ANY = {"type": "object", "additionalProperties": True}
ID = {"oneOf": [{"type": "string"}, {"type": "integer"}], "nullable": True}
TIME = {"type": "string", "format": "date-time"}
COMMON = {
    "userId": {**ID, "description": "The person's external id."},
    "anonymousId": {**ID, "description": "An anonymous id identifier (cookie, device)."},
    "messageId": {
        "type": "string",
        "description": "The event's external id: a repeat is stored once.",
    },
    "timestamp": {**TIME, "description": "When it happened (else now)."},
    "originalTimestamp": {**TIME, "description": "Client time, corrected by sentAt."},
    "sentAt": TIME,
    "context": {**ANY, "description": "traits, page, locale, userAgent are used."},
    "integrations": ANY,
    "writeKey": {
        "type": "string",
        "description": "The key, when not sent as the HTTP Basic user name.",
    },
}


def _message(required: list[str], description: str, **fields) -> dict:
    schema = {
        "type": "object",
        "description": description,
        "properties": {**COMMON, **fields},
        "additionalProperties": True,
    }
    return {**schema, "required": required} if required else schema


MESSAGES = {
    "track": _message(
        ["event"],
        "An action: `event` names the definition (an existing "
        "definition id, else `c_` + snake case, defined automatically or "
        "rejected into the ingestion log as the workspace says).",
        event={"type": "string"},
        properties=ANY,
    ),
    "identify": _message(
        [],
        "Traits to standard attributes, email/phone identifiers and "
        "custom attributes with a definition.",
        traits=ANY,
    ),
    "page": _message(
        [],
        "A `pageView` (when enabled in the workspace).",
        name={"type": "string", "nullable": True},
        category={"type": "string", "nullable": True},
        properties=ANY,
    ),
    "screen": _message(
        [],
        "A `c_screen_viewed` event with the screen name.",
        name={"type": "string", "nullable": True},
        category={"type": "string", "nullable": True},
        properties=ANY,
    ),
    "alias": _message(
        ["previousId", "userId"],
        "Merge the person named by `previousId` into the one named by `userId`.",
        previousId=ID,
    ),
    "group": _message(["groupId"], "Tag the person `group:<groupId>`.", groupId=ID, traits=ANY),
}
SUCCESS = {"type": "object", "properties": {"success": {"type": "boolean", "enum": [True]}}}
ERROR = {
    "type": "object",
    "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _operation(kind: str, summary: str, body: dict) -> dict:
    return {
        "post": {
            "tags": [TAG],
            "operationId": f"segment_{kind}",
            "summary": summary,
            "description": "Segment's HTTP tracking API. Bodies may be gzipped "
            "(`Content-Encoding: gzip`). Per-message problems go to the ingestion "
            "log and still answer 200.",
            "requestBody": {"required": True, "content": {"application/json": {"schema": body}}},
            "responses": {
                "200": _json(SUCCESS, "Accepted"),
                "400": _json(
                    ERROR,
                    "Unreadable JSON or gzip, or over 32 KB per "
                    "message / `CDP_SEGMENT_MAX_BATCH_BYTES` per batch "
                    "(`Exceed payload limit`)",
                ),
                "401": _json(ERROR, "Missing or unknown write key"),
                "429": _json(
                    ERROR, "The key is over its rate limit (`CDP_RATE_LIMIT`); retry later"
                ),
            },
            "security": SECURITY,
        }
    }


PATHS = {
    f"/v1/{kind}": _operation(kind, f"Segment {kind} call", schema)
    for kind, schema in MESSAGES.items()
}
PATHS["/v1/batch"] = _operation(
    "batch",
    "Several Segment calls",
    {
        "type": "object",
        "required": ["batch"],
        "properties": {
            "batch": {
                "type": "array",
                "items": {
                    **ANY,
                    "description": "A message with `type`: "
                    "track, identify, page, screen, alias or group.",
                },
            },
            "context": {**ANY, "description": "Merged into each message's context."},
            "sentAt": TIME,
            "writeKey": COMMON["writeKey"],
        },
    },
)


def add_segment_paths(result, generator, request, public):
    """drf-spectacular postprocessing hook: add the Segment-compatible routes."""
    schemes = result.setdefault("components", {}).setdefault("securitySchemes", {})
    schemes.setdefault(
        "SegmentWriteKey",
        {
            "type": "http",
            "scheme": "basic",
            "description": "The workspace key (public or secret) as user name, empty password.",
        },
    )
    schemes.setdefault(
        "AppKey",
        {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`App <key>` or `Bearer <key>`",
        },
    )
    for path, operations in PATHS.items():
        result["paths"].setdefault(path, {}).update(operations)
    return result
