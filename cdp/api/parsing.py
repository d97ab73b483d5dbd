"""Request bodies: JSON through orjson, ``Content-Encoding: gzip`` decoded with a bound so a
small compressed body cannot expand without limit."""

import zlib

import orjson

from cdp.api.errors import ApiError
from cdp.ids import ascii_digits

DEFAULT_MAX_BYTES = 6 * 1024 * 1024


def read_body(request, *, max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
    """Return the request body, gunzipped when it says so, never more than ``max_bytes``."""
    length = request.META.get("CONTENT_LENGTH") or "0"
    if ascii_digits(length) and int(length) > max_bytes:
        raise ApiError(f"request body over {max_bytes} bytes", code="body_too_large",
                       status_code=413)
    raw = request.read(max_bytes + 1) if hasattr(request, "read") else request.body
    request.cdp_raw_body = raw  # the stream is consumed: keep the bytes for the ingestion log
    if len(raw) > max_bytes:
        raise ApiError(f"request body over {max_bytes} bytes", code="body_too_large",
                       status_code=413)
    if request.META.get("HTTP_CONTENT_ENCODING", "").lower() == "gzip":
        decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            raw = decompressor.decompress(raw, max_bytes + 1)
        except zlib.error as exc:
            raise ApiError("the body is not valid gzip", code="invalid_gzip") from exc
        if len(raw) > max_bytes or decompressor.unconsumed_tail:
            raise ApiError(f"decompressed body over {max_bytes} bytes", code="body_too_large",
                           status_code=413)
    return raw


def read_json(request, *, max_bytes: int = DEFAULT_MAX_BYTES):
    """Parse the body as JSON or raise a 400 naming the problem."""
    raw = read_body(request, max_bytes=max_bytes)
    if not raw.strip():
        raise ApiError("the body is empty; send a JSON document", code="required", field="body")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ApiError(f"the body is not valid JSON: {exc}", code="invalid_json",
                       field="body") from exc
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
