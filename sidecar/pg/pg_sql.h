// pg_sql.h: the SQL text of the PostgreSQL sink: the replay path's
// staging, and the statements that derive sessions, seats, hands and
// players from the records a batch inserted (schemas/postgres/ has the
// tables). Placeholders: {rows} a VALUES list (pg_derived.h builds them),
// {type:Name} the tag of record type Name (core/records/record_types.h),
// {base} and {step} the rating constants (sidecar/rating.h); DeriveSql
// fills in all but {rows}.
#pragma once

#include <string>
#include <string_view>

namespace hokm::sidecar {

// Replays only (see TryTransaction): the batch is staged in a TEMP table
// of the transaction's own (ON COMMIT DROP: nothing stays on the server
// connection, which a pooler in transaction mode hands to other clients),
// inserted with ON CONFLICT DO NOTHING, and the keys of the rows really
// inserted come back to the client.
inline constexpr const char* kCreateStaging = R"sql(
CREATE TEMP TABLE hokm_commands_staging (
  game_id bigint, seq bigint, ts_ns bigint, seat smallint, card smallint, records jsonb)
  ON COMMIT DROP;
)sql";

inline constexpr const char* kInsertStaged = R"sql(
WITH ins AS (
  INSERT INTO game_commands (game_id, seq, ts_ns, seat, card, records)
  SELECT game_id, seq, ts_ns, seat, card, records FROM hokm_commands_staging
  ON CONFLICT DO NOTHING
  RETURNING game_id, seq)
SELECT game_id, seq FROM ins
)sql";

// What the records inserted in this transaction derive, per record type;
// {rows} is a VALUES list the client builds from exactly those records, so a
// record stored before (a replay) derives nothing twice; {type:Name} is the
// tag of record type Name (core/records/record_types.h), filled in at
// start-up. Run in this order:
// sessions before the rows that update them, seats before the results that
// rate their players.

// v(game_id, room, seed, config, ts)
inline constexpr const char* kDeriveGameCreated = R"sql(
INSERT INTO game_sessions (game_id, room, seed, config, status, created_at)
SELECT game_id::bigint, room, seed::numeric, config::jsonb, 'waiting', ts::timestamptz
  FROM (VALUES {rows}) v(game_id, room, seed, config, ts)
ON CONFLICT (game_id) DO NOTHING;
)sql";

// v(game_id, seq, type, seat, player_id, ts): joins (2) and leaves (3). The
// latest per seat wins; a leave keeps the seat's row with left_at set. A
// join connects the seat (005_connections.sql).
inline constexpr const char* kDeriveSeats = R"sql(
INSERT INTO players (player_id)
SELECT DISTINCT player_id::bigint FROM (VALUES {rows}) v(game_id, seq, type, seat, player_id, ts) WHERE type = {type:PlayerJoined}
ON CONFLICT (player_id) DO NOTHING;
INSERT INTO game_participants AS gp (game_id, seat, player_id, team, joined_at, left_at, connected, connection_seq)
SELECT DISTINCT ON (game_id, seat) game_id::bigint, seat::smallint, player_id::bigint, (seat % 2)::smallint,
       ts::timestamptz, CASE WHEN type = {type:PlayerLeft} THEN ts::timestamptz END, true, seq::bigint
  FROM (VALUES {rows}) v(game_id, seq, type, seat, player_id, ts)
 ORDER BY game_id, seat, seq DESC
ON CONFLICT (game_id, seat) DO UPDATE
   SET player_id = EXCLUDED.player_id,
       joined_at = CASE WHEN EXCLUDED.left_at IS NULL OR gp.player_id <> EXCLUDED.player_id
                        THEN EXCLUDED.joined_at ELSE gp.joined_at END,
       left_at = EXCLUDED.left_at,
       connected = CASE WHEN EXCLUDED.left_at IS NULL AND EXCLUDED.connection_seq > gp.connection_seq
                        THEN true ELSE gp.connected END,
       connection_seq = greatest(gp.connection_seq, EXCLUDED.connection_seq);
)sql";

// v(game_id, seq, seat, player_id, connected, ts): PlayerConnection. The
// latest per seat wins, for the player seated there now, unless the row
// holds a newer change already (connection_seq).
inline constexpr const char* kDeriveConnections = R"sql(
UPDATE game_participants gp
   SET connected = c.connected, connection_seq = c.seq, connection_at = c.ts
  FROM (SELECT DISTINCT ON (game_id, seat) game_id::bigint AS game_id, seat::smallint AS seat,
               player_id::bigint AS player_id, connected::boolean AS connected, seq::bigint AS seq,
               ts::timestamptz AS ts
          FROM (VALUES {rows}) v(game_id, seq, seat, player_id, connected, ts)
         ORDER BY game_id, seat, seq DESC) c
 WHERE gp.game_id = c.game_id AND gp.seat = c.seat AND gp.player_id = c.player_id
   AND gp.connection_seq < c.seq;
)sql";

// v(game_id): games whose first hakem was chosen.
inline constexpr const char* kDeriveFirstHakem = R"sql(
UPDATE game_sessions s SET status = 'playing'
  FROM (VALUES {rows}) v(game_id)
 WHERE s.game_id = v.game_id::bigint AND s.status = 'waiting';
)sql";

// v(game_id, seq, hand_no, hakem, trump, winner_team, points_awarded, kot,
// points_a, points_b, tricks_a, tricks_b, ts). A hand's trick counts are
// those of its last TrickWon, the record just before the HandScored: in
// the same command, so the client has them; null when it had not (records
// written one per command), then read back from the log. The session's
// points move only with its latest hand: a hand's score replayed late (a
// dead letter, hokmctl dlq replay) leaves those of later hands.
inline constexpr const char* kDeriveHandScored = R"sql(
INSERT INTO hands (game_id, hand_no, hakem, trump, winner_team, points_awarded, kot, tricks_a, tricks_b, scored_at)
SELECT v.game_id::bigint, v.hand_no::integer, v.hakem::smallint, v.trump::smallint, v.winner_team::smallint,
       v.points_awarded::smallint, v.kot::boolean,
       coalesce(v.tricks_a::smallint,
                (SELECT (m.body->'tricks'->>'a')::smallint FROM game_moves m
                  WHERE m.game_id = v.game_id::bigint AND m.seq = v.seq::bigint - 1 AND m.type = {type:TrickWon}), 0),
       coalesce(v.tricks_b::smallint,
                (SELECT (m.body->'tricks'->>'b')::smallint FROM game_moves m
                  WHERE m.game_id = v.game_id::bigint AND m.seq = v.seq::bigint - 1 AND m.type = {type:TrickWon}), 0),
       v.ts::timestamptz
  FROM (VALUES {rows}) v(game_id, seq, hand_no, hakem, trump, winner_team, points_awarded, kot, points_a, points_b,
                         tricks_a, tricks_b, ts)
ON CONFLICT (game_id, hand_no) DO NOTHING;
UPDATE game_sessions s
   SET hands = greatest(s.hands, h.hand_no),
       points_a = CASE WHEN h.hand_no >= s.hands THEN h.points_a ELSE s.points_a END,
       points_b = CASE WHEN h.hand_no >= s.hands THEN h.points_b ELSE s.points_b END
  FROM (SELECT DISTINCT ON (game_id) game_id::bigint AS game_id, hand_no::integer AS hand_no,
               points_a::smallint AS points_a, points_b::smallint AS points_b
          FROM (VALUES {rows}) v(game_id, seq, hand_no, hakem, trump, winner_team, points_awarded, kot,
                                 points_a, points_b, tricks_a, tricks_b, ts)
         ORDER BY game_id, seq DESC) h
 WHERE s.game_id = h.game_id;
)sql";

// v(game_id, winner, points_a, points_b, ts). Ratings move by fixed steps
// (sidecar/rating.h), summed per player over the batch's finished games;
// {base} and {step} are filled in at start-up.
inline constexpr const char* kDeriveGameFinished = R"sql(
UPDATE game_sessions s
   SET status = 'finished', finished_at = v.ts::timestamptz, winner_team = v.winner::smallint,
       points_a = v.points_a::smallint, points_b = v.points_b::smallint
  FROM (VALUES {rows}) v(game_id, winner, points_a, points_b, ts)
 WHERE s.game_id = v.game_id::bigint;
INSERT INTO players AS p (player_id, games, wins, losses, rating, updated_at)
SELECT gp.player_id, count(*), count(*) FILTER (WHERE gp.team = w.winner),
       count(*) FILTER (WHERE gp.team <> w.winner),
       {base} + {step} * (count(*) FILTER (WHERE gp.team = w.winner) - count(*) FILTER (WHERE gp.team <> w.winner)),
       now()
  FROM (SELECT game_id::bigint AS game_id, winner::smallint AS winner
          FROM (VALUES {rows}) v(game_id, winner, points_a, points_b, ts)) w
  JOIN game_participants gp ON gp.game_id = w.game_id AND gp.left_at IS NULL
 GROUP BY gp.player_id
ON CONFLICT (player_id) DO UPDATE
   SET games = p.games + EXCLUDED.games, wins = p.wins + EXCLUDED.wins, losses = p.losses + EXCLUDED.losses,
       rating = p.rating + (EXCLUDED.rating - {base}), updated_at = now();
)sql";

// v(game_id, points_a, points_b, ts)
inline constexpr const char* kDeriveGameAbandoned = R"sql(
UPDATE game_sessions s
   SET status = 'abandoned', finished_at = v.ts::timestamptz,
       points_a = v.points_a::smallint, points_b = v.points_b::smallint
  FROM (VALUES {rows}) v(game_id, points_a, points_b, ts)
 WHERE s.game_id = v.game_id::bigint;
)sql";

// The derived statements with {type:..}, {base} and {step} filled in, in
// the order they run.
struct DeriveSql {
  std::string created, seats, connections, first_hakem, hands, finished, abandoned;

  static DeriveSql Make();
};

// s with every `from` replaced by `to`.
std::string ReplaceAll(std::string s, std::string_view from, std::string_view to);

}  // namespace hokm::sidecar
