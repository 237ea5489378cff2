-- 006_roles.sql: least privilege. Two group roles, granted what each needs
-- and nothing more; the schema's owner (who runs the migrations) keeps DDL.
--
--   hokm_writer  what hokm-sidecar does: COPY/INSERT the records
--                (game_commands), upsert the rows they derive (game_sessions,
--                game_participants, players, hands), dead letters and its
--                checkpoint, read what its rebuild source and probes read,
--                create a partition through hokm_ensure_commands_partition
--                (SECURITY DEFINER: the function's owner does the DDL), and
--                a TEMP staging table on the replay path (the database's
--                default TEMP grant). No CREATE anywhere, no TRUNCATE, no
--                DELETE but of dead letters it replays.
--   hokm_reader  SELECT on the analytics views, nothing else (the views read
--                the tables with their owner's rights).
--
-- Both are NOLOGIN groups: logins are members (scripts/services.sh creates
-- hokm_writer and hokm_reader as LOGIN roles with passwords for `make run`;
-- elsewhere: CREATE ROLE app LOGIN IN ROLE hokm_writer). Creating a role
-- needs CREATEROLE: when the owner lacks it and the roles do not exist yet,
-- this migration warns and grants nothing; a superuser creates them and
-- runs SELECT hokm_grant_roles() (scripts/services.sh does, on every start).
-- A later migration that adds a table extends hokm_grant_roles() and calls it.

DO $$
DECLARE
  r text;
BEGIN
  FOREACH r IN ARRAY ARRAY['hokm_writer', 'hokm_reader'] LOOP
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
      CONTINUE;
    ELSIF (SELECT rolcreaterole OR rolsuper FROM pg_roles WHERE rolname = current_user) THEN
      EXECUTE format('CREATE ROLE %I NOLOGIN', r);
    ELSE
      RAISE WARNING 'role % does not exist and % may not create it: a superuser creates it, then runs SELECT hokm_grant_roles()', r, current_user;
    END IF;
  END LOOP;
END $$;

-- The partition function runs with its owner's rights: the writer adds a
-- partition without holding CREATE. search_path pinned, as for any
-- SECURITY DEFINER function.
ALTER FUNCTION hokm_ensure_commands_partition(bigint, integer) SECURITY DEFINER;
ALTER FUNCTION hokm_ensure_commands_partition(bigint, integer) SET search_path = public, pg_temp;
REVOKE EXECUTE ON FUNCTION hokm_ensure_commands_partition(bigint, integer) FROM PUBLIC;

-- The grants, idempotent; granted to whichever of the roles exists.
CREATE OR REPLACE FUNCTION hokm_grant_roles() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'hokm_writer') THEN
    GRANT USAGE ON SCHEMA public TO hokm_writer;
    GRANT SELECT ON schema_migrations, record_types TO hokm_writer;
    GRANT SELECT, INSERT ON game_commands TO hokm_writer;
    GRANT SELECT ON game_moves, game_moves_v1 TO hokm_writer;
    GRANT SELECT, INSERT, UPDATE ON game_sessions, game_participants, players, hands,
      sidecar_checkpoint TO hokm_writer;
    GRANT SELECT, INSERT, UPDATE, DELETE ON dead_letters TO hokm_writer;
    GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO hokm_writer;
    GRANT EXECUTE ON FUNCTION hokm_ensure_commands_partition(bigint, integer) TO hokm_writer;
  END IF;
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'hokm_reader') THEN
    GRANT USAGE ON SCHEMA analytics TO hokm_reader;
    GRANT SELECT ON ALL TABLES IN SCHEMA analytics TO hokm_reader;
  END IF;
END
$$;

SELECT hokm_grant_roles();
