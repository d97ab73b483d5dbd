"""Error codes carried by API errors and ingestion results: stable strings, never renamed."""

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
