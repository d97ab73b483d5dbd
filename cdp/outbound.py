"""The one HTTP client for calls leaving the service (flow webhooks; providers and destinations
next), so that none of them reaches an internal address (SPEC §11).

The transport is requests-hardened's ``HTTPSession``: each request's host is resolved once,
the connection goes to that address (so DNS cannot answer differently between the check and
the connection), and an address that is not public is refused with ``OutboundRefused`` before
anything is sent. Refused: loopback, private, link-local, multicast, reserved, unspecified and
shared (CG-NAT) addresses, IPv4 and IPv6, IPv4-mapped IPv6 included. Redirects are never
followed, every request has a timeout, environment proxies are ignored.

``CDP_OUTBOUND_ALLOWED_HOSTS`` names hosts that are reached anyway (``host`` for any port,
``host:port`` for one), for development and the tests' own receivers on 127.0.0.1; they are
matched by the URL's host name, before any resolution.

``url_check`` is the same rule at save time: an http(s) URL whose host resolves, every
address allowed. ``outbound_request`` sends and reads at most ``max_body`` bytes of the answer.
"""

import ipaddress
import logging
import socket
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

import requests
import urllib3
from django.conf import settings
from requests.adapters import HTTPAdapter
from requests_hardened import Config, HTTPSession
from requests_hardened.ip_filter import EXTRA_BLOCKED_NET_RANGES, InvalidIPAddress
from requests_hardened.ip_filter_adapter import IPFilterAdapter

logger = logging.getLogger(__name__)
TIMEOUT = (5, 10)  # seconds: connect, read
MAX_BODY = 1_048_576  # bytes of an answer read by default
SCHEMES = ("http", "https")
DEFAULT_PORTS = {"http": 80, "https": 443}

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class OutboundRefused(InvalidIPAddress):
    """A URL the service may not call: its address is internal, it does not resolve, or it is
    not http(s). ``str(exc)`` says why in words a marketer can act on. A
    ``requests.RequestException``, so callers catching network errors see it too."""


def address_refused(address: Address) -> str | None:
    """Return why ``address`` may not be called ("loopback", "private"…), None if it is
    public. An IPv4-mapped IPv6 address is judged as its IPv4 address."""
    if address.version == 6 and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    checks = (
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("unspecified", address.is_unspecified),
        ("reserved", address.is_reserved or getattr(address, "is_site_local", False)),
        ("private", address.is_private),
    )
    for name, refused in checks:
        if refused:
            return name
    if not address.is_global or any(address in net for net in EXTRA_BLOCKED_NET_RANGES):
        return "reserved"  # not publicly routable (shared CG-NAT, translation ranges…)
    return None


def _refusal(host: str, address: Address) -> str | None:
    """Return the message refusing ``host`` at ``address``, None if the address is public."""
    reason = address_refused(address)
    if reason is None:
        return None
    if address.version == 6 and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    article = "an" if reason[0] in "aeiou" else "a"
    where = f"{host} is" if host == str(address) else f"{host} is at {address},"
    return f"{where} {article} {reason} address: the service only calls public addresses"


def _allowed_entries() -> set[tuple[str, int | None]]:
    configured = settings.CDP_OUTBOUND_ALLOWED_HOSTS
    if isinstance(configured, str):
        configured = configured.split(",")
    entries = set()
    for raw in configured:
        entry = raw.strip().lower()
        host, port = entry, None
        if entry.startswith("["):  # [v6] or [v6]:port
            host, _, rest = entry[1:].partition("]")
            port = int(rest[1:]) if rest.startswith(":") and rest[1:].isdigit() else None
        elif entry.count(":") == 1:
            host, _, digits = entry.partition(":")
            port = int(digits) if digits.isdigit() else None
        entries.add((host, port))
    return entries


def host_allowed(parts: SplitResult) -> bool:
    """Whether the URL's host (any port, or its port) is in ``CDP_OUTBOUND_ALLOWED_HOSTS``."""
    host = (parts.hostname or "").lower()
    try:
        port = parts.port or DEFAULT_PORTS.get(parts.scheme)
    except ValueError:
        return False
    entries = _allowed_entries()
    return (host, None) in entries or (host, port) in entries


def url_check(url: str) -> None:
    """Raise ``OutboundRefused`` unless ``url`` is http(s) and every address its host
    resolves to is public (or the host is allowed by ``CDP_OUTBOUND_ALLOWED_HOSTS``)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise OutboundRefused(f"the URL cannot be read: {exc}") from exc
    if parts.scheme not in SCHEMES or not parts.hostname:
        raise OutboundRefused("give an http:// or https:// URL with a host")
    if host_allowed(parts):
        return
    host = parts.hostname
    try:
        resolved = socket.getaddrinfo(
            host, port or DEFAULT_PORTS[parts.scheme], type=socket.SOCK_STREAM
        )
    except (OSError, UnicodeError) as exc:
        raise OutboundRefused(
            f"the host {host} does not resolve (no DNS answer); give a "
            "host reachable from the internet"
        ) from exc
    for *_, sockaddr in resolved:
        refusal = _refusal(host, ipaddress.ip_address(sockaddr[0].split("%", 1)[0]))
        if refusal:
            raise OutboundRefused(refusal)


class _Adapter(IPFilterAdapter):
    """requests-hardened's filter, plus ``address_refused`` on the address it pins, and
    skipped for allowed hosts."""

    def build_connection_pool_key_attributes(self, request, verify, cert=None):
        if host_allowed(urlsplit(request.url)):
            return HTTPAdapter.build_connection_pool_key_attributes(self, request, verify, cert)
        host = urlsplit(request.url).hostname
        try:
            host_params, pool_kwargs = super().build_connection_pool_key_attributes(
                request, verify, cert
            )
        except InvalidIPAddress as exc:  # its own check, logged by requests-hardened
            raise OutboundRefused(
                _refusal(host, ipaddress.ip_address(str(exc))) or f"{host} is not a public address"
            ) from exc
        refusal = _refusal(host, ipaddress.ip_address(host_params["host"].strip("[]")))
        if refusal:
            logger.warning("outbound call refused: %s", refusal)
            raise OutboundRefused(refusal)
        return host_params, pool_kwargs


def outbound_session() -> HTTPSession:
    """Return a session with the guard mounted: no redirects, ``TIMEOUT`` unless given."""
    session = HTTPSession(
        Config(
            ip_filter_enable=True,
            ip_filter_allow_loopback_ips=False,
            never_redirect=True,
            default_timeout=TIMEOUT,
        )
    )
    for prefix, https in (("http://", False), ("https://", True)):
        session.mount(prefix, _Adapter(is_https_proto=https))
    session.trust_env = False  # a proxy from the environment would be the one resolving
    return session


@dataclass(frozen=True)
class OutboundResponse:
    status: int
    headers: dict
    body: bytes  # at most ``max_body`` bytes of the answer

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


def outbound_request(
    method: str, url: str, *, max_body: int = MAX_BODY, **kwargs
) -> OutboundResponse:
    """Send one request through the guard; read at most ``max_body`` bytes of the answer.
    Raise ``OutboundRefused`` for a refused address (nothing was sent) and other
    ``requests.RequestException`` for network errors."""
    with outbound_session() as session:
        response = session.request(method, url, stream=True, **kwargs)
        try:
            body = response.raw.read(max_body, decode_content=True) if max_body else b""
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise requests.ConnectionError(f"reading the answer failed: {exc}") from exc
        finally:
            response.close()
        return OutboundResponse(
            status=response.status_code, headers=dict(response.headers), body=body
        )
