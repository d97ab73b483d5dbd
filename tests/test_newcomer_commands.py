"""The README's commands work as written on a fresh clone, with no environment at all: the
embedded default makes its own secret key once (``var/secret_key``, owner-only) instead of
asking for ``DJANGO_SECRET_KEY`` or ``DJANGO_DEBUG``, and keeps it, so keys and sessions made by
one command are good in the next. A server deployment (``DATABASE_URL``) with DEBUG off still
refuses to start without a secret key of its own."""

import os
import stat
import subprocess
import sys

import pytest
from django.conf import settings as django_settings


def manage(var, *args: str, **env: str) -> subprocess.CompletedProcess:
    """``python manage.py ARGS`` in a fresh process with only PATH, HOME and ``env`` set."""
    base = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root")}
    base.update(CDP_VAR_DIR=str(var), **env)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=django_settings.BASE_DIR,
        env=base,
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_create_api_key_works_as_the_readme_writes_it(tmp_path):
    var = tmp_path / "var"
    assert manage(var, "migrate", "--noinput", "-v", "0").returncode == 0
    secret = (var / "secret_key").read_text()
    assert len(secret) >= 50
    assert stat.S_IMODE((var / "secret_key").stat().st_mode) == 0o600

    done = manage(var, "create_api_key", "--workspace", "acme")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().startswith("cdp_sk_")
    public = manage(var, "create_api_key", "--workspace", "acme", "--public")
    assert public.returncode == 0, public.stderr
    assert public.stdout.strip().startswith("cdp_pk_")
    assert (var / "secret_key").read_text() == secret  # made once, then kept


@pytest.mark.parametrize("debug", ["0", ""])
def test_a_server_deployment_still_needs_its_own_secret_key(tmp_path, debug):
    done = manage(
        tmp_path / "var",
        "check",
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/test",
        DJANGO_DEBUG=debug,
    )
    assert done.returncode != 0
    assert "DJANGO_SECRET_KEY is required" in done.stderr
    assert not (tmp_path / "var" / "secret_key").exists()
