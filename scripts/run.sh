#!/usr/bin/env bash
# `make run`: migrate, load the demo once, (re)create the admin user, start Celery when a
# broker is configured, and serve the admin and API on $HOST:$PORT.
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
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT INT TERM
if [ -n "${CELERY_BROKER_URL:-}" ]; then
  "${VENV:-.venv}/bin/celery" -A cdp worker --loglevel=WARNING --concurrency=2 &
  pids+=($!)
  "${VENV:-.venv}/bin/celery" -A cdp beat --loglevel=WARNING \
    --scheduler django_celery_beat.schedulers:DatabaseScheduler &
  pids+=($!)
fi
echo "== serving http://$HOST:$PORT/admin/ (health: http://$HOST:$PORT/healthz)"
"$PY" manage.py runserver "$HOST:$PORT" --noreload &
pids+=($!)
wait "${pids[-1]}"
