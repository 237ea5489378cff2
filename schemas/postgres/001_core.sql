-- 001_core.sql: the tables the sidecar's PostgreSQL sink writes (docs/DESIGN.md §5).
--
-- Applied once, in file order, by PgSink::ApplySchema, which records each
-- file in schema_migrations; every statement is also idempotent, so running
-- the file again by hand (psql -f) is harmless.
--
-- game_moves is the full event log: one row per change record, keyed by the
-- idempotency key (game_id, seq), body = the record's fields as jsonb (field
-- names of schemas/hokm.fbs), enough to replay any game. Every other table
-- is derived from it by the sink, once per record actually inserted.

CREATE TABLE IF NOT EXISTS schema_migrations (
  version    integer PRIMARY KEY,
  name       text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
);

-- The body types of hokm.fb.Body (= hokm::core::RecordType): game_moves.type.
CREATE TABLE IF NOT EXISTS record_types (
  type smallint PRIMARY KEY,
  name text NOT NULL UNIQUE
);
INSERT INTO record_types (type, name) VALUES
  (1, 'GameCreated'), (2, 'PlayerJoined'), (3, 'PlayerLeft'), (4, 'HakemChosen'),
  (5, 'TrumpChosen'), (6, 'CardsDealt'), (7, 'CardPlayed'), (8, 'TrickWon'),
  (9, 'HandScored'), (10, 'GameFinished'), (11, 'GameAbandoned'), (12, 'PlayerConnection')
ON CONFLICT (type) DO NOTHING;

-- rating: sidecar/rating.h (start 1500, +/-16 per finished game).
CREATE TABLE IF NOT EXISTS players (
  player_id  bigint PRIMARY KEY,
  games      integer NOT NULL DEFAULT 0,  -- finished games (abandoned ones do not count)
  wins       integer NOT NULL DEFAULT 0,
  losses     integer NOT NULL DEFAULT 0,
  rating     integer NOT NULL DEFAULT 1500,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS players_rating ON players (rating DESC);

CREATE TABLE IF NOT EXISTS game_sessions (
  game_id     bigint PRIMARY KEY,      -- creation number << 26 | node << 20 | slot
  room        text NOT NULL DEFAULT '',
  seed        numeric(20, 0),          -- the 64-bit shuffle seed, unsigned
  config      jsonb NOT NULL DEFAULT '{}',  -- the GameCreated rule variants
  status      text NOT NULL DEFAULT 'waiting'
              CHECK (status IN ('waiting', 'playing', 'finished', 'abandoned')),
  created_at  timestamptz NOT NULL,
  finished_at timestamptz,
  winner_team smallint,                -- 0: seats 0 and 2, 1: seats 1 and 3
  points_a    smallint NOT NULL DEFAULT 0,
  points_b    smallint NOT NULL DEFAULT 0,
  hands       integer NOT NULL DEFAULT 0  -- hands scored so far
);
CREATE INDEX IF NOT EXISTS game_sessions_live ON game_sessions (created_at)
  WHERE status IN ('waiting', 'playing');
CREATE INDEX IF NOT EXISTS game_sessions_finished_at ON game_sessions (finished_at)
  WHERE finished_at IS NOT NULL;

-- The player holding each seat; a seat left and taken again holds the
-- latest player (game_moves keeps the whole history).
CREATE TABLE IF NOT EXISTS game_participants (
  game_id   bigint NOT NULL,
  seat      smallint NOT NULL CHECK (seat BETWEEN 0 AND 3),
  player_id bigint NOT NULL,
  team      smallint NOT NULL CHECK (team IN (0, 1)),
  joined_at timestamptz NOT NULL,
  left_at   timestamptz,
  PRIMARY KEY (game_id, seat)
);
CREATE INDEX IF NOT EXISTS game_participants_player ON game_participants (player_id);

-- Partitioned by ranges of game_id: ids grow with time, so an old range can
-- be detached and archived whole. Rows outside every range land in
-- game_moves_default; hokm_ensure_moves_partition() (below) adds ranges and
-- the sink calls it for each new range it sees (PgSinkOptions).
CREATE TABLE IF NOT EXISTS game_moves (
  game_id bigint NOT NULL,
  seq     bigint NOT NULL,     -- game_seq: 1, 2, ... per game
  type    smallint NOT NULL,   -- record_types.type
  ts      timestamptz NOT NULL,  -- the engine's ts_ns, to the microsecond
  body    jsonb NOT NULL,
  PRIMARY KEY (game_id, seq)
) PARTITION BY RANGE (game_id);
CREATE TABLE IF NOT EXISTS game_moves_default PARTITION OF game_moves DEFAULT;

-- hokm_ensure_moves_partition(game_id, span_bits): makes sure the range of
-- 2^span_bits game ids holding game_id has its own partition,
-- game_moves_<span_bits>_<game_id >> span_bits>, moving any of its rows out
-- of the default partition first; returns the partition's name. Idempotent
-- and safe to call concurrently. With ids creation number << 26 | node << 20
-- | slot (shm/game_id.h) and creation numbers in 10 ms units, span_bits 52
-- gives ~7.8 days of every node's games per partition (ids of layout
-- version 6 and older: << 20, 100 us units, ~5 days). Use one span_bits for a
-- database: ranges of different sizes overlap and ATTACH refuses them.
--
-- Archiving a range:
--   ALTER TABLE game_moves DETACH PARTITION game_moves_52_0;
--   pg_dump -t game_moves_52_0 ... ; DROP TABLE game_moves_52_0;
CREATE OR REPLACE FUNCTION hokm_ensure_moves_partition(p_game_id bigint, p_span_bits integer DEFAULT 52)
RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
  block bigint;
  lo    bigint;
  hi    bigint;  -- null: the range runs to the top of bigint
  part  text;
BEGIN
  IF p_span_bits < 20 OR p_span_bits > 62 THEN
    RAISE EXCEPTION 'span_bits must be in 20..62, not %', p_span_bits;
  END IF;
  IF p_game_id < 0 THEN
    RAISE EXCEPTION 'game_id must not be negative';
  END IF;
  block := p_game_id >> p_span_bits;
  part := format('game_moves_%s_%s', p_span_bits, block);
  IF to_regclass(part) IS NOT NULL THEN
    RETURN part;
  END IF;
  PERFORM pg_advisory_xact_lock(hashtext('hokm_ensure_moves_partition'));
  IF to_regclass(part) IS NOT NULL THEN
    RETURN part;
  END IF;
  lo := block << p_span_bits;
  IF lo::numeric + 2::numeric ^ p_span_bits <= 9223372036854775807 THEN
    hi := lo + (1::bigint << p_span_bits);
  END IF;
  EXECUTE format('CREATE TABLE %I (LIKE game_moves INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', part);
  EXECUTE format('WITH moved AS (DELETE FROM game_moves_default WHERE game_id >= $1 AND ($2 IS NULL OR game_id < $2) '
                 'RETURNING *) INSERT INTO %I SELECT * FROM moved', part)
    USING lo, hi;
  EXECUTE format('ALTER TABLE game_moves ATTACH PARTITION %I FOR VALUES FROM (%s) TO (%s)',
                 part, lo, coalesce(hi::text, 'MAXVALUE'));
  INSERT INTO audit_log (action, details)
    VALUES ('partition_added', jsonb_build_object('partition', part, 'from', lo, 'to', hi));
  RETURN part;
END
$$;

CREATE TABLE IF NOT EXISTS hands (
  game_id        bigint NOT NULL,
  hand_no        integer NOT NULL,
  hakem          smallint NOT NULL,
  trump          smallint NOT NULL,   -- suit 0..3 = C D H S
  winner_team    smallint NOT NULL,
  points_awarded smallint NOT NULL,
  kot            boolean NOT NULL,    -- a 7-0 sweep
  tricks_a       smallint NOT NULL,   -- from the hand's last TrickWon
  tricks_b       smallint NOT NULL,
  scored_at      timestamptz NOT NULL,
  PRIMARY KEY (game_id, hand_no)
);

-- Administrative events: schema migrations, partitions added, ...
CREATE TABLE IF NOT EXISTS audit_log (
  id      bigserial PRIMARY KEY,
  at      timestamptz NOT NULL DEFAULT now(),
  actor   text NOT NULL DEFAULT current_user,
  action  text NOT NULL,
  game_id bigint,
  details jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS audit_log_at ON audit_log (at);

-- Records no store would take, with why; the same bytes are kept once
-- (payload_md5), so a replayed poison record does not add a row.
CREATE TABLE IF NOT EXISTS dead_letters (
  id            bigserial PRIMARY KEY,
  received_at   timestamptz NOT NULL DEFAULT now(),
  game_id       bigint,               -- null when the bytes did not verify
  seq           bigint,
  record_type   smallint,
  ring_position bigint,               -- ring position just after the record
  reason        text NOT NULL,
  payload       bytea NOT NULL,       -- the record's FlatBuffers bytes
  payload_md5   bytea GENERATED ALWAYS AS (decode(md5(payload), 'hex')) STORED
);
CREATE UNIQUE INDEX IF NOT EXISTS dead_letters_payload ON dead_letters (payload_md5);
CREATE INDEX IF NOT EXISTS dead_letters_game ON dead_letters (game_id, seq);

-- Where each consumer (ring or shard) has committed up to; written in the
-- same transaction as the rows, never moved backwards.
CREATE TABLE IF NOT EXISTS sidecar_checkpoint (
  name       text PRIMARY KEY,
  position   bigint NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);
