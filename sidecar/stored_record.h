// stored_record.h: a record as PostgreSQL stores it (one row of the
// game_moves view: seq, type, and seat + card for a card play or the body
// JSON of sidecar/record_json.h for any other) decoded back into the
// core::Change the rules emitted: what a replay of a game from its rows
// reads (core/records/replay.h; the Redis rebuild, hokmctl replay).
//
// The inverse of AppendBodyJson: every field of the type must be there,
// in range (seats 0..3, cards 0..51, suits 0..3, teams 0..1, the room at
// most 8 bytes); the fields a type does not use are left as the rules
// leave them (zero, card kNoCard, suit kNone).
//
// Thread safety: a plain function.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/records/change.h"

namespace hokm::sidecar {

struct StoredRow {
  std::uint64_t game_id = 0;
  std::uint64_t seq = 0;
  int type = 0;                          // record_types.type
  std::optional<int> seat, card;         // the columns of a card play (null otherwise)
  std::optional<std::string_view> body;  // the body JSON (null for a card play)
};

// Fills out from row; empty on success, else why the row is no valid record
// ("seq 12: CardPlayed: card 60 out of range").
std::string DecodeStoredRow(const StoredRow& row, core::Change& out);

}  // namespace hokm::sidecar
