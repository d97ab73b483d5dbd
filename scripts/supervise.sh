#!/usr/bin/env bash
# supervise.sh NAME COMMAND [ARGS…]: run COMMAND, and start it again whenever it exits, until
# this script is stopped (SIGTERM/SIGINT stop the command too). `make run` starts its worker,
# scheduler and web server through it, so a process that dies (a broker outage, a crash)
# comes back by itself. Restarts wait 1 s, doubling to at most 30 s while the command keeps
# dying within a minute of its start.
set -uo pipefail
name=$1
shift
child=""
stop() {
  trap - TERM INT
  [ -n "$child" ] && kill "$child" 2>/dev/null && wait "$child" 2>/dev/null
  exit 0
}
trap stop TERM INT
delay=1
while true; do
  started=$(date +%s)
  "$@" &
  child=$!
  wait "$child"
  code=$?
  child=""
  if [ $(( $(date +%s) - started )) -ge 60 ]; then delay=1; fi
  echo "== $name exited with code $code; starting it again in ${delay}s" >&2
  sleep "$delay" &
  wait $!
  delay=$(( delay * 2 > 30 ? 30 : delay * 2 ))
done
