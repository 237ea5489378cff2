-- 007_nodes.sql: which engine host holds each node id. Every game id carries
-- its engine's node (shm/game_id.h: creation << 26 | node << 20 | slot), so
-- two engines sharing these stores must never run with one node id: each
-- hokm-sidecar claims its segment's node here at start, beats every few
-- seconds, and releases the row on a clean stop (sidecar/pg/pg_node.h).
--
-- A claim succeeds when no row exists, when the row names the same host
-- and segment (a restarted sidecar), when its heartbeat is older than the
-- lease (the holder is gone), or when the holder is on the same host and
-- its pid is dead (checked by the claimant). Every step is one statement
-- in its own transaction, so claims work through pgBouncer in transaction
-- mode; the times are this server's (now()), never a host's clock.

CREATE TABLE IF NOT EXISTS hokm_nodes (
  node_id      smallint PRIMARY KEY CHECK (node_id BETWEEN 0 AND 63),
  host         text NOT NULL,         -- the holder's host name
  segment      text NOT NULL,         -- its segment, /dev/shm/<name>
  pid          integer NOT NULL,      -- its sidecar's pid on that host
  claimed_at   timestamptz NOT NULL DEFAULT now(),
  heartbeat_at timestamptz NOT NULL DEFAULT now()
);

-- 006's grants plus the writer's claim on hokm_nodes (a later migration
-- that adds a table extends this function again and calls it).
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
    GRANT SELECT, INSERT, UPDATE, DELETE ON hokm_nodes TO hokm_writer;
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
