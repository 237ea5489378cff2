// engine_restore.h: restore after a lost machine (docs/DESIGN.md §6): every
// game PostgreSQL shows live, read back, replayed through the rules and put
// into a new (or emptied) segment under its own id, so it continues with
// its next seq. What `hokm-engine --restore-from-pg` runs, and what a
// frontend embedding hokm::Engine calls after Engine::Open.
//
//   PostgreSQL ──ids of the live games (one query)──┐
//              ──records of N games (two queries)───┤ per batch of N games
//                                                   ▼
//   Engine::RestoreGame: ReplayRecords, exact or left out (by id, and why)
//                                                   ▼
//   Redis: each restored game's stream ends at its restored seq (a stream
//   past it is deleted: those records never reached PostgreSQL and the
//   game continues without them), then one restore entry per game (as the
//   sidecar's rebuild writes them); sidecar_checkpoint rows of the lost
//   segment's rings are deleted (the new rings start at 0).
//
// The bound: a game loses the records that had not reached PostgreSQL
// (its sync lag); a game whose GameCreated had not reached it is lost.
//
// Thread safety: RestoreFromPg runs on one thread before the engine
// serves (Engine::RestoreGame's REQUIRES).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/engine.h"
#include "shm/status.h"

namespace hokm::sidecar {

struct RestoreOptions {
  std::string pg_url;               // required
  std::string redis_url;            // empty: Redis is left alone (and the summary says so)
  std::uint32_t batch_games = 500;  // games read per query
  // Only the live games with an id at or above (0: every live game): e.g.
  // the lost segment's first id, when PostgreSQL also holds live games of
  // another engine (ids grow with time: shm/game_table.h).
  std::uint64_t min_game_id = 0;
};

struct RestoreSummary {
  std::uint64_t live_in_pg = 0;  // games PostgreSQL showed live
  std::uint64_t restored = 0;
  std::uint64_t records = 0;  // records replayed, of the restored games
  // Games left out: id and why ("replay differs from the stored records:
  // seq 12 card: stored 5, replayed 7").
  std::vector<std::pair<std::uint64_t, std::string>> left_out;
  std::uint64_t redis_streams_reset = 0;  // streams past the restored seq, deleted
  bool redis_done = false;                // Redis was brought in line
  double pg_seconds = 0;                  // reading PostgreSQL
  double replay_seconds = 0;              // replaying and placing
  double redis_seconds = 0;
  double seconds = 0;  // the whole restore

  // One line: "restored 9998 of 10000 live game(s) (1234567 records) in
  // 3.2 s (...); left out 2: ...".
  std::string Text() const;
};

// Restores every live game of PostgreSQL into `engine`. AlreadyExists
// when the segment already holds live games (nothing is changed);
// Unavailable when PostgreSQL (or, with a URL, Redis) cannot be reached
// or fails midway: games already placed stay, nothing is half-placed.
// REQUIRES: the engine does not serve yet.
Result<RestoreSummary> RestoreFromPg(Engine& engine, const RestoreOptions& options);

}  // namespace hokm::sidecar
