-- 005_connections.sql: whether each seated player is connected, from the
-- PlayerConnection records (a reconnecting player, README "Reconnection"),
-- and each live game's connected and disconnected players in
-- analytics.active_sessions. Idempotent, as every schema file.
--
-- game_participants.connected: true from the seat's join; then what the
-- seat's latest PlayerConnection said. connection_seq is the seq of the
-- record that set it (a join or a connection change), so a record delivered
-- late (a dead letter replayed) never overrides a newer one;
-- connection_at its time (null: never changed since the join).

ALTER TABLE game_participants ADD COLUMN IF NOT EXISTS connected boolean NOT NULL DEFAULT true;
ALTER TABLE game_participants ADD COLUMN IF NOT EXISTS connection_seq bigint NOT NULL DEFAULT 0;
ALTER TABLE game_participants ADD COLUMN IF NOT EXISTS connection_at timestamptz;

-- 004's view plus, at the end (CREATE OR REPLACE VIEW only appends),
-- the seated players connected and disconnected now.
CREATE OR REPLACE VIEW analytics.active_sessions AS
SELECT s.game_id,
       s.room,
       s.status,
       s.created_at,
       s.hands,
       s.points_a,
       s.points_b,
       (SELECT count(*) FROM public.game_participants gp
         WHERE gp.game_id = s.game_id AND gp.left_at IS NULL) AS players,
       coalesce(c.last_seq, m.seq) AS last_seq,
       coalesce(public.hokm_ts(c.ts_ns), m.ts) AS last_move_at,
       (SELECT count(*) FROM public.game_participants gp
         WHERE gp.game_id = s.game_id AND gp.left_at IS NULL AND gp.connected) AS players_connected,
       (SELECT count(*) FROM public.game_participants gp
         WHERE gp.game_id = s.game_id AND gp.left_at IS NULL AND NOT gp.connected) AS players_disconnected
  FROM public.game_sessions s
  LEFT JOIN LATERAL (
    SELECT public.hokm_command_last_seq(gc) AS last_seq, gc.ts_ns FROM public.game_commands gc
     WHERE gc.game_id = s.game_id
     ORDER BY gc.seq DESC
     LIMIT 1) c ON true
  LEFT JOIN LATERAL (
    SELECT gm.seq, gm.ts FROM public.game_moves_v1 gm
     WHERE gm.game_id = s.game_id
     ORDER BY gm.seq DESC
     LIMIT 1) m ON c.last_seq IS NULL
 WHERE s.status IN ('waiting', 'playing');
