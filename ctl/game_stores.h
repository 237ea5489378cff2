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

#include "core/records/change.h"
#include "core/rules/game_state.h"
#include "shm/status.h"
#include "sidecar/pg/pg_games.h"
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

// The `state` field of the last entry of the game's stream (keys::Game):
// nullopt when the stream does not exist. cluster: --redis-cluster.
Result<std::optional<sidecar::PublicState>> ReadRedisGame(const std::string& redis_url,
                                                          bool cluster, std::uint64_t game_id);

// What PostgreSQL holds of one game (read with its rows' text).
using StoredGame = sidecar::StoredGame;

// The game's session row and records; a game with neither is nullopt.
Result<std::optional<StoredGame>> ReadPgGame(const std::string& pg_url, std::uint64_t game_id);

}  // namespace hokm::ctl
