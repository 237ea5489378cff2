-- 008_node_summary.sql: the analytics by engine node, for several engine
-- hosts writing into one PostgreSQL (README "Several engine hosts").
--
-- A game id carries the node that made it (shm/game_id.h):
--   | creation number (38 bits) | node (6 bits) | slot index (20 bits) |
-- so node = (game_id >> 20) & 63, and every node's games land in the same
-- tables and partitions (ids still grow with time across nodes). Ids of the
-- layout before nodes (below 2^61, the creation base: shm/game_id.h) carry
-- no node: null.

CREATE OR REPLACE FUNCTION hokm_node_of(game_id bigint) RETURNS smallint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN game_id >= 2305843009213693952 THEN ((game_id >> 20) & 63)::smallint END
$$;

-- One row per node that has games (and one, node_id null, for older ids): its games by status, its card plays
-- (event-log rows that start with a CardPlayed: about one per card play),
-- and when it last created a game. Reads the whole event log: for
-- analytics (e.g. on a read replica, HOKM_PG_READ_URL), not for a hot path.
CREATE OR REPLACE VIEW analytics.node_summary AS
WITH g AS (
  SELECT hokm_node_of(game_id) AS node_id,
         count(*) AS games,
         count(*) FILTER (WHERE status = 'finished') AS finished_games,
         count(*) FILTER (WHERE status = 'abandoned') AS abandoned_games,
         count(*) FILTER (WHERE status IN ('waiting', 'playing')) AS live_games,
         max(created_at) AS last_game_created_at
    FROM public.game_sessions
   GROUP BY 1
), c AS (
  SELECT hokm_node_of(game_id) AS node_id,
         count(*) FILTER (WHERE card IS NOT NULL) AS card_plays
    FROM public.game_commands
   GROUP BY 1
)
SELECT g.node_id, g.games, g.finished_games, g.abandoned_games, g.live_games,
       coalesce(c.card_plays, 0) AS card_plays, g.last_game_created_at
  FROM g LEFT JOIN c USING (node_id);

-- hokm_reader reads every view of analytics (006_roles.sql): this one too.
SELECT hokm_grant_roles();
