#!/bin/sh
# Temporal's schema on PostgreSQL, run by the temporalio/admin-tools image (compose's temporal-schema job).
# Idempotent: `create` tolerates an existing database, `setup-schema -v 0.0` an existing version table, and
# `update-schema` applies only the versions not yet applied — so the job runs again on every `up` and on
# a server upgrade (bump the server and admin-tools images together).
# Needs SQL_HOST, SQL_PORT, SQL_USER and SQL_PASSWORD (the password only through the environment).
set -eu
: "${SQL_HOST:?}" "${SQL_PORT:?}" "${SQL_USER:?}" "${SQL_PASSWORD:?}"
SCHEMA_DIR=/etc/temporal/schema/postgresql/v12

echo "temporal-schema: waiting for PostgreSQL at $SQL_HOST:$SQL_PORT"
i=0
until nc -z -w 2 "$SQL_HOST" "$SQL_PORT"; do
  i=$((i + 1)); [ "$i" -ge 60 ] && { echo "temporal-schema: PostgreSQL not reachable" >&2; exit 1; }
  sleep 1
done

for store in temporal:temporal visibility:temporal_visibility; do
  dir=${store%%:*} db=${store#*:}
  sql="temporal-sql-tool --plugin postgres12 --ep $SQL_HOST -p $SQL_PORT -u $SQL_USER --db $db"
  $sql create 2>/dev/null || echo "temporal-schema: database $db exists"
  $sql setup-schema -v 0.0
  $sql update-schema -d "$SCHEMA_DIR/$dir/versioned"
  echo "temporal-schema: $db is at the newest schema"
done
