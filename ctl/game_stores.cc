// game_stores.cc: the reads behind `hokmctl game` and `hokmctl replay`.
#include "ctl/game_stores.h"

#include <charconv>
#include <pqxx/pqxx>

#include "ctl/stores.h"
#include "shm/game_table.h"
#include "shm/segment.h"
#include "sidecar/redis/client.h"
#include "sidecar/redis/keys.h"
#include "sidecar/redis/stream_entry.h"
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
                                                          bool cluster, std::uint64_t game_id) {
  Result<sidecar::RedisUrl> url = sidecar::ParseRedisUrl(redis_url);
  if (!url.ok()) return url.status();
  if (cluster) url->cluster = true;
  Result<sidecar::RedisClient> conn = ConnectRedis(*url, "hokmctl");
  if (!conn.ok()) return Status::Unavailable(conn.status().message());
  const std::string key = sidecar::keys::Game(game_id);
  const sidecar::RedisReply reply = conn->Command({"XREVRANGE", key, "+", "-", "COUNT", "1"});
  const std::string where = "redis at " + conn->Where() + ": ";
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
    const std::uint64_t ids[] = {game_id};
    game = std::move(sidecar::ReadStoredGames(tx, ids, sidecar::StoredGameRead::kWithText).front());
  } catch (const std::exception& e) {
    return Status::Unavailable("postgres at " + url->HostPort() + ": " + e.what());
  }
  if (!game.has_session && game.rows.empty()) return std::optional<StoredGame>{};
  return std::optional<StoredGame>(std::move(game));
}

}  // namespace hokm::ctl
