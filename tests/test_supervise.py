"""``scripts/supervise.sh``, which ``make run`` starts its worker, scheduler and web server
under: a process that dies is started again; stopping the supervisor stops the process."""

import os
import signal
import subprocess
import time
from pathlib import Path

from django.conf import settings

SUPERVISE = Path(settings.BASE_DIR) / "scripts" / "supervise.sh"


def _pids(path: Path) -> list[int]:
    return [int(line) for line in path.read_text().split()] if path.exists() else []


def _wait(condition, seconds: float):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError("timed out")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_process_that_dies_is_started_again_and_stops_with_the_supervisor(tmp_path):
    """Killing the supervised command (as a crash would) brings up a new one within a few
    seconds, saying so; SIGTERM to the supervisor ends it and the command."""
    pids = tmp_path / "pids"
    supervisor = subprocess.Popen(
        [str(SUPERVISE), "sleeper", "bash", "-c", f"echo $$ >> {pids}; exec sleep 60"],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait(lambda: len(_pids(pids)) == 1, 10)
        first = _pids(pids)[0]
        os.kill(first, signal.SIGKILL)
        _wait(lambda: len(_pids(pids)) == 2, 10)
        second = _pids(pids)[1]
        assert second != first
        assert _alive(second)
        supervisor.send_signal(signal.SIGTERM)
        supervisor.wait(timeout=10)
        _wait(lambda: not _alive(second), 10)
        assert "sleeper exited with code 137; starting it again" in supervisor.stderr.read()
    finally:
        if supervisor.poll() is None:
            supervisor.kill()
