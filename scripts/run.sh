#!/usr/bin/env bash
# `make run`: migrate, load the demo once, (re)create the admin user, start Celery (a worker
# and beat) when a broker is configured, and serve the admin and API on $HOST:$PORT. Every
# process runs under scripts/supervise.sh, which starts it again if it dies.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${VENV:-.venv}/bin/python
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-8000}
export DJANGO_DEBUG=${DJANGO_DEBUG:-1}

echo "== database: ${DATABASE_URL:-embedded SQLite (var/cdp.sqlite3)}"
echo "== celery:   ${CELERY_BROKER_URL:-in-process (no broker)}"
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
  $SUPERVISE beat "${VENV:-.venv}/bin/celery" -A cdp beat --loglevel=WARNING &
  pids+=($!)
fi
echo "== serving http://$HOST:$PORT/admin/ (health: http://$HOST:$PORT/healthz)"
$SUPERVISE web "$PY" manage.py runserver "$HOST:$PORT" --noreload &
pids+=($!)
wait "${pids[-1]}"
