-- Least privilege for the read side (design.md §5: analytics is read-only). Two roles:
--   sluice_reader     NOLOGIN: holds SELECT on every table of this schema, now and later.
--   sluice_analytics  LOGIN, member of sluice_reader, no password: nobody can log in as it
--                     over password authentication until an operator gives it one
--                     (ALTER ROLE sluice_analytics PASSWORD '…'), see README "Least privilege".
-- The analytics service also switches to sluice_reader at connection start
-- (ANALYTICS_DB_ROLE), so even a connection made with the owner's URL cannot write.
-- Roles belong to the whole cluster, databases share them: create each only when missing,
-- and tolerate a concurrent migration of another database creating it first.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'sluice_reader') THEN
    BEGIN
      CREATE ROLE sluice_reader NOLOGIN NOINHERIT;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
    END;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'sluice_analytics') THEN
    BEGIN
      CREATE ROLE sluice_analytics LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE INHERIT IN ROLE sluice_reader;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
    END;
  END IF;
  -- The migrating role must be allowed to SET ROLE sluice_reader (a superuser always is).
  IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
    EXECUTE format('GRANT sluice_reader TO %I', current_user);
  END IF;
  EXECUTE format('GRANT CONNECT, TEMPORARY ON DATABASE %I TO sluice_reader', current_database());
END
$$;

GRANT USAGE ON SCHEMA public TO sluice_reader;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO sluice_reader;
GRANT SELECT ON ALL SEQUENCES IN SCHEMA public TO sluice_reader;
-- Tables later migrations create (run by the same role) are readable too.
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO sluice_reader;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON SEQUENCES TO sluice_reader;
-- Nothing beyond reading: no writes even where PUBLIC could (PostgreSQL 14 and older let
-- PUBLIC create in public).
REVOKE CREATE ON SCHEMA public FROM sluice_reader;
