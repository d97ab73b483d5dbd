#!/usr/bin/env bash
# Property-based checks of the served OpenAPI schema with schemathesis: serve the app on a free
# port (on $DATABASE_URL, else a throw-away SQLite file), create a key, and fail on any 5xx
# from the ingestion, people, flows, segments, exports and analytics endpoints, with valid and
# invalid data (`--mode all`: bodies and parameters that break the schema too). Examples per
# operation: $FUZZ_EXAMPLES (default 40).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${VENV:-.venv}/bin/python
export DJANGO_DEBUG=1 CDP_RATE_LIMIT=""
WORK=$(mktemp -d)
if [ -z "${DATABASE_URL:-}" ]; then
  export DATABASE_URL="sqlite:///$WORK/fuzz.sqlite3"
fi
if [[ "$DATABASE_URL" == postgres* ]]; then
  "$PY" - <<'PY'
import os, psycopg
from dj_database_url import parse
cfg = parse(os.environ["DATABASE_URL"])
with psycopg.connect(host=cfg["HOST"] or "127.0.0.1", port=cfg["PORT"] or 5432,
                     user=cfg["USER"] or "postgres", dbname="postgres", autocommit=True) as c:
    if not c.execute("SELECT 1 FROM pg_database WHERE datname = %s", [cfg["NAME"]]).fetchone():
        c.execute(f'CREATE DATABASE "{cfg["NAME"]}"')
PY
fi
"$PY" manage.py migrate --noinput -v 0
KEY=$("$PY" manage.py create_api_key --workspace "fuzz-$(date +%s)")
PORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$PY" manage.py runserver "127.0.0.1:$PORT" --noreload >"$WORK/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 1 60); do
  curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
  sleep 0.5
done
status=0
${VENV:-.venv}/bin/schemathesis run "http://127.0.0.1:$PORT/api/v1/schema" \
  --checks not_a_server_error --mode all --max-examples "${FUZZ_EXAMPLES:-40}" --seed 1 \
  --header "Authorization: App $KEY" --workers 2 --no-color \
  --include-path-regex '^/(api/v1/(events|people|definitions|attribute-definitions|collect|flows|exports|segments|analytics)|peopleevents/|v1/|quickaudience/)' \
  "$@" || status=$?
if [ "$status" -ne 0 ]; then
  echo "---- server log (tail) ----"
  tail -n 80 "$WORK/server.log"
fi
exit "$status"
