"""Production settings: `manage.py check --deploy` is clean with the documented environment,
plain HTTP is redirected behind a TLS proxy (not /healthz), and pages carry the
Content-Security-Policy that refuses inline scripts."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.test import Client

ROOT = Path(__file__).resolve().parent.parent

# The README's production environment ("Production settings and CSP").
PRODUCTION = {
    "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
    "DJANGO_ALLOWED_HOSTS": "cdp.example.com",
    "DJANGO_CSRF_TRUSTED_ORIGINS": "https://cdp.example.com",
    "DJANGO_BEHIND_PROXY": "1",
    "DJANGO_SECURE_HSTS_SECONDS": "31536000",
    "DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS": "1",
    "DJANGO_SECURE_HSTS_PRELOAD": "1",
}


def _check_deploy(extra: dict) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "CDP_LOGIN"))}
    env.update(extra)
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_with_the_documented_environment():
    """DEBUG off, a long random key, the host, HTTPS behind a proxy and HSTS: no warnings."""
    done = _check_deploy(PRODUCTION)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no issues" in done.stdout
    assert "WARNING" not in done.stdout + done.stderr.replace("INFO axes", "")


def test_debug_off_is_https_only_by_default():
    """Without DEBUG, redirecting to HTTPS and HTTPS-only cookies are on by default: the only
    remaining warning is HSTS, which stays opt-in."""
    done = _check_deploy({k: PRODUCTION[k] for k in ("DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS")})
    assert done.returncode != 0
    warnings = {
        line.split(")")[0].lstrip("?: (")
        for line in (done.stdout + done.stderr).splitlines()
        if line.startswith("?: (")
    }
    assert warnings == {"security.W004"}, done.stdout + done.stderr


@pytest.mark.django_db
def test_https_redirect_behind_a_proxy(settings):
    """Plain HTTP is redirected; a request the proxy marks as HTTPS is served; /healthz is
    answered over HTTP for load balancers."""
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    client = Client()
    plain = client.get("/admin/login/")
    assert plain.status_code == 301
    assert plain["Location"] == "https://testserver/admin/login/"
    assert client.get("/admin/login/", headers={"X-Forwarded-Proto": "https"}).status_code == 200
    assert client.get("/healthz").status_code in (200, 503)


@pytest.mark.django_db
def test_admin_pages_carry_the_content_security_policy():
    """The admin's pages (login and a custom page alike) allow scripts from this app only:
    no inline script, no other origin, no framing."""
    client = Client()
    login = client.get("/admin/login/")
    client.force_login(User.objects.create_superuser("root", password="pw"))
    for response in (login, client.get("/admin/"), client.get("/admin/events/analytics/")):
        assert response.status_code == 200
        policy = dict(
            part.strip().split(" ", 1) for part in response["Content-Security-Policy"].split(";")
        )
        assert policy["script-src"] == "'self'"
        assert policy["default-src"] == "'self'"
        assert policy["frame-ancestors"] == "'none'"
        assert policy["object-src"] == "'none'"
