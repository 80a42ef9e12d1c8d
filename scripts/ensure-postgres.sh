#!/usr/bin/env bash
# Make sure the local Postgres (127.0.0.1:5432, trust auth, database "test")
# that the store and queue tests use is running; fail loudly if it cannot be.
set -euo pipefail
if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  echo "postgres is running"
  exit 0
fi
if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
fi
for _ in $(seq 1 30); do
  if pg_isready -q -h 127.0.0.1 -p 5432; then echo "postgres started"; exit 0; fi
  sleep 1
done
echo "postgres is not reachable on 127.0.0.1:5432 and could not be started" >&2
exit 1
