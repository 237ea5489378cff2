// game_stores.h: one game as each place holds it, for `hokmctl game` and
// `hokmctl replay`: the engine's segment (a seqlock read of its slot), the
// Redis stream hokm:g:{ID} (its last entry's state) and PostgreSQL (its
// game_sessions row and its records, game_moves, decoded and replayed
// through the rules: core/records/replay.h).
//
// Every read opens its own connection with timeouts and closes it; a store
// that is down is an error Status (Unavailable) naming it, never a hang.
//
// Thread safety: plain functions; nothing shared.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/records/change.h"
#include "core/rules/game_state.h"
#include "shm/status.h"
#include "sidecar/public_state.h"

namespace hokm::ctl {

// A game id as given on the command line: decimal, 1 .. 2^63-1 (the stores
// keep ids as bigint). False when it is not one.
bool ParseGameId(const std::string& text, std::uint64_t& id);

// The game's state in the segment `shm_name`: nullopt when the segment
// holds no such game (or the slot is free); Unavailable when there is no
// segment to read, or the writer kept the slot busy for every attempt.
Result<std::optional<core::GameState>> ReadSegmentGame(const std::string& shm_name,
                                                       std::uint64_t game_id);

// The `state` field of the last entry of hokm:g:{ID}: nullopt when the
// stream does not exist.
Result<std::optional<sidecar::PublicState>> ReadRedisGame(const std::string& redis_url,
                                                          std::uint64_t game_id);

// What PostgreSQL holds of one game.
struct StoredGame {
  bool has_session = false;             // a game_sessions row
  std::string status;                   // game_sessions.status
  std::string created_at, finished_at;  // as PostgreSQL prints them; "" when null
  std::optional<int> winner_team;
  int points_a = 0, points_b = 0, hands = 0;
  // Every record, in seq order, as the game_moves view gives it.
  struct Row {
    std::uint64_t seq = 0;
    int type = 0;
    std::string type_name;  // record_types.name
    std::string json;       // the record's fields (a card play's from its columns)
  };
  std::vector<Row> rows;
  std::vector<core::Change> records;  // the rows decoded (DecodeStoredRow)
  std::string decode_error;           // the first row that did not decode; "" when none
};

// The game's session row and records; a game with neither is nullopt.
Result<std::optional<StoredGame>> ReadPgGame(const std::string& pg_url, std::uint64_t game_id);

}  // namespace hokm::ctl
