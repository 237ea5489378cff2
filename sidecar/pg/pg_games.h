// pg_games.h: whole games read back from PostgreSQL: each game's
// game_sessions row and every record of it (the game_moves view), decoded
// into the core::Change the rules emitted (sidecar/stored_record.h), for
// whatever replays games from their rows: `hokmctl game` and `hokmctl
// replay` (ctl/game_stores.h), and the engine's restore after a lost
// machine (sidecar/engine_restore.h), which reads many games per query.
//
// Thread safety: plain functions over the caller's transaction.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <pqxx/pqxx>

#include "core/records/change.h"

namespace hokm::sidecar {

// What PostgreSQL holds of one game.
struct StoredGame {
  std::uint64_t game_id = 0;
  bool has_session = false;             // a game_sessions row
  std::string status;                   // game_sessions.status
  std::string created_at, finished_at;  // as PostgreSQL prints them; "" when null
  std::optional<int> winner_team;
  int points_a = 0, points_b = 0, hands = 0;
  // Every record, in seq order, as the game_moves view gives it (only
  // with StoredGameRead::kWithText).
  struct Row {
    std::uint64_t seq = 0;
    int type = 0;
    std::string type_name;  // record_types.name
    std::string json;       // the record's fields (a card play's from its columns)
  };
  std::vector<Row> rows;
  std::vector<core::Change> records;  // the rows decoded (DecodeStoredRow), in seq order
  std::uint64_t row_count = 0;        // rows read (records + those that did not decode)
  std::string decode_error;           // why a row did not decode (one of them); "" when none
};

enum class StoredGameRead : std::uint8_t {
  kRecordsOnly,  // records (and the session row): what a replay needs
  kWithText,     // also rows (type names and JSON), for printing
};

// The games `game_ids` (each at most once), in that order: two queries
// however many games. A game PostgreSQL knows nothing of comes back with
// no session and no records. Throws what libpqxx throws.
std::vector<StoredGame> ReadStoredGames(pqxx::transaction_base& tx,
                                        std::span<const std::uint64_t> game_ids,
                                        StoredGameRead what = StoredGameRead::kRecordsOnly);

// The ids of the games PostgreSQL shows live (game_sessions status
// waiting or playing), at or above min_game_id, ascending. Throws what
// libpqxx throws.
std::vector<std::uint64_t> ReadLiveGameIds(pqxx::transaction_base& tx,
                                           std::uint64_t min_game_id = 0);

}  // namespace hokm::sidecar
