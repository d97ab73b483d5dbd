"""What the settings choose from the environment for mail and the SQLite file, read in a fresh
process (pytest-django replaces the email backend in this one): with nothing set, mail goes to
files in ``var/mail``; ``EMAIL_HOST`` switches to SMTP; ``EMAIL_BACKEND`` overrides both;
``CDP_SQLITE_PATH`` moves the embedded database."""

import json
import os
import subprocess
import sys

from django.conf import settings as django_settings

PRINT = (
    "import json, django; django.setup(); from django.conf import settings as s; "
    "print(json.dumps({'backend': s.EMAIL_BACKEND, 'folder': s.EMAIL_FILE_PATH, "
    "'host': s.EMAIL_HOST, 'port': s.EMAIL_PORT, 'tls': s.EMAIL_USE_TLS, "
    "'sender': s.DEFAULT_FROM_EMAIL, 'sqlite': str(s.DATABASES['default']['NAME']), "
    "'options': s.DATABASES['default'].get('OPTIONS', {})}))"
)
SET_BY_TESTS = ("DATABASE_URL", "CELERY_BROKER_URL", "REDIS_URL", "CDP_SQLITE_PATH")


def settings_with(tmp_path, **env: str) -> dict:
    base = {k: v for k, v in os.environ.items() if k not in SET_BY_TESTS and "EMAIL" not in k}
    base.update(DJANGO_SETTINGS_MODULE="cdp.settings", DJANGO_DEBUG="1")
    base.update(CDP_VAR_DIR=str(tmp_path / "var"), **env)
    done = subprocess.run(
        [sys.executable, "-c", PRINT],
        cwd=django_settings.BASE_DIR,
        env=base,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_mail_goes_to_files_without_smtp_settings_and_over_smtp_with_them(tmp_path):
    embedded = settings_with(tmp_path)
    assert embedded["backend"] == "cdp.mail.FolderEmailBackend"
    assert embedded["folder"] == str(tmp_path / "var" / "mail")
    assert embedded["sqlite"] == str(tmp_path / "var" / "cdp.sqlite3")
    assert embedded["options"]["transaction_mode"] == "IMMEDIATE"
    assert "journal_mode=WAL" in embedded["options"]["init_command"]

    smtp = settings_with(
        tmp_path,
        EMAIL_HOST="smtp.example.com",
        EMAIL_PORT="2525",
        DEFAULT_FROM_EMAIL="Acme <news@example.com>",
        CDP_SQLITE_PATH=str(tmp_path / "elsewhere.sqlite3"),
    )
    assert smtp["backend"] == "django.core.mail.backends.smtp.EmailBackend"
    assert (smtp["host"], smtp["port"], smtp["tls"]) == ("smtp.example.com", 2525, True)
    assert smtp["sender"] == "Acme <news@example.com>"
    assert smtp["sqlite"] == str(tmp_path / "elsewhere.sqlite3")

    chosen = settings_with(tmp_path, EMAIL_BACKEND="django.core.mail.backends.console.EmailBackend")
    assert chosen["backend"] == "django.core.mail.backends.console.EmailBackend"
