"""The outbound HTTP client (``cdp.outbound``, SPEC §11): internal addresses are refused after
DNS resolution, at save time (``url_check``) and when sending (nothing reaches the receiver);
``CDP_OUTBOUND_ALLOWED_HOSTS`` lets named hosts through; redirects are not followed; answers
are read up to a bound; proxies from the environment are not used. Real HTTP servers on
127.0.0.1 stand for internal services."""

import pytest

from cdp.outbound import OutboundRefused, outbound_request, url_check
from tests.http_receiver import Receiver

INTERNAL = [
    ("http://127.0.0.1:5432/", "127.0.0.1 is a loopback address"),
    ("http://10.0.0.1/", "10.0.0.1 is a private address"),
    ("http://192.168.1.1/", "a private address"),
    ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a link-local address"),
    ("http://[::ffff:169.254.169.254]/", "is at 169.254.169.254, a link-local address"),
    ("http://[::ffff:127.0.0.1]:5432/", "is at 127.0.0.1, a loopback address"),
    ("http://[::a9fe:a9fe]/", "a reserved address"),  # IPv4-compatible form
    ("http://localhost:6379/", "localhost is at 127.0.0.1, a loopback address"),
    ("http://[::1]/", "::1 is a loopback address"),
    ("http://0.0.0.0:8000/", "0.0.0.0 is an unspecified address"),
    ("http://224.0.0.1/", "224.0.0.1 is a multicast address"),
    ("http://[ff02::1]/", "a multicast address"),
    ("http://[fe80::1]/", "a link-local address"),
    ("http://[fc00::1]/", "a private address"),
    ("http://240.0.0.1/", "a reserved address"),
    ("http://100.64.0.1/", "a reserved address"),  # shared (CG-NAT) space
    ("http://[64:ff9b::a9fe:a9fe]/", "a reserved address"),  # NAT64 of 169.254.169.254
    ("http://metadata.google.internal/computeMetadata/v1/", "metadata.google.internal"),
    ("http://nothing.invalid/", "does not resolve"),
]


@pytest.fixture(autouse=True)
def _nothing_allowed(settings):
    settings.CDP_OUTBOUND_ALLOWED_HOSTS = []


@pytest.mark.parametrize(("url", "why"), INTERNAL, ids=[u for u, _ in INTERNAL])
def test_internal_and_unresolvable_urls_are_refused_at_save(url, why):
    """Each internal address class (IPv4, IPv6, mapped forms, names resolving there) and a
    host without a DNS answer is refused, saying why."""
    with pytest.raises(OutboundRefused) as refused:
        url_check(url)
    assert why in str(refused.value)


@pytest.mark.parametrize("url", ["ftp://93.184.215.14/x", "http:///path", "file:///etc/passwd"])
def test_other_schemes_and_missing_hosts_are_refused(url):
    """Only http:// and https:// URLs with a host are called."""
    with pytest.raises(OutboundRefused, match="http:// or https://"):
        url_check(url)


def test_public_address_passes():
    """A public address (an IP literal: no DNS needed) is accepted."""
    url_check("https://93.184.215.14:8443/hooks")
    url_check("http://[2606:2800:21f:cb07:6820:80da:af6b:8b2c]/in")


def test_allow_list_names_hosts_and_ports(settings):
    """``host`` allows every port of the host, ``host:port`` that port only; a bracketed IPv6
    entry works the same; other hosts stay refused."""
    settings.CDP_OUTBOUND_ALLOWED_HOSTS = ["localhost", "127.0.0.1:9000", "[::1]:8080"]
    url_check("http://localhost:1234/a")
    url_check("http://LOCALHOST/a")
    url_check("http://127.0.0.1:9000/hook")
    url_check("http://[::1]:8080/hook")
    for refused in (
        "http://127.0.0.1:9001/hook",
        "http://[::1]:8081/",
        "http://10.0.0.1/",
        "http://127.0.0.1/",
    ):
        with pytest.raises(OutboundRefused):
            url_check(refused)


def test_send_to_an_internal_address_is_refused_before_anything_leaves(caplog):
    """At send time the resolved address is checked again: a loopback service (here a real
    one) gets no request, the refusal is raised and logged."""
    with Receiver() as internal:
        for url in (
            internal.url,
            f"http://localhost:{internal.port}/hook",
            f"http://[::ffff:127.0.0.1]:{internal.port}/hook",
        ):
            with pytest.raises(OutboundRefused, match="loopback"):
                outbound_request("POST", url, data=b"{}")
        assert internal.received == []
    assert "127.0.0.1" in caplog.text


def test_allowed_host_is_called_and_the_answer_read_up_to_the_bound(settings):
    """An allowed host gets the request; the answer's body is read up to ``max_body``."""
    with Receiver(body=b"x" * 5000) as receiver:
        settings.CDP_OUTBOUND_ALLOWED_HOSTS = [f"127.0.0.1:{receiver.port}"]
        answer = outbound_request("POST", receiver.url, data=b'{"a": 1}', max_body=300)
        assert (answer.status, answer.body) == (200, b"x" * 300)
        [(method, path, _, body)] = receiver.received
        assert (method, path, body) == ("POST", "/hook", b'{"a": 1}')


def test_redirects_are_not_followed(settings):
    """A 302 to another (allowed) server is returned as it is; that server gets nothing."""
    with Receiver() as target, Receiver(status=302) as redirecting:
        redirecting.headers = {"Location": target.url}
        settings.CDP_OUTBOUND_ALLOWED_HOSTS = ["127.0.0.1"]
        answer = outbound_request("POST", redirecting.url, data=b"{}")
        assert answer.status == 302
        assert answer.headers["Location"] == target.url
        assert len(redirecting.received) == 1
        assert target.received == []


def test_proxies_from_the_environment_are_not_used(settings, monkeypatch):
    """``HTTP_PROXY`` would make the proxy resolve the host behind the guard's back: it is
    ignored, the request goes straight to the (allowed) receiver."""
    with Receiver() as proxy, Receiver() as receiver:
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.port}")
        monkeypatch.setenv("http_proxy", f"http://127.0.0.1:{proxy.port}")
        settings.CDP_OUTBOUND_ALLOWED_HOSTS = [f"127.0.0.1:{receiver.port}"]
        assert outbound_request("GET", receiver.url).status == 200
        assert (len(receiver.received), proxy.received) == (1, [])
