"""Request bodies: JSON through orjson, ``Content-Encoding: gzip`` decoded with a bound so a
small compressed body cannot expand without limit."""

import zlib

import orjson

from cdp.api.errors import ApiError

DEFAULT_MAX_BYTES = 6 * 1024 * 1024


def read_body(request, *, max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
    """Return the request body, gunzipped when it says so, never more than ``max_bytes``."""
    length = request.META.get("CONTENT_LENGTH") or "0"
    if length.isdigit() and int(length) > max_bytes:
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
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ApiError(f"the body is not valid JSON: {exc}", code="invalid_json",
                       field="body") from exc
