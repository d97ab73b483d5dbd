"""The adapter kernel of the compatible endpoints (and the web SDK's collect view).

``compat_endpoint`` owns what every compatible endpoint repeats: the API key → workspace
(``principal``), the key's rate limit, reading and parsing the body with the limits of
``cdp.api.parsing`` and keeping what it refuses in the ingestion log. Each system answers in
its own shape, so an endpoint gives its ``Answers``; the view then receives a ``Call`` and
only maps fields. ``Call.reject`` is the one place an adapter's rejections reach the ingestion
log (the ingestion service logs its own).
"""

import functools
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import orjson
from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import extend_schema
from rest_framework.views import APIView

from cdp.api.auth import (
    ApiKeyAuthentication,
    KeyPrincipal,
    principal_for_key,
    raw_key_from_request,
)
from cdp.api.errors import ApiError
from cdp.api.parsing import read_json
from cdp.api.ratelimit import key_rate_limited
from cdp.errors import FieldError
from events.compat.cors import cors_allow, origin_allowed, request_origin
from events.ingestion_log import ingestion_log_record

# How much of an unreadable body the ingestion log keeps.
LOGGED_BODY_CHARS = 2000


def json_response(data, status: int = 200) -> HttpResponse:
    try:
        content = orjson.dumps(data)
    except TypeError:  # an integer beyond 64 bits (jsonb gives 1e30 back as one)
        content = json.dumps(data, default=str).encode()
    return HttpResponse(content, status=status, content_type="application/json")


class Rejected(ApiError):
    """A refused body, with what the ingestion log keeps of it."""

    def __init__(
        self, message: str, *, code: str, payload, field: str | None = "body", status_code=400
    ):
        super().__init__(message, code=code, field=field, status_code=status_code)
        self.payload = payload


def exc_errors(exc: ApiError) -> list[FieldError]:
    """The ingestion log's reading of a refusal."""
    return [FieldError(exc.field or "body", exc.error_code, str(exc.detail))]


def unreadable_payload(request) -> dict:
    """The beginning of a body that could not be read (not JSON, bad gzip, too large), as
    sent."""
    raw = getattr(request, "cdp_raw_body", b"")[:LOGGED_BODY_CHARS]
    return {"raw": raw.decode(errors="replace")}


class Call:
    """One request to an adapter: who calls, its body, and what it rejects."""

    def __init__(self, request, caller: KeyPrincipal | None, endpoint: str, read=read_json):
        self.request = request
        self.caller = caller
        self.endpoint = endpoint
        self._read = read
        self._body = None
        self._has_body = False

    @property
    def workspace(self):
        return self.caller.workspace

    def body(self):
        """Return the parsed body; raise ``Rejected`` (with the body's beginning) when it
        cannot be read. Read once."""
        if not self._has_body:
            try:
                self._body = self._read(self.request)
            except Rejected:
                raise
            except ApiError as exc:
                raise Rejected(
                    str(exc.detail),
                    code=exc.error_code,
                    field=exc.field,
                    status_code=exc.status_code,
                    payload=unreadable_payload(self.request),
                ) from exc
            self._has_body = True
        return self._body

    def reject(self, rejected: Iterable[tuple[object, Sequence[FieldError]]]) -> None:
        """Keep ``(payload, errors)`` pairs in the ingestion log (nothing without a key)."""
        rejected = list(rejected)
        if rejected and self.caller is not None:
            ingestion_log_record(
                workspace=self.caller.workspace, endpoint=self.endpoint, rejected=rejected
            )

    def refuse(self, payload, exc: ApiError) -> None:
        """Keep ``payload``, refused whole for ``exc``, in the ingestion log."""
        self.reject([(payload, exc_errors(exc))])


@dataclass(frozen=True)
class Answers:
    """How one system answers the kernel's refusals. ``unauthorized`` gets why: ``"unknown"``
    (a key that is not a live key), ``"missing"`` (no key), ``"unreadable"`` (no key outside a
    body that could not be read). ``refused`` also answers a browser endpoint's 403s."""

    unauthorized: Callable[[str], HttpResponse]
    too_many_requests: Callable[[], HttpResponse]
    refused: Callable[[ApiError], HttpResponse]
    secret_required: Callable[[], HttpResponse] | None = None


def browser_refusal(request, caller: KeyPrincipal, origin: str) -> ApiError | None:
    """Why a browser's request (it sent ``Origin``) may not go on: an origin the key's
    workspace does not allow, or a secret key (a key in a web page is anyone's: browsers
    send with the workspace's public key, SPEC §2)."""
    if not origin_allowed(caller.workspace, origin, request):
        return ApiError(
            f"the origin {origin} is not among the workspace's allowed origins; add it "
            "under the workspace's allowed origins",
            code="origin_not_allowed",
            field="Origin",
            status_code=403,
        )
    if caller.is_secret:
        return ApiError(
            "a secret key must not sit in a web page: use the workspace's public key",
            code="public_key_required",
            field="writeKey",
            status_code=403,
        )
    return None


def compat_endpoint(
    *,
    endpoint: str,
    answers: Answers,
    read=read_json,
    allow_query_token: bool = False,
    secret_only: bool = False,
    body_key: str | None = None,
    browser: bool = False,
):
    """Wrap ``view(request, call, *args, **kwargs)``: find the caller's key (401), refuse a
    public key where ``secret_only`` (403, before counting), count the rate limit (429), and
    answer an ``ApiError`` the view raises in the system's shape, keeping a ``Rejected`` body
    in the ingestion log. With ``body_key`` a request without a key outside the body may carry
    it in the body under that name (Segment's ``writeKey``). A ``browser`` endpoint refuses a
    browser's request (``browser_refusal``: 403, kept in the ingestion log, before counting)
    and lets an allowed origin read its answers (``events.compat.cors``)."""

    def decorator(view):
        @csrf_exempt
        @functools.wraps(view)
        def wrapper(request, *args, **kwargs):
            origin = request_origin(request) if browser else None
            raw_key = raw_key_from_request(request, allow_query_token=allow_query_token)
            caller = principal_for_key(raw_key)
            if caller is None and (raw_key is not None or body_key is None):
                return answers.unauthorized("unknown" if raw_key is not None else "missing")
            call = Call(request, caller, endpoint, read)
            if caller is None:
                try:
                    body = call.body()
                except ApiError:
                    return answers.unauthorized("unreadable")
                value = body.get(body_key) if isinstance(body, dict) else None
                caller = call.caller = principal_for_key(value) if isinstance(value, str) else None
                if caller is None:
                    return answers.unauthorized("missing")
            if origin is None:
                return _answer(request, call, view, args, kwargs)
            refusal = browser_refusal(request, caller, origin)
            if refusal is not None:
                call.refuse({"origin": origin}, refusal)
                response = answers.refused(refusal)
            else:
                response = _answer(request, call, view, args, kwargs)
            if origin_allowed(caller.workspace, origin, request):
                cors_allow(response, origin)
            return response

        def _answer(request, call, view, args, kwargs):
            if secret_only and not call.caller.is_secret:
                return answers.secret_required()
            if key_rate_limited(request, call.caller):
                return answers.too_many_requests()
            try:
                return view(request, call, *args, **kwargs)
            except Rejected as exc:
                call.refuse(exc.payload, exc)
                return answers.refused(exc)
            except ApiError as exc:
                return answers.refused(exc)

        return wrapper

    return decorator


class CompatView(APIView):
    """A compatible endpoint as a DRF view, so that drf-spectacular describes it from the
    serializers its methods name (``extend_schema``). A request never goes through DRF's
    parsing, authentication or exception handling: ``dispatch`` hands it straight to
    ``handler``, the plain view (orjson bodies, the ``compat_endpoint`` kernel, the system's
    own answers), so wire shapes and speed are those of a plain Django view. ``path_names``
    maps the route's parameter names (as the system's documentation spells them) to the
    handler's arguments."""

    handler: Callable[..., HttpResponse]
    path_names: dict[str, str] = {}
    authentication_classes = (ApiKeyAuthentication,)
    permission_classes = ()

    def dispatch(self, request, *args, **kwargs):
        kwargs = {self.path_names.get(name, name): value for name, value in kwargs.items()}
        return type(self).handler(request, *args, **kwargs)


def described(method: str, **schema):
    """Return a method for ``CompatView`` that only carries the OpenAPI description
    ``schema`` (``extend_schema`` arguments): ``dispatch`` never calls it."""

    def documented(self, request, *args, **kwargs):  # pragma: no cover - schema only
        raise AssertionError("CompatView.dispatch serves every method")

    documented.__name__ = method
    return extend_schema(**schema)(documented)
