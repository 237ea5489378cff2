-- 002_analytics.sql: read-only views for dashboards and ad-hoc questions,
-- in their own schema so grants can differ from the tables the sink writes.
-- They read the derived tables (and game_moves only by primary key), so
-- none of them scans the event log.

CREATE SCHEMA IF NOT EXISTS analytics;

-- One row per player who joined a game.
CREATE OR REPLACE VIEW analytics.player_performance AS
SELECT p.player_id,
       p.games,
       p.wins,
       p.losses,
       CASE WHEN p.games > 0 THEN round(p.wins::numeric / p.games, 4) END AS win_rate,
       p.rating,
       count(gp.game_id) AS seats_taken,
       count(gp.game_id) FILTER (WHERE s.status = 'abandoned') AS games_abandoned,
       max(gp.joined_at) AS last_joined_at,
       p.created_at,
       p.updated_at
  FROM public.players p
  LEFT JOIN public.game_participants gp ON gp.player_id = p.player_id
  LEFT JOIN public.game_sessions s ON s.game_id = gp.game_id
 GROUP BY p.player_id;

-- One row: the whole history at a glance.
CREATE OR REPLACE VIEW analytics.game_statistics_summary AS
WITH g AS (
  SELECT count(*) AS games_total,
         count(*) FILTER (WHERE status = 'finished') AS games_finished,
         count(*) FILTER (WHERE status = 'abandoned') AS games_abandoned,
         count(*) FILTER (WHERE status IN ('waiting', 'playing')) AS games_in_progress,
         count(*) FILTER (WHERE status = 'finished' AND winner_team = 0) AS team_a_wins,
         count(*) FILTER (WHERE status = 'finished' AND winner_team = 1) AS team_b_wins,
         round(avg(hands) FILTER (WHERE status = 'finished'), 2) AS avg_hands_per_game,
         round(avg(extract(epoch FROM finished_at - created_at)) FILTER (WHERE status = 'finished'), 3)
           AS avg_game_seconds,
         max(created_at) AS last_game_created_at
    FROM public.game_sessions
), h AS (
  SELECT count(*) AS hands_total,
         count(*) FILTER (WHERE kot) AS kots,
         count(*) FILTER (WHERE kot AND winner_team <> hakem % 2) AS kots_against_hakem,
         count(*) FILTER (WHERE winner_team = hakem % 2) AS hands_won_by_hakem_team
    FROM public.hands
)
SELECT g.*, h.*,
       (SELECT count(*) FROM public.players) AS players_total,
       (SELECT count(*) FROM public.dead_letters) AS dead_letters
  FROM g, h;

-- Games not yet finished or abandoned, with their last move.
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
       m.seq AS last_seq,
       m.ts AS last_move_at
  FROM public.game_sessions s
  LEFT JOIN LATERAL (
    SELECT gm.seq, gm.ts FROM public.game_moves gm
     WHERE gm.game_id = s.game_id
     ORDER BY gm.seq DESC
     LIMIT 1) m ON true
 WHERE s.status IN ('waiting', 'playing');

-- Players who finished at least one game, best first.
CREATE OR REPLACE VIEW analytics.leaderboard AS
SELECT rank() OVER (ORDER BY p.rating DESC, p.wins DESC) AS rank,
       p.player_id,
       p.rating,
       p.games,
       p.wins,
       p.losses,
       round(p.wins::numeric / p.games, 4) AS win_rate
  FROM public.players p
 WHERE p.games > 0;
