#!/bin/sh
# Runs once, when the PostgreSQL container starts on an empty data directory: the role
# the PostgreSQL exporter logs in as. pg_monitor lets it read the statistics views and
# nothing else (no table data). Its password comes from .env, never from this file.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v pw="$POSTGRES_EXPORTER_PASSWORD" <<'SQL'
CREATE ROLE sluice_exporter LOGIN PASSWORD :'pw' IN ROLE pg_monitor;
SQL
