"""Request bodies: JSON through orjson, ``Content-Encoding: gzip`` decoded with a bound so a
small compressed body cannot expand without limit.

Every JSON document a request brings (the API's DRF parser, the ingest and compatible
endpoints' body reader, the admin's JSON fields and views) is parsed by ``json_parse``, which
refuses documents nested deeper than ``CDP_MAX_JSON_DEPTH`` before any recursive code (rule
compilers, serializers) sees them.
"""

import json
import math
import zlib

import orjson
from django.conf import settings
from rest_framework.parsers import BaseParser

from cdp.api.exceptions import ApiError
from cdp.ids import ascii_digits

DEFAULT_MAX_BYTES = 6 * 1024 * 1024


class JsonError(ValueError):
    """A document that is not JSON (``invalid_json``) or is nested too deep (``too_deep``)."""

    def __init__(self, message: str, code: str = "invalid_json"):
        super().__init__(message)
        self.code = code


def json_parse(raw: bytes | str, *, exact_integers: bool = False):
    """Return the JSON document in ``raw``; raise ``JsonError`` when it is not JSON or is nested
    deeper than ``CDP_MAX_JSON_DEPTH`` arrays and objects. orjson reads an integer beyond 64
    bits as a float; ``exact_integers`` reads with Python's parser instead, which keeps it
    (for the management API, whose serializers then refuse it by its range)."""
    if exact_integers:
        value = _python_parse(raw, None)
    else:
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            if str(exc).startswith("depth limit exceeded"):  # orjson's own bound, 1024
                raise JsonError(_too_deep_message(), "too_deep") from exc
            if not str(exc).startswith("number is infinity"):
                raise JsonError(f"not valid JSON: {exc}") from exc
            # An integer beyond a double (10**400) is valid JSON: Python's parser keeps it,
            # so the field it is in can be named when it is refused.
            value = _python_parse(raw, exc)
    limit = settings.CDP_MAX_JSON_DEPTH
    if isinstance(raw, str):
        raw = raw.encode(errors="replace")
    # Fewer brackets than the limit cannot nest deeper than it: most bodies stop here.
    if raw.count(b"[") + raw.count(b"{") > limit and nested_deeper(value, limit):
        raise JsonError(_too_deep_message(), "too_deep")
    return value


def _python_parse(raw: bytes | str, cause: Exception | None):
    try:
        return json.loads(raw, parse_float=_finite, parse_constant=_no_constant)
    except RecursionError:
        raise JsonError(_too_deep_message(), "too_deep") from cause
    except ValueError as exc:
        raise JsonError(f"not valid JSON: {exc}") from cause or exc


def _finite(text: str) -> float:
    number = float(text)
    if math.isinf(number):
        raise ValueError(f"the number {text[:20]} is out of range")
    return number


def _no_constant(text: str):
    raise ValueError(f"{text} is not JSON")


def _too_deep_message() -> str:
    return (
        f"nested deeper than {settings.CDP_MAX_JSON_DEPTH} levels of arrays and objects "
        "(CDP_MAX_JSON_DEPTH)"
    )


def nested_deeper(value, limit: int) -> bool:
    """True when ``value`` nests lists and dicts more than ``limit`` levels deep; iterative, so
    any depth is safe to measure."""
    if value.__class__ is not dict and value.__class__ is not list:
        return False
    stack = [(value, 1)]
    pop, push = stack.pop, stack.append
    while stack:
        node, depth = pop()
        if depth > limit:
            return True
        for child in node.values() if node.__class__ is dict else node:
            kind = child.__class__
            if kind is dict or kind is list:
                push((child, depth + 1))
    return False


class BoundedJSONDecoder(json.JSONDecoder):
    """``json_parse`` as a ``json.JSONDecoder``, for the admin's JSON form fields
    (``forms.JSONField(decoder=BoundedJSONDecoder)``): their errors stay Django's "Enter a
    valid JSON." and a deep document never reaches recursive code."""

    def decode(self, s, *args, **kwargs):
        try:
            return json_parse(s)
        except JsonError as exc:
            raise json.JSONDecodeError(str(exc), s, 0) from exc


class JsonParser(BaseParser):
    """DRF's JSON parser for the native API: orjson, at most ``DATA_UPLOAD_MAX_MEMORY_SIZE``
    bytes, the depth bound of ``json_parse`` and no NUL characters, each refused with a 4xx
    naming the body (or the field holding the NUL)."""

    media_type = "application/json"

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        raw = stream.read(limit + 1) if limit is not None else stream.read()
        if limit is not None and len(raw) > limit:
            raise ApiError(
                f"request body over {limit} bytes",
                code="body_too_large",
                field="body",
                status_code=413,
            )
        try:
            body = json_parse(raw, exact_integers=True)
        except JsonError as exc:
            raise ApiError(f"the body is {exc}", code=exc.code, field="body") from exc
        if b"\\u0000" in raw:
            nul_refuse(body)
        return body


def read_body(request, *, max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
    """Return the request body, gunzipped when it says so, never more than ``max_bytes``."""
    length = request.META.get("CONTENT_LENGTH") or "0"
    if ascii_digits(length) and int(length) > max_bytes:
        raise ApiError(
            f"request body over {max_bytes} bytes", code="body_too_large", status_code=413
        )
    raw = request.read(max_bytes + 1) if hasattr(request, "read") else request.body
    request.cdp_raw_body = raw  # the stream is consumed: keep the bytes for the ingestion log
    if len(raw) > max_bytes:
        raise ApiError(
            f"request body over {max_bytes} bytes", code="body_too_large", status_code=413
        )
    if request.META.get("HTTP_CONTENT_ENCODING", "").lower() == "gzip":
        decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            raw = decompressor.decompress(raw, max_bytes + 1)
        except zlib.error as exc:
            raise ApiError("the body is not valid gzip", code="invalid_gzip") from exc
        if len(raw) > max_bytes or decompressor.unconsumed_tail:
            raise ApiError(
                f"decompressed body over {max_bytes} bytes", code="body_too_large", status_code=413
            )
    return raw


def read_json(request, *, max_bytes: int = DEFAULT_MAX_BYTES):
    """Parse the body as JSON or raise a 400 naming the problem."""
    raw = read_body(request, max_bytes=max_bytes)
    if not raw.strip():
        raise ApiError("the body is empty; send a JSON document", code="required", field="body")
    try:
        body = json_parse(raw)
    except JsonError as exc:
        raise ApiError(f"the body is {exc}", code=exc.code, field="body") from exc
    if b"\\u0000" in raw:  # cheap test first: JSON can only carry NUL escaped
        nul_refuse(body)
    return body


def nul_path(value, path: str = "") -> str | None:
    """The path (``a.b[2]``) of the first key or string in ``value`` that holds a NUL character,
    which PostgreSQL cannot store; None when there is none."""
    if isinstance(value, str):
        return (path or "body") if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            inner = f"{path}.{key}" if path else str(key)
            if "\x00" in key:
                return inner
            if (found := nul_path(item, inner)) is not None:
                return found
    elif isinstance(value, list):
        for i, item in enumerate(value):
            if (found := nul_path(item, f"{path}[{i}]")) is not None:
                return found
    return None


def nul_refuse(value, path: str = "") -> None:
    """Raise a 400 naming the first place in ``value`` (found at ``path``) holding a NUL
    character."""
    if (path := nul_path(value, path)) is not None:
        raise ApiError(f"{path} must not contain NUL characters", code="invalid", field=path)
