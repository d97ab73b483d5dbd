"""Periodic work in the embedded default (SPEC §1): ``make run`` with no environment starts
``celery -A cdp beat`` next to the web server, with no broker; Celery then runs each due task
inside beat's own process. Checked here by starting that very process against a file SQLite
database migrated like ``make run``'s, and watching what a user would: a run that passes its
1-minute wait and emails the person (a file in the mail folder, listed by the admin's "Sent
mail" page), the segment refresh moving a segment's refresh time, a scheduled export run.

Nothing is sped up but two schedule rows (the refresh every 2 s), and nothing sleeps but the
polling. Runs in the SQLite suite (the embedded default); about 70-90 s.
"""

import json
import os
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connection

from cdp.models import Heartbeat
from events.exports.models import ExportRequest
from flows.models import FlowRun
from people.models import PersonTag, Segment

pytestmark = [pytest.mark.beat]

SECONDS = 150  # the longest anything here may take to show: the wait is 60 s


@pytest.fixture(autouse=True)
def _sqlite_suite_only():
    if connection.vendor != "sqlite":
        pytest.skip("the embedded default (SQLite, no broker) runs in the SQLite suite")


def embedded_environment(var: Path) -> dict[str, str]:
    """``make run``'s environment with nothing set: no database URL, no broker, no SMTP."""
    unset = {"DATABASE_URL", "CELERY_BROKER_URL", "REDIS_URL", "EMAIL_HOST", "EMAIL_BACKEND"}
    env = {key: value for key, value in os.environ.items() if key not in unset}
    env.update(DJANGO_DEBUG="1", CDP_VAR_DIR=str(var), CDP_HEARTBEAT_SECONDS="2")
    for key in ("CDP_SQLITE_PATH", "CDP_MAIL_DIR", "CDP_EXPORT_DIR"):
        env.pop(key, None)
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


def wait_for(condition, what: str, log: Path):
    deadline = time.monotonic() + SECONDS
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}; beat said:\n{log.read_text()[-3000:]}")


def one(database: Path, sql: str, *params):
    with sqlite3.connect(database, timeout=30) as db:
        return db.execute(sql, params).fetchone()


def mail_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.log")) if folder.is_dir() else []


@pytest.fixture(scope="module")
def embedded(tmp_path_factory):
    """A migrated embedded install with the scenario's data, and beat running on it."""
    var = tmp_path_factory.mktemp("embedded") / "var"
    env = embedded_environment(var)
    run(["manage.py", "migrate", "--noinput", "-v", "0"], env)
    data = json.loads(run(["-m", "tests.embedded_scenario"], env).strip().splitlines()[-1])
    log = var / "beat.log"
    beat = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "cdp", "beat", "--loglevel=INFO", "--pidfile="],
        cwd=django_settings.BASE_DIR,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        yield {"var": var, "database": var / "cdp.sqlite3", "log": log, **data}
    finally:
        beat.terminate()
        try:
            beat.wait(timeout=20)
        except subprocess.TimeoutExpired:
            beat.kill()
            beat.wait()


def test_beat_resumes_a_wait_and_the_email_action_writes_to_the_mail_folder(embedded):
    """Ann's run waits 1 minute; beat (no broker, no worker) resumes it, and the flow emails
    her (a file in ``var/mail``) and tags her. Nothing but beat runs meanwhile."""
    database, log = embedded["database"], embedded["log"]
    run_table, tag_table = FlowRun._meta.db_table, PersonTag._meta.db_table
    # The scenario left the run waiting and the mail folder empty (it asserts so); from then
    # on only beat runs. (pytest-django may run the admin test below first.)
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
    files = mail_files(embedded["var"] / "mail")
    assert len(files) == 1
    text = files[0].read_text()
    assert "To: ann@example.com" in text
    assert "Subject: Still going to Rome?" in text
    assert "Hi Ann, seats to Rome are going." in text
    # It was beat that did it: it records its heartbeat in the same database.
    heartbeat = Heartbeat._meta.db_table
    assert one(database, f"SELECT kind FROM {heartbeat} WHERE name = 'scheduler'") == ("scheduler",)


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


def test_the_admin_lists_the_mail_beat_wrote(embedded, admin_client, settings):
    """The admin's "Sent mail" page lists the message of the first test (time, to, subject)
    and shows it on click."""
    folder = embedded["var"] / "mail"
    wait_for(lambda: mail_files(folder), "the email", embedded["log"])
    settings.EMAIL_BACKEND = "cdp.mail.FolderEmailBackend"
    settings.EMAIL_FILE_PATH = str(folder)
    page = admin_client.get("/admin/cdp/sentmail/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "ann@example.com" in html
    assert "Still going to Rome?" in html
    link = page.context["mails"][0].id
    message = admin_client.get(f"/admin/cdp/sentmail/{link}/").content.decode()
    assert "Hi Ann, seats to Rome are going." in message


def test_web_writes_and_beat_writes_share_the_sqlite_file(embedded):
    """While beat writes (the segment refresh every 2 s, heartbeats), another process ingests
    events one transaction at a time, as the web server does: neither gets "database is
    locked" (WAL mode, writers locking at BEGIN and waiting their turn)."""
    env = embedded_environment(embedded["var"])
    wait_for(
        lambda: "segments-refresh" in embedded["log"].read_text(),
        "beat to refresh segments",
        embedded["log"],
    )
    out = run(["-m", "tests.embedded_scenario", "ingest", "40"], env)
    assert json.loads(out.strip().splitlines()[-1]) == {"ingested": 40}
    (runs,) = one(
        embedded["database"],
        f"SELECT COUNT(*) FROM {FlowRun._meta.db_table} WHERE person_id != ?",
        embedded["person"],
    )
    assert runs == 40  # each entered the flow
    assert "database is locked" not in embedded["log"].read_text()
