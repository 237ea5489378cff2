// seed_state.h: the --baseline seed design's storage formats: one game's
// whole state as a JSON document in Redis (key seed:g:{ID}), the Lua
// compare-and-set script that writes it, and the seed_moves table.
//
// State document (keys always in this order; "seq" first so the script can
// read the version without a JSON parser; 64-bit values as strings):
//
//   {"seq":12,"game_id":"…","phase":3,"hand_no":1,"hakem":2,"turn":0,"leader":0,
//    "trump":1,"trick_no":0,"trick_size":0,"trick":[255,255,255,255],"tricks":[0,0],
//    "points":[0,0],"winner":0,"players":["…","…","…","…"],"hands":[…4 masks],
//    "pending":[…4 masks],"seed":"…","rng":"…","room":"loadgen","config":[0,2,3,7,0]}
//
// phase, trump, cards are the numbers of core/rules/game_state.h and core/rules/card.h;
// config is [play_all_tricks, kot_points_hakem_team, kot_points_opponents,
// target_points, first_hakem].
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/rules/game_state.h"

namespace hokm::loadgen {

// "seed:g:{ID}": the hash tag keeps a game on one Redis Cluster slot.
std::string SeedGameKey(std::uint64_t game_id);

// Appends s as the state document.
void EncodeSeedState(const core::GameState& s, std::string& out);
// Parses a state document; false when it is not one (nothing is trusted).
[[nodiscard]] bool DecodeSeedState(std::string_view json, core::GameState& out);

// KEYS[1] the game key; ARGV[1] the seq the writer read (0: the game must
// not exist yet), ARGV[2] the new document, ARGV[3] its TTL in seconds.
// Sets the document only if the stored "seq" still equals ARGV[1]: returns
// 1, or 0 when another writer got there first (the caller reads again).
// The text is baseline/lua/seed_cas.lua, embedded at build time.
extern const std::string_view kSeedCasScript;
std::string_view SeedCasScript();

// CREATE TABLE IF NOT EXISTS seed_moves (...): one row per change record,
// primary key (game_id, seq), as game_moves.
std::string_view SeedMovesDdl();

}  // namespace hokm::loadgen
