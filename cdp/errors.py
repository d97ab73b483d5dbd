"""Error codes carried by API errors and ingestion results (stable strings, never renamed),
the coded `ServiceError` every service raises, and checks of JSON value types. Every app
imports these from here; `people.errors` and `flows.errors` add codes of their own."""

from dataclasses import dataclass
from enum import StrEnum


class ErrorCode(StrEnum):
    REQUIRED = "required"
    INVALID = "invalid"
    INVALID_TYPE = "invalid_type"
    TOO_LONG = "too_long"
    UNKNOWN_DEFINITION = "unknown_definition"
    DEFINITION_DISABLED = "definition_disabled"
    UNKNOWN_PROPERTY = "unknown_property"
    PERSON_NOT_FOUND = "person_not_found"
    INVALID_DEFINITION_ID = "invalid_definition_id"
    CUSTOM_PREFIX = "custom_prefix_required"
    PROPERTY_LIMIT = "property_limit"
    IMMUTABLE = "immutable"
    PROTECTED = "protected"
    DUPLICATE = "duplicate"
    BATCH_TOO_LARGE = "batch_too_large"
    # A public key named a known person with something else (SPEC §2): that name is ignored.
    KNOWN_PERSON = "known_person"
    # An endpoint that would tell whether a customer exists refuses public keys (SPEC §2).
    SECRET_KEY_REQUIRED = "secret_key_required"
    # Exports (§9)
    NOT_FOUND = "not_found"
    NOT_CANCELLABLE = "not_cancellable"
    S3_NOT_CONFIGURED = "s3_not_configured"
    EXPORT_INTERRUPTED = "export_interrupted"
    # Analytics (§10)
    RANGE_TOO_LONG = "range_too_long"
    QUERY_TIMEOUT = "query_timeout"


@dataclass(frozen=True)
class FieldError:
    """One problem with one field of the input."""

    field: str
    code: str
    message: str

    def as_dict(self) -> dict:
        return {"field": self.field, "code": str(self.code), "message": self.message}


class ServiceError(Exception):
    """A rule was broken; ``errors`` names each field and why."""

    def __init__(self, errors: list[FieldError] | FieldError):
        self.errors = [errors] if isinstance(errors, FieldError) else list(errors)
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in self.errors))

    @property
    def first(self) -> FieldError:
        return self.errors[0]


# What a JSON value of each Python type is called in an error message.
JSON_TYPE_NAMES = {
    str: "a string",
    int: "a whole number",
    float: "a number",
    bool: "true or false",
    dict: "an object",
    list: "a list",
    type(None): "null",
}


def json_type_error(value, expected: type | tuple[type, ...], field: str) -> FieldError | None:
    """The error for ``value`` read from a JSON document when it is not of the ``expected``
    type(s), naming ``field``; None when it is. A boolean is never a number (JSON keeps them
    apart, Python does not)."""
    kinds = expected if isinstance(expected, tuple) else (expected,)
    if isinstance(value, kinds) and not (isinstance(value, bool) and bool not in kinds):
        return None
    wanted = " or ".join(JSON_TYPE_NAMES.get(k, k.__name__) for k in kinds)
    got = JSON_TYPE_NAMES.get(type(value), type(value).__name__)
    return FieldError(field, ErrorCode.INVALID_TYPE, f"must be {wanted}, not {got}")


def json_typed(value, expected: type | tuple[type, ...], field: str):
    """Return ``value`` when it is of the ``expected`` JSON type(s); else raise
    ``ServiceError`` (``invalid_type``) naming ``field``. For shapes read by hand (rule trees,
    compatible endpoints' payloads) before a value is hashed, compared or stored."""
    if (error := json_type_error(value, expected, field)) is not None:
        raise ServiceError(error)
    return value
