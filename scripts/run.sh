#!/usr/bin/env bash
# `make run`: migrate, load the demo once, (re)create the admin user, start Celery beat (and,
# when a broker is configured, a worker), and serve the admin and API on $HOST:$PORT. Every
# process runs under scripts/supervise.sh, which starts it again if it dies.
#
# Beat runs in every install: it is what resumes flow waits, fires timeouts and retries, runs
# scheduled exports and segment refreshes. With no broker, Celery runs tasks where they are
# sent (task_always_eager), so beat executes its due tasks itself, in its own process, on the
# same schedule a worker would get them; tasks sent by web requests run in the web process.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${VENV:-.venv}/bin/python
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-8000}
export DJANGO_DEBUG=${DJANGO_DEBUG:-1}

echo "== database: ${DATABASE_URL:-embedded SQLite (${CDP_SQLITE_PATH:-${CDP_VAR_DIR:-var}/cdp.sqlite3})}"
echo "== celery:   ${CELERY_BROKER_URL:-no broker: tasks run in the web and beat processes}"
echo "== mail:     ${EMAIL_HOST:-files in ${CDP_MAIL_DIR:-${CDP_VAR_DIR:-var}/mail} (listed in the admin: Sent mail)}"
"$PY" manage.py migrate --noinput -v 0
"$PY" manage.py demo_load
"$PY" manage.py admin_bootstrap

pids=()
cleanup() {
  trap - EXIT INT TERM
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait
}
trap cleanup EXIT INT TERM
SUPERVISE=scripts/supervise.sh
if [ -n "${CELERY_BROKER_URL:-}" ]; then
  $SUPERVISE worker "${VENV:-.venv}/bin/celery" -A cdp worker --loglevel=WARNING \
    --concurrency=2 &
  pids+=($!)
fi
# The schedule lives in the database (django-celery-beat): no schedule or pid file is written.
$SUPERVISE beat "${VENV:-.venv}/bin/celery" -A cdp beat --loglevel=WARNING --pidfile= &
pids+=($!)
echo "== serving http://$HOST:$PORT/admin/ (health: http://$HOST:$PORT/healthz)"
$SUPERVISE web "$PY" manage.py runserver "$HOST:$PORT" --noreload &
pids+=($!)
wait "${pids[-1]}"
