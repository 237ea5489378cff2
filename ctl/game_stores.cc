// game_stores.cc: the reads behind `hokmctl game` and `hokmctl replay`.
#include "ctl/game_stores.h"

#include <charconv>
#include <pqxx/pqxx>

#include "ctl/stores.h"
#include "shm/game_table.h"
#include "shm/segment.h"
#include "sidecar/redis/connection.h"
#include "sidecar/redis/stream_entry.h"
#include "sidecar/stored_record.h"
#include "sidecar/url.h"

namespace hokm::ctl {
namespace {

// A slot its writer keeps mid-write this many reads in a row is reported
// busy (each read already retries the seqlock: game_table.h).
constexpr int kBusyAttempts = 100;

}  // namespace

bool ParseGameId(const std::string& text, std::uint64_t& id) {
  id = 0;
  if (text.empty() || text.size() > 19) return false;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
  return ec == std::errc() && end == text.data() + text.size() && id != 0 &&
         id <= 0x7FFF'FFFF'FFFF'FFFFull;
}

Result<std::optional<core::GameState>> ReadSegmentGame(const std::string& shm_name,
                                                       std::uint64_t game_id) {
  Result<shm::Segment> segment = shm::Segment::Attach(shm_name);
  if (!segment.ok()) {
    return Status::Unavailable("segment " + shm_name + ": " + segment.status().message());
  }
  core::GameState game{};
  for (int attempt = 0; attempt < kBusyAttempts; ++attempt) {
    switch (segment->table().ReadGame(game_id, game)) {
      case shm::ReadResult::kOk:
        if (game.phase == core::Phase::kEmpty) return std::optional<core::GameState>{};
        return std::optional<core::GameState>(game);
      case shm::ReadResult::kNoSuchGame:
        return std::optional<core::GameState>{};
      case shm::ReadResult::kBusy:
        break;
    }
  }
  return Status::Unavailable("segment " + shm_name + ": the slot of game " +
                             std::to_string(game_id) + " stayed busy for every read");
}

Result<std::optional<sidecar::PublicState>> ReadRedisGame(const std::string& redis_url,
                                                          std::uint64_t game_id) {
  Result<sidecar::RedisUrl> url = sidecar::ParseRedisUrl(redis_url);
  if (!url.ok()) return url.status();
  Result<sidecar::RedisConnection> conn = ConnectRedis(*url, "hokmctl");
  if (!conn.ok()) return Status::Unavailable(conn.status().message());
  const std::string key = "hokm:g:{" + std::to_string(game_id) + "}";
  const sidecar::RedisReply reply = conn->Command({"XREVRANGE", key, "+", "-", "COUNT", "1"});
  const std::string where = "redis at " + url->HostPort() + ": ";
  if (reply == nullptr) return Status::Unavailable(where + conn->Error());
  if (sidecar::IsErrorReply(reply.get())) {
    return Status::Unavailable(where + "XREVRANGE " + key + ": " +
                               std::string(reply->str, reply->len));
  }
  if (reply->type != REDIS_REPLY_ARRAY) {
    return Status::Internal(where + "unexpected XREVRANGE reply");
  }
  if (reply->elements == 0) return std::optional<sidecar::PublicState>{};
  const std::optional<sidecar::StreamEntry> entry = sidecar::ParseStreamEntry(reply->element[0]);
  if (!entry) return Status::Corruption(where + key + ": its last entry is not [id, fields]");
  std::optional<sidecar::PublicState> state = sidecar::PublicStateFromJson(entry->Field("state"));
  if (!state) return Status::Corruption(where + key + ": its last entry has no valid state");
  return state;
}

Result<std::optional<StoredGame>> ReadPgGame(const std::string& pg_url, std::uint64_t game_id) {
  Result<sidecar::PgUrl> url = sidecar::ParsePgUrl(pg_url);
  if (!url.ok()) return url.status();
  Result<std::unique_ptr<pqxx::connection>> conn = ConnectPg(*url);  // with timeouts
  if (!conn.ok()) return conn.status();
  StoredGame game;
  try {
    pqxx::read_transaction tx(**conn);
    tx.exec("SET LOCAL jit = off");  // compiling the plan costs more than running it
    const pqxx::result session = tx.exec_params(
        "SELECT status, created_at::text, finished_at::text, winner_team, points_a, points_b, "
        "hands FROM game_sessions WHERE game_id = $1",
        static_cast<std::int64_t>(game_id));
    if (!session.empty()) {
      const pqxx::row s = session[0];
      game.has_session = true;
      game.status = s[0].c_str();
      game.created_at = s[1].is_null() ? "" : s[1].c_str();
      game.finished_at = s[2].is_null() ? "" : s[2].c_str();
      if (!s[3].is_null()) game.winner_team = s[3].as<int>();
      game.points_a = s[4].as<int>();
      game.points_b = s[5].as<int>();
      game.hands = s[6].as<int>();
    }
    const pqxx::result rows = tx.exec_params(
        "SELECT m.seq, m.type, coalesce(t.name, 'Unknown'), m.seat, m.card, m.body::text, "
        "coalesce(m.body, jsonb_build_object('seat', m.seat, 'card', m.card))::text "
        "FROM game_moves m LEFT JOIN record_types t ON t.type = m.type "
        "WHERE m.game_id = $1 ORDER BY m.seq",
        static_cast<std::int64_t>(game_id));
    game.rows.reserve(rows.size());
    game.records.reserve(rows.size());
    for (const pqxx::row& r : rows) {
      StoredGame::Row& row = game.rows.emplace_back();
      row.seq = r[0].as<std::uint64_t>();
      row.type = r[1].as<int>();
      row.type_name = r[2].c_str();
      row.json = r[6].c_str();
      sidecar::StoredRow stored;
      stored.game_id = game_id;
      stored.seq = row.seq;
      stored.type = row.type;
      if (!r[3].is_null()) stored.seat = r[3].as<int>();
      if (!r[4].is_null()) stored.card = r[4].as<int>();
      if (!r[5].is_null()) stored.body = std::string_view(r[5].c_str(), r[5].size());
      const std::string error = sidecar::DecodeStoredRow(stored, game.records.emplace_back());
      if (!error.empty()) {
        game.records.pop_back();
        if (game.decode_error.empty()) game.decode_error = error;
      }
    }
  } catch (const std::exception& e) {
    return Status::Unavailable("postgres at " + url->HostPort() + ": " + e.what());
  }
  if (!game.has_session && game.rows.empty()) return std::optional<StoredGame>{};
  return std::optional<StoredGame>(std::move(game));
}

}  // namespace hokm::ctl
