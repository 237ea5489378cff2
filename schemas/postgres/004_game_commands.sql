-- 004_game_commands.sql: the event log holds one row per command, not per
-- record (docs/DESIGN.md §5: the unit of delivery is the command).
--
-- A command's records (a card play and the TrickWon, HandScored, next
-- HakemChosen and deals it caused) leave the engine together, with one
-- timestamp, and now land as one row: about one row per card play instead
-- of one per record, one primary-key insert each (bench/README.md has the
-- figures).
--
--   game_commands  game_id, seq (the first record's game_seq), ts_ns (the
--                  engine's CLOCK_REALTIME ns, exact; the view gives ts),
--                  seat + card  when the command's first record is a
--                               CardPlayed (most rows: nothing else),
--                  records      the command's other records, in order, as
--                               [{"seq":..,"type":..,<fields>}, ...]
--                               (type = record_types.type; fields as in
--                               schemas/hokm.fbs); null when there are none
--
-- game_moves is now a view with the former table's columns and one row per
-- record, over game_commands and the rows written before this migration
-- (kept where they were, in game_moves_v1): every query by (game_id, seq)
-- with its type and fields reads as before.
--
--   SELECT seq, type, seat, card, body FROM game_moves WHERE game_id = $1 ORDER BY seq;

DO $$
BEGIN
  IF (SELECT relkind FROM pg_class WHERE oid = to_regclass('public.game_moves')) = 'p' THEN
    ALTER TABLE game_moves RENAME TO game_moves_v1;
  END IF;
END $$;

CREATE TABLE IF NOT EXISTS game_commands (
  game_id bigint NOT NULL,
  seq     bigint NOT NULL,       -- game_seq of the command's first record
  ts_ns   bigint NOT NULL,       -- the engine's ts_ns (a bigint parses in COPY faster
                                 -- than a timestamptz, bench/README.md; game_moves.ts
                                 -- converts it)
  seat    smallint,              -- first record a CardPlayed: its seat 0..3
  card    smallint,              -- and its card 0..51
  records jsonb,                 -- the other records; null when none
  PRIMARY KEY (game_id, seq)
) PARTITION BY RANGE (game_id);
CREATE TABLE IF NOT EXISTS game_commands_default PARTITION OF game_commands DEFAULT;

-- ts_ns as a timestamptz, to the microsecond (integer arithmetic, exact).
CREATE OR REPLACE FUNCTION hokm_ts(ts_ns bigint) RETURNS timestamptz
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT timestamptz 'epoch' + (ts_ns / 1000) * interval '1 microsecond'
$$;

CREATE OR REPLACE VIEW game_moves AS
SELECT game_id, seq, type, ts, body, seat, card
  FROM game_moves_v1
UNION ALL
SELECT c.game_id, c.seq, 7::smallint AS type, hokm_ts(c.ts_ns), NULL::jsonb AS body, c.seat, c.card
  FROM game_commands c
 WHERE c.card IS NOT NULL
UNION ALL
SELECT c.game_id, (r.value->>'seq')::bigint, (r.value->>'type')::smallint, hokm_ts(c.ts_ns),
       r.value - 'seq' - 'type', NULL::smallint, NULL::smallint
  FROM game_commands c
 CROSS JOIN LATERAL jsonb_array_elements(c.records) r;

-- The last game_seq of a command row.
CREATE OR REPLACE FUNCTION hokm_command_last_seq(c game_commands) RETURNS bigint
LANGUAGE sql IMMUTABLE AS $$
  SELECT c.seq + coalesce(jsonb_array_length(c.records), 0) - CASE WHEN c.card IS NULL THEN 1 ELSE 0 END
$$;

-- hokm_ensure_commands_partition(game_id, span_bits): as
-- hokm_ensure_moves_partition did for game_moves (001_core.sql): makes sure
-- the range of 2^span_bits game ids holding game_id has its own partition,
-- game_commands_<span_bits>_<game_id >> span_bits>, moving its rows out of
-- the default partition first. Idempotent and safe to call concurrently.
--
-- Archiving a range:
--   ALTER TABLE game_commands DETACH PARTITION game_commands_52_0;
--   pg_dump -t game_commands_52_0 ... ; DROP TABLE game_commands_52_0;
CREATE OR REPLACE FUNCTION hokm_ensure_commands_partition(p_game_id bigint, p_span_bits integer DEFAULT 52)
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
  part := format('game_commands_%s_%s', p_span_bits, block);
  IF to_regclass(part) IS NOT NULL THEN
    RETURN part;
  END IF;
  PERFORM pg_advisory_xact_lock(hashtext('hokm_ensure_commands_partition'));
  IF to_regclass(part) IS NOT NULL THEN
    RETURN part;
  END IF;
  lo := block << p_span_bits;
  IF lo::numeric + 2::numeric ^ p_span_bits <= 9223372036854775807 THEN
    hi := lo + (1::bigint << p_span_bits);
  END IF;
  EXECUTE format('CREATE TABLE %I (LIKE game_commands INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', part);
  EXECUTE format('WITH moved AS (DELETE FROM game_commands_default WHERE game_id >= $1 AND ($2 IS NULL OR game_id < $2) '
                 'RETURNING *) INSERT INTO %I SELECT * FROM moved', part)
    USING lo, hi;
  EXECUTE format('ALTER TABLE game_commands ATTACH PARTITION %I FOR VALUES FROM (%s) TO (%s)',
                 part, lo, coalesce(hi::text, 'MAXVALUE'));
  INSERT INTO audit_log (action, details)
    VALUES ('partition_added', jsonb_build_object('partition', part, 'from', lo, 'to', hi));
  RETURN part;
END
$$;

-- The former name, for scripts that call it.
CREATE OR REPLACE FUNCTION hokm_ensure_moves_partition(p_game_id bigint, p_span_bits integer DEFAULT 52)
RETURNS text
LANGUAGE sql AS $$ SELECT hokm_ensure_commands_partition(p_game_id, p_span_bits) $$;

-- Live games with their last move: from the command rows (the last row's
-- last seq), else from the rows before this migration.
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
       coalesce(public.hokm_ts(c.ts_ns), m.ts) AS last_move_at
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
