"""Real Celery workers for end-to-end tests (PostgreSQL and Redis; skipped otherwise).

Workers are ``celery -A cdp worker`` processes (solo pool, one task at a time) on the test
database and the broker of ``CELERY_BROKER_URL`` (a Redis database of the test run's own), so
tasks cross a real broker into another process exactly as in production. ``Workers`` starts
them, kills one with SIGKILL (a crash mid-task), waits until every task sent has been done
(``drain``) and stops what is left at the end. The ``broker`` fixture (``tests/conftest.py``)
points the test process's Celery at the same Redis.
"""

import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connection

BROKER = os.environ.get("CELERY_BROKER_URL", "")
READY_SECONDS = 90


def skip_without_postgres_and_redis() -> None:
    """Skip the test unless it runs on PostgreSQL with a Redis broker."""
    if connection.vendor != "postgresql" or not BROKER.startswith("redis"):
        pytest.skip("needs PostgreSQL (DATABASE_URL) and Redis (CELERY_BROKER_URL)")


def wait_for(condition, seconds: float, what: str, poll: float = 0.02):
    """Return the first truthy value of ``condition()``; fail after ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(poll)
    raise AssertionError(f"timed out waiting for {what}")


def worker_environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment of a worker: the test database, the test broker, its own var dir."""
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    return {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:"
        f"{db['PORT'] or 5432}/{db['NAME']}",
        "CELERY_BROKER_URL": BROKER,
        "DJANGO_DEBUG": "1",
        "CDP_VAR_DIR": str(tmp_path / "var"),
        **extra,
    }


class Workers:
    """Start ``celery -A cdp worker`` processes; stop whatever is left at the end."""

    def __init__(self, env: dict, logs: Path):
        self.env = env
        self.logs = logs
        self.running: dict[str, subprocess.Popen] = {}

    def start(self, name: str, pool: tuple[str, ...] = ("--pool=solo",)) -> subprocess.Popen:
        """Start a worker (by default one process, one task at a time) and wait until it is
        ready; ``pool`` gives other pool options (``("--concurrency=2",)`` for prefork)."""
        log = self.logs / f"{name}.log"
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "cdp",
                "worker",
                *pool,
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "--loglevel=INFO",
                f"--hostname={name}@%h",
            ],
            cwd=django_settings.BASE_DIR,
            env=self.env,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.running[name] = process
        deadline = time.monotonic() + READY_SECONDS
        while b" ready." not in log.read_bytes():
            assert process.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.1)
        return process

    def kill(self, process: subprocess.Popen) -> None:
        """SIGKILL: the worker dies at once, in the middle of whatever it was doing."""
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)

    def alive(self) -> list[str]:
        """Node names (``name@host``) of the workers still running."""
        host = socket.gethostname()
        return [f"{name}@{host}" for name, p in self.running.items() if p.poll() is None]

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")

    def idle(self, app, nodes: list[str] | None = None) -> bool:
        """Whether the queue is empty and each of ``nodes`` (default: every live worker)
        answers that it holds no task: none running, reserved or scheduled for later."""
        nodes = self.alive() if nodes is None else nodes
        if queued(app):
            return False
        inspect = app.control.inspect(destination=nodes, timeout=1.0)
        for ask in (inspect.active, inspect.reserved, inspect.scheduled):
            replies = ask() or {}
            if set(replies) != set(nodes) or any(replies.values()):
                return False
        return not queued(app)

    def drain(self, app, seconds: float = 60) -> None:
        """Wait until every task sent so far (and every task those sent) has been done:
        two idle observations in a row, since a finishing task may queue the next step."""
        wait_for(
            lambda: self.idle(app) and self.idle(app), seconds, "the workers to be idle", poll=0.2
        )

    def stop_all(self) -> None:
        for process in self.running.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    self.kill(process)


def queued(app) -> int:
    """Messages waiting in the default queue (not yet taken by a worker)."""
    with app.connection_for_write() as conn:
        # Not passive: Redis has no key for an empty queue, and a passive declare of a
        # missing queue fails; declaring the queue the workers consume is harmless.
        return conn.default_channel.queue_declare(app.conf.task_default_queue).message_count


@contextmanager
def workers_for(tmp_path: Path, **extra_env: str):
    """A ``Workers`` pool with the worker environment (plus ``extra_env``), stopped after."""
    pool = Workers(worker_environment(tmp_path, **extra_env), tmp_path)
    try:
        yield pool
    finally:
        pool.stop_all()
