"""API keys sent as ``?access_token=`` (the DM Hub-compatible endpoints) never reach a log:
runserver's and gunicorn's access lines, the app's own log records and the ingestion log show
``access_token=[redacted]``."""

import contextlib
import json
import logging
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from events.models import IngestionLogEntry
from tests.api_helpers import workspace_api

ROOT = Path(__file__).resolve().parent.parent
SECRET = "cdp_sk_TopSecretValue123"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _serve_and_log(command: list[str], port: int, tmp_path) -> str:
    """Start a server, send two requests carrying the key, stop it, return what it logged."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "CELERY_BROKER_URL", "REDIS_URL")
    }
    env.update(DJANGO_DEBUG="1", CDP_VAR_DIR=str(tmp_path), PYTHONUNBUFFERED="1")
    log = tmp_path / "server.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=1):
                        break
                except OSError:
                    assert server.poll() is None, log.read_text()
                    assert time.monotonic() < deadline, log.read_text()
                    time.sleep(0.2)
            for path in (
                f"/healthz?access_token={SECRET}",
                f"/v1/customerevents?x=1&access%5Ftoken={SECRET}&customerId=a",
            ):
                # Any status: the line is logged all the same.
                with contextlib.suppress(urllib.error.HTTPError):
                    urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=30)
            time.sleep(0.5)
        finally:
            server.terminate()
            server.wait(timeout=30)
    return log.read_text()


def test_runserver_request_lines_are_redacted(tmp_path):
    """`manage.py runserver` (what `make run` serves with) logs the request lines without
    the key."""
    port = _free_port()
    text = _serve_and_log(
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
        port,
        tmp_path,
    )
    assert "GET /healthz?access_token=[redacted] HTTP/1.1" in text, text
    assert "access%5Ftoken=[redacted]&customerId=a" in text, text
    assert SECRET not in text


def test_gunicorn_access_log_is_redacted(tmp_path):
    """gunicorn started in the project folder (its gunicorn.conf.py) writes access lines
    without the key."""
    port = _free_port()
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    text = _serve_and_log(
        [
            gunicorn,
            "cdp.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--access-logfile",
            "-",
        ],
        port,
        tmp_path,
    )
    assert "GET /healthz?access_token=[redacted] HTTP/1.1" in text, text
    assert SECRET not in text


def test_app_log_records_are_redacted():
    """A record of the app that quotes a URL with the key is written redacted by the
    console handler."""
    handler = next(h for h in logging.getLogger().handlers if h.name == "console")
    record = logging.getLogger("cdp.test").makeRecord(
        "cdp.test",
        logging.WARNING,
        __file__,
        1,
        "refused %s",
        (f"/v1/x?access_token={SECRET}",),
        None,
    )
    assert handler.filter(record)
    line = handler.format(record)
    assert SECRET not in line
    assert "refused /v1/x?access_token=[redacted]" in line


@pytest.mark.django_db
def test_the_ingestion_log_keeps_no_key(workspace):
    """A rejected DM Hub event sent with ``?access_token=`` is kept without the key."""
    api = workspace_api(workspace)
    client = api.secret.__class__()
    response = client.post(
        f"/v1/customerevents?access_token={api.secret_raw}", {"customerId": "", "event": "c_x"}
    )
    assert response.status_code == 400
    entries = list(IngestionLogEntry.objects.filter(workspace=workspace))
    assert entries
    for entry in entries:
        stored = json.dumps([entry.payload, entry.message, entry.field])
        assert api.secret_raw not in stored
