#!/usr/bin/env bash
# Make sure the PostgreSQL the tests use answers on 127.0.0.1:5432; start the local cluster if it does not.
# Tests read SOCIALOPS_TEST_POSTGRES_URL (default postgresql+psycopg://postgres@127.0.0.1:5432/test).
set -u
host=127.0.0.1 port=5432

ready() { command -v pg_isready >/dev/null 2>&1 && pg_isready -q -h "$host" -p "$port"; }

if [ -n "${SOCIALOPS_TEST_POSTGRES_URL:-}" ]; then
  echo "ensure-postgres: using SOCIALOPS_TEST_POSTGRES_URL as given"; exit 0
fi
if ready; then echo "ensure-postgres: PostgreSQL is up on $host:$port"; exit 0; fi

if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
  for version in $(ls /etc/postgresql); do
    echo "ensure-postgres: starting cluster $version/main"
    pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  done
  for _ in $(seq 1 30); do ready && break; sleep 1; done
fi

if ready; then echo "ensure-postgres: PostgreSQL is up on $host:$port"; exit 0; fi
if [ -n "${CI:-}" ]; then
  echo "ensure-postgres: PostgreSQL is not reachable on $host:$port and could not be started" >&2
  exit 1
fi
echo "ensure-postgres: no PostgreSQL on $host:$port; PostgreSQL tests will be skipped (set SOCIALOPS_TEST_POSTGRES_URL)" >&2
exit 0
