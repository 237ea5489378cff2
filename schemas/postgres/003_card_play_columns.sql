-- 003_card_play_columns.sql: card plays (about 70% of game_moves) keep their
-- two fields in typed columns and no body.
--
-- Parsing a jsonb body was a large share of the sink's PostgreSQL time under
-- load (sidecar/README.md, Measurements), and a card play's body only ever said
-- {"seat": s, "card": c}. Rows of every other type keep their body as before
-- and leave seat and card null. Adding nullable columns without a default
-- only changes the catalog: existing rows and partitions are not rewritten.
--
--   SELECT game_id, seq, seat, card FROM game_moves WHERE type = 7;   -- card plays
--   SELECT coalesce(body, jsonb_build_object('seat', seat, 'card', card)) FROM game_moves;

ALTER TABLE game_moves
  ADD COLUMN IF NOT EXISTS seat smallint,   -- CardPlayed (type 7): the seat 0..3
  ADD COLUMN IF NOT EXISTS card smallint;   -- CardPlayed: the card 0..51 (schemas/hokm.fbs)
ALTER TABLE game_moves ALTER COLUMN body DROP NOT NULL;

COMMENT ON COLUMN game_moves.body IS
  'the record''s fields as jsonb; null for card plays (type 7), whose fields are seat and card';
