"""Periodic work in the embedded default (SPEC §1): ``make run`` with no environment starts
the web server and ``celery -A cdp beat`` with no broker; Celery then runs each due task inside
beat's own process. Checked here by running ``scripts/run.sh`` itself (what ``make run`` runs:
migrate, the demo, the admin user, beat and the web server, supervised) in a folder of its own,
adding a flow through the services in another process, and watching what a user would: a run
that passes its 1-minute wait and emails the person (a file in the mail folder, listed by the
admin's "Sent mail" page), a segment refresh, a scheduled export run, ``/healthz`` and the
admin index telling that the scheduler runs and no worker is needed.

Nothing is sped up but one schedule row (the segment refresh every 2 s), and nothing sleeps but
the polling. Runs in the SQLite suite (the embedded default); about 2 minutes.
"""

import http.cookiejar
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connection

from events.exports.models import ExportRequest
from flows.models import FlowRun
from people.models import PersonTag, Segment

pytestmark = [pytest.mark.beat]

STARTUP_SECONDS = 300  # migrations and the demo's 20,000 events on a busy machine
SECONDS = 150  # the longest anything else may take to show: the wait is 60 s


@pytest.fixture(autouse=True)
def _sqlite_suite_only():
    if connection.vendor != "sqlite":
        pytest.skip("the embedded default (SQLite, no broker) runs in the SQLite suite")


def embedded_environment(var: Path) -> dict[str, str]:
    """``make run``'s environment with nothing set: no database URL, no broker, no SMTP."""
    unset = {"DATABASE_URL", "CELERY_BROKER_URL", "REDIS_URL", "CDP_SQLITE_PATH", "CDP_MAIL_DIR"}
    env = {k: v for k, v in os.environ.items() if k not in unset and not k.startswith("EMAIL_")}
    env.pop("CDP_EXPORT_DIR", None)
    env.update(DJANGO_DEBUG="1", CDP_VAR_DIR=str(var), CDP_HEARTBEAT_SECONDS="2")
    return env


def run(args: list[str], env: dict) -> str:
    done = subprocess.run(
        [sys.executable, *args],
        cwd=django_settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def wait_for(condition, what: str, log: Path, seconds: float = SECONDS):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}; make run said:\n{log.read_text()[-4000:]}")


def one(database: Path, sql: str, *params):
    with sqlite3.connect(database, timeout=30) as db:
        return db.execute(sql, params).fetchone()


def mails_to(folder: Path, address: str) -> list[str]:
    files = sorted(folder.glob("*.log")) if folder.is_dir() else []
    return [text for path in files if f"To: {address}" in (text := path.read_text())]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def healthz(url: str) -> dict | None:
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=5) as response:
            return json.load(response)
    except OSError:  # not serving yet (or answering 503)
        return None


class Admin:
    """The admin of the running server, logged in as ``make run``'s admin user."""

    def __init__(self, url: str, password: str):
        self.url = url
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )
        login = self.get("/admin/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login).group(1)
        form = {"csrfmiddlewaretoken": token, "username": "admin", "password": password}
        request = urllib.request.Request(
            f"{url}/admin/login/?next=/admin/",
            data=urllib.parse.urlencode(form).encode(),
            headers={"Referer": f"{url}/admin/login/"},
        )
        with self.opener.open(request, timeout=30) as response:
            assert response.url.endswith("/admin/"), "the login was refused"

    def get(self, path: str) -> str:
        with self.opener.open(f"{self.url}{path}", timeout=30) as response:
            return response.read().decode()


@pytest.fixture(scope="module")
def embedded(tmp_path_factory):
    """``scripts/run.sh`` serving from a folder of its own, with the scenario's data added."""
    var = tmp_path_factory.mktemp("embedded") / "var"
    port = free_port()
    env = embedded_environment(var)
    log = var.parent / "make-run.log"
    server = subprocess.Popen(
        ["bash", "scripts/run.sh"],
        cwd=django_settings.BASE_DIR,
        env={**env, "VENV": sys.prefix, "HOST": "127.0.0.1", "PORT": str(port)},
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(
            lambda: (
                (server.poll() is None or pytest.fail(log.read_text()[-4000:]))
                and (health := healthz(url))
                and health["scheduler"]["lastSeen"]
            ),
            "make run to serve, with the scheduler heard from",
            log,
            STARTUP_SECONDS,
        )
        password = re.search(r"password: (\S+)", log.read_text()).group(1)
        data = json.loads(run(["-m", "tests.embedded_scenario"], env).strip().splitlines()[-1])
        yield {
            "var": var,
            "database": var / "cdp.sqlite3",
            "log": log,
            "url": url,
            "admin": Admin(url, password),
            **data,
        }
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # run.sh stops its supervised processes
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def test_make_run_says_the_scheduler_runs_and_no_worker_is_needed(embedded):
    """``/healthz`` and the admin index of the running install tell the truth: the scheduler
    was seen seconds ago, tasks run in-process, mail goes to the folder."""
    health = healthz(embedded["url"])
    assert health["status"] == "ok"
    assert health["broker"] == {"ok": True, "mode": "in-process"}
    assert health["worker"]["mode"] == "in-process"
    assert health["scheduler"]["ok"] is True
    assert health["scheduler"]["ageSeconds"] < 60
    index = embedded["admin"].get("/admin/")
    assert "Scheduler:\n      last seen" in index
    assert "No scheduler has been heard from lately" not in index
    assert "none needed (no broker configured)" in index
    assert f"written to the folder <code>{embedded['var'] / 'mail'}</code>" in index


def test_beat_resumes_a_wait_and_the_email_action_writes_to_the_mail_folder(embedded):
    """Ann's run waits 1 minute; beat (no broker, no worker) resumes it, and the flow emails
    her (a file in ``var/mail``) and tags her."""
    database, log = embedded["database"], embedded["log"]
    run_table, tag_table = FlowRun._meta.db_table, PersonTag._meta.db_table
    # The scenario left the run waiting and no mail to Ann (it asserts so); the web server
    # gets no request about her: only beat can move her on.
    wait_for(
        lambda: (
            one(database, f"SELECT state FROM {run_table} WHERE id = ?", embedded["run"])
            == (FlowRun.State.FINISHED,)
        ),
        "the run to pass its wait and finish",
        log,
    )
    tag = one(database, f"SELECT name FROM {tag_table} WHERE person_id = ?", embedded["person"])
    assert tag == ("mailed",)
    (text,) = mails_to(embedded["var"] / "mail", "ann@example.com")
    assert "Subject: Still going to Rome?" in text
    assert "Hi Ann, seats to Rome are going." in text


def test_the_admin_lists_the_mail_beat_wrote(embedded):
    """The admin's "Sent mail" page lists the message (time, to, subject) and shows it on
    click."""
    wait_for(
        lambda: mails_to(embedded["var"] / "mail", "ann@example.com"), "the email", embedded["log"]
    )
    admin = embedded["admin"]
    page = admin.get("/admin/cdp/sentmail/")
    assert "ann@example.com" in page
    link = re.search(r'href="(/admin/cdp/sentmail/[^"]+/)">Still going to Rome\?</a>', page)
    assert link, page[-3000:]
    assert "Hi Ann, seats to Rome are going." in admin.get(link.group(1))


def test_beat_refreshes_segments_on_their_schedule(embedded):
    """The periodic segment refresh (made every 2 s by the scenario) moves the segment's
    refresh time past the one it got when it was created."""
    created = datetime.fromisoformat(embedded["segment_refreshed_at"])
    table = Segment._meta.db_table

    def refreshed_later() -> bool:
        sql = f"SELECT last_refreshed_at FROM {table} WHERE id = ?"
        (value,) = one(embedded["database"], sql, embedded["segment"])
        return bool(value) and datetime.fromisoformat(value).replace(tzinfo=UTC) > created

    wait_for(refreshed_later, "a periodic segment refresh", embedded["log"])


def test_beat_runs_a_scheduled_export(embedded):
    """The export scheduled every minute is run by beat: its request completes."""
    table = ExportRequest._meta.db_table
    wait_for(
        lambda: one(
            embedded["database"],
            f"SELECT status FROM {table} WHERE scheduled_export_id = ? AND status = ?",
            embedded["scheduled_export"],
            ExportRequest.Status.COMPLETED,
        ),
        "the scheduled export to run and complete",
        embedded["log"],
    )


def test_web_writes_and_beat_writes_share_the_sqlite_file(embedded):
    """While beat writes (the segment refresh every 2 s, heartbeats) and the web server
    serves, another process ingests events one transaction at a time: nobody gets "database
    is locked" (WAL mode, writers locking at BEGIN and waiting their turn)."""
    out = run(
        ["-m", "tests.embedded_scenario", "ingest", "40"], embedded_environment(embedded["var"])
    )
    assert json.loads(out.strip().splitlines()[-1]) == {"ingested": 40}
    (runs,) = one(
        embedded["database"],
        f"SELECT COUNT(*) FROM {FlowRun._meta.db_table} WHERE person_id != ?",
        embedded["person"],
    )
    assert runs == 40  # each entered the flow
    assert healthz(embedded["url"])["status"] == "ok"
    assert "database is locked" not in embedded["log"].read_text()
