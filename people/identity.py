"""Identifier normalisation: one spelling per identifier so lookups and uniqueness hold."""

import re

from cdp.errors import ErrorCode, FieldError, ServiceError
from cdp.ids import ascii_digits
from people.models import Identifier

_PHONE_JUNK = re.compile(r"[\s\-().]")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
IDENTIFIER_TYPES = frozenset(Identifier.Type.values)
# Aliases callers use for the same type (API camelCase, Quick Audience names).
TYPE_ALIASES = {
    "pushRegistrationId": "push",
    "push_registration_id": "push",
    "pushRegId": "push",
    "anonymousId": "anonymous_id",
    "taobaoId": "taobao_id",
    "taobaoNick": "taobao_nick",
    "weiboId": "weibo_id",
    "alipayId": "alipay_id",
    "openId": "open_id",
    "unionId": "union_id",
    # Quick Audience's idMapping names for the device MAC and the Weibo id (its seed's list).
    "mac_org": "mac",
    "weibo_id_org": "weibo_id",
}
EXTERNAL_ID_ALIASES = frozenset({"externalId", "external_id"})


def normalise_type(raw: str) -> str:
    return TYPE_ALIASES.get(raw, raw)


def normalise_identifier(type_: str, value, field: str) -> tuple[str, str]:
    """Return ``(type, value)`` in stored form or raise a ServiceError naming ``field``."""
    type_ = normalise_type(type_)
    if type_ not in IDENTIFIER_TYPES:
        raise ServiceError(
            FieldError(
                field,
                ErrorCode.INVALID,
                f"unknown identifier type {type_!r}; use one of "
                + ", ".join(sorted(IDENTIFIER_TYPES)),
            )
        )
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ServiceError(FieldError(field, ErrorCode.INVALID_TYPE, "must be a string"))
    value = str(value).strip()
    if not value:
        raise ServiceError(FieldError(field, ErrorCode.REQUIRED, "must not be empty"))
    if len(value) > 255:
        raise ServiceError(FieldError(field, ErrorCode.TOO_LONG, "at most 255 characters"))
    if type_ == "email":
        value = value.lower()
        if not _EMAIL.match(value):
            raise ServiceError(FieldError(field, ErrorCode.INVALID, "is not an email address"))
    elif type_ in {"phone", "mobile"}:
        value = _PHONE_JUNK.sub("", value)
        if value.startswith("00"):
            value = "+" + value[2:]
        digits = value[1:] if value.startswith("+") else value
        if not ascii_digits(digits) or not 5 <= len(digits) <= 17:
            raise ServiceError(FieldError(field, ErrorCode.INVALID, "is not a phone number"))
    elif type_ == "mac":
        value = value.lower().replace("-", ":")
    return type_, value
