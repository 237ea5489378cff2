// pg_games.cc: games and their records read back from PostgreSQL (see
// pg_games.h).
#include "sidecar/pg/pg_games.h"

#include <algorithm>
#include <unordered_map>

#include "sidecar/stored_record.h"

namespace hokm::sidecar {
namespace {

// The ids as a PostgreSQL array literal: one parameter however many ids.
std::string IdArray(std::span<const std::uint64_t> ids) {
  std::string text = "{";
  for (const std::uint64_t id : ids) {
    if (text.size() > 1) text += ',';
    text += std::to_string(static_cast<std::int64_t>(id));
  }
  text += '}';
  return text;
}

}  // namespace

std::vector<StoredGame> ReadStoredGames(pqxx::transaction_base& tx,
                                        std::span<const std::uint64_t> game_ids,
                                        StoredGameRead what) {
  std::vector<StoredGame> games(game_ids.size());
  std::unordered_map<std::uint64_t, std::size_t> index;
  index.reserve(game_ids.size());
  for (std::size_t i = 0; i < game_ids.size(); ++i) {
    games[i].game_id = game_ids[i];
    index.emplace(game_ids[i], i);
  }
  if (game_ids.empty()) return games;
  const std::string ids = IdArray(game_ids);
  tx.exec("SET LOCAL jit = off");  // compiling the plan costs more than running it
  const pqxx::result sessions = tx.exec_params(
      "SELECT game_id, status, created_at::text, finished_at::text, winner_team, points_a, "
      "points_b, hands FROM game_sessions WHERE game_id = ANY($1::bigint[])",
      ids);
  for (const pqxx::row& s : sessions) {
    StoredGame& game = games[index.at(s[0].as<std::uint64_t>())];
    game.has_session = true;
    game.status = s[1].c_str();
    game.created_at = s[2].is_null() ? "" : s[2].c_str();
    game.finished_at = s[3].is_null() ? "" : s[3].c_str();
    if (!s[4].is_null()) game.winner_team = s[4].as<int>();
    game.points_a = s[5].as<int>();
    game.points_b = s[6].as<int>();
    game.hands = s[7].as<int>();
  }
  const bool with_text = what == StoredGameRead::kWithText;
  const pqxx::result rows = tx.exec_params(
      with_text ? "SELECT m.game_id, m.seq, m.type, m.seat, m.card, m.body::text, "
                  "coalesce(t.name, 'Unknown'), "
                  "coalesce(m.body, jsonb_build_object('seat', m.seat, 'card', m.card))::text "
                  "FROM game_moves m LEFT JOIN record_types t ON t.type = m.type "
                  "WHERE m.game_id = ANY($1::bigint[]) ORDER BY m.game_id, m.seq"
                : "SELECT m.game_id, m.seq, m.type, m.seat, m.card, m.body::text "
                  "FROM game_moves m WHERE m.game_id = ANY($1::bigint[]) ORDER BY m.game_id, m.seq",
      ids);
  // Unordered: sorting each game's records here costs the client less than
  // the ORDER BY costs the server (the restore reads many games per query).
  StoredGame* game = nullptr;
  for (const pqxx::row& r : rows) {
    const auto game_id = r[0].as<std::uint64_t>();
    if (game == nullptr || game->game_id != game_id) game = &games[index.at(game_id)];
    StoredRow stored;
    stored.game_id = game_id;
    stored.seq = r[1].as<std::uint64_t>();
    stored.type = r[2].as<int>();
    if (!r[3].is_null()) stored.seat = r[3].as<int>();
    if (!r[4].is_null()) stored.card = r[4].as<int>();
    if (!r[5].is_null()) stored.body = std::string_view(r[5].c_str(), r[5].size());
    ++game->row_count;
    if (with_text) {
      StoredGame::Row& row = game->rows.emplace_back();
      row.seq = stored.seq;
      row.type = stored.type;
      row.type_name = r[6].c_str();
      row.json = r[7].c_str();
    }
    const std::string error = DecodeStoredRow(stored, game->records.emplace_back());
    if (!error.empty()) {
      game->records.pop_back();
      if (game->decode_error.empty()) game->decode_error = error;
    }
  }
  for (StoredGame& g : games) {
    std::sort(g.records.begin(), g.records.end(),
              [](const core::Change& a, const core::Change& b) { return a.game_seq < b.game_seq; });
    std::sort(g.rows.begin(), g.rows.end(),
              [](const StoredGame::Row& a, const StoredGame::Row& b) { return a.seq < b.seq; });
  }
  return games;
}

std::vector<std::uint64_t> ReadLiveGameIds(pqxx::transaction_base& tx, std::uint64_t min_game_id) {
  std::vector<std::uint64_t> ids;
  const pqxx::result r = tx.exec_params(
      "SELECT game_id FROM game_sessions WHERE status IN ('waiting', 'playing') AND game_id >= $1 "
      "ORDER BY game_id",
      static_cast<std::int64_t>(min_game_id));
  ids.reserve(r.size());
  for (const pqxx::row& row : r) ids.push_back(row[0].as<std::uint64_t>());
  return ids;
}

}  // namespace hokm::sidecar
