"""OpenAPI descriptions of the compatible endpoints.

They are plain Django views (each answers in its own system's shape, parsed with orjson), so
drf-spectacular cannot introspect them; this postprocessing hook adds their paths to the
generated schema under a tag per system.
"""

OBJECT = {"type": "object", "additionalProperties": True}
APP_KEY = [{"AppKey": []}]  # the scheme cdp.api.auth.ApiKeyScheme declares


def _json(schema: dict, description: str = "") -> dict:
    return {
        "description": description or "JSON",
        "content": {"application/json": {"schema": schema}},
    }


def _query(name: str, description: str, type_: str = "string", required: bool = False) -> dict:
    return {
        "name": name,
        "in": "query",
        "required": required,
        "description": description,
        "schema": {"type": type_},
    }


def _path_param(name: str, type_: str = "string") -> dict:
    return {"name": name, "in": "path", "required": True, "schema": {"type": type_}}


INFOBIP_ERROR = {
    "type": "object",
    "properties": {
        "requestError": {
            "type": "object",
            "properties": {
                "serviceException": {
                    "type": "object",
                    "properties": {"messageId": {"type": "string"}, "text": {"type": "string"}},
                }
            },
        }
    },
}
QA_ANSWER = {
    "type": "object",
    "properties": {
        "success": {"type": "boolean"},
        "errorCode": {"type": "string", "nullable": True},
        "errorDesc": {"type": "string", "nullable": True},
        "traceId": {"type": "string"},
        "data": {"type": "object", "additionalProperties": True},
    },
}
DMHUB_EVENT = {
    "type": "object",
    "additionalProperties": True,
    "properties": {
        "id": {"type": "integer"},
        "customerId": {"type": "string"},
        "event": {"type": "string"},
        "date": {"type": "string"},
        "targetId": {"type": "string"},
        "targetName": {"type": "string"},
        "externalId": {"type": "string"},
    },
}
DMHUB_AUTH = [_query("access_token", "A workspace API key.", required=True)]
QA_BODY = {"oneOf": [{"type": "array", "items": OBJECT}, OBJECT]}
# Every Quick Audience answer has the same shape; the errors differ by status and errorCode.
QA_RESPONSES = {
    "200": _json(
        QA_ANSWER,
        "success true; or success false with errorCode INVALID_MESSAGE "
        "and errorDesc naming each rejected message by index (the others are "
        "stored)",
    ),
    "400": _json(
        QA_ANSWER,
        "success false: the body is not a JSON array nor the SDK "
        "wrapper (errorCode INVALID, INVALID_JSON, REQUIRED, BODY_TOO_LARGE) or has "
        "more than 100 messages (BATCH_TOO_LARGE)",
    ),
    "401": _json(QA_ANSWER, "success false, errorCode ES0110000002: missing or unknown key"),
    "429": _json(QA_ANSWER, "success false, errorCode TOO_MANY_REQUESTS: the key's rate limit"),
}

PATHS = {
    "/peopleevents/1/persons/{personId}/definitions/{definitionId}/events": {
        "post": {
            "tags": ["Infobip-compatible"],
            "operationId": "infobip_event_create",
            "summary": "Record an event for an existing person (any identifier)",
            "parameters": [_path_param("personId"), _path_param("definitionId")],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "required": ["properties"],
                            "properties": {"properties": OBJECT},
                        }
                    }
                },
            },
            "responses": {
                "200": _json(OBJECT, "Stored (or a duplicate)"),
                "400": _json(INFOBIP_ERROR, "Invalid event"),
                "401": _json(INFOBIP_ERROR, "Missing or unknown key"),
                "404": _json(INFOBIP_ERROR, "No such person or definition"),
            },
            "security": APP_KEY,
        }
    },
    "/v1/customerevents": {
        "post": {
            "tags": ["DM Hub-compatible"],
            "operationId": "dmhub_event_create",
            "summary": "Create a customer event (custom properties at the top level)",
            "parameters": DMHUB_AUTH,
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": DMHUB_EVENT}},
            },
            "responses": {
                "200": _json(DMHUB_EVENT, "The stored event"),
                "400": _json(OBJECT, "Invalid event"),
                "401": _json(OBJECT, "Missing or unknown access_token"),
            },
            "security": [],
        },
        "get": {
            "tags": ["DM Hub-compatible"],
            "operationId": "dmhub_event_query",
            "summary": "Query customer events",
            "parameters": [
                *DMHUB_AUTH,
                _query("customerId", "The customer's id in your system."),
                _query("event", "Event codes, comma separated."),
                _query("lastUpdatedFrom", "ISO-8601 time, inclusive."),
                _query("lastUpdatedTo", "ISO-8601 time, inclusive."),
                _query("max", "Most rows (default 20, at most 1000).", "integer"),
                _query("rows", "Rows per page.", "integer"),
                _query("page", "Page number from 1.", "integer"),
                _query("sidx", "Sort field: id, date, lastUpdated, event, customerId."),
                _query("sord", "asc or desc."),
                _query(
                    "partition",
                    "A year; 2016 holds everything before 2017; without it, 2018 on.",
                    "integer",
                ),
            ],
            "responses": {
                "200": _json({"type": "array", "items": DMHUB_EVENT}),
                "400": _json(OBJECT, "Invalid parameter"),
            },
            "security": [],
        },
    },
    "/v1/customerevents/{id}": {
        "get": {
            "tags": ["DM Hub-compatible"],
            "operationId": "dmhub_event_get",
            "summary": "One customer event",
            "parameters": [
                _path_param("id", "integer"),
                *DMHUB_AUTH,
                _query("partition", "The year the event is in.", "integer"),
            ],
            "responses": {"200": _json(DMHUB_EVENT), "404": _json(OBJECT, "Not found")},
            "security": [],
        }
    },
    "/quickaudience/v1/event-messages": {
        "post": {
            "tags": ["Quick Audience-compatible"],
            "operationId": "qa_event_messages",
            "summary": "Batch event report (at most 100 messages)",
            "description": "A JSON array of event messages, or "
            '{"eventMessageModelListStr": "<JSON array as a string>"}. '
            "eventCode, eventTime and extendAttributes.outBizId are required; "
            "eventSourceCode is optional and, when given, must be a channel's "
            "APP_KEY to which the event's definition is not foreign.",
            "requestBody": {"required": True, "content": {"application/json": {"schema": QA_BODY}}},
            "responses": QA_RESPONSES,
            "security": APP_KEY,
        }
    },
    "/quickaudience/v1/user-messages": {
        "post": {
            "tags": ["Quick Audience-compatible"],
            "operationId": "qa_user_messages",
            "summary": "User identity report",
            "description": "A JSON array of customer messages (at most 100), or "
            '{"customerMessageModelListStr": "<JSON array as a string>"}.',
            "requestBody": {"required": True, "content": {"application/json": {"schema": QA_BODY}}},
            "responses": QA_RESPONSES,
            "security": APP_KEY,
        }
    },
}


def add_compatible_paths(result, generator, request, public):
    """drf-spectacular postprocessing hook: add the compatible endpoints' paths."""
    schemes = result.setdefault("components", {}).setdefault("securitySchemes", {})
    schemes.setdefault(
        "AppKey",
        {"type": "apiKey", "in": "header", "name": "Authorization", "description": "`App <key>`"},
    )
    for path, operations in PATHS.items():
        result["paths"].setdefault(path, {}).update(operations)
    return result
