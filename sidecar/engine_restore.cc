// engine_restore.cc: live games from PostgreSQL back into an engine (see
// engine_restore.h).
#include "sidecar/engine_restore.h"

#include <chrono>
#include <cstdio>
#include <memory>
#include <pqxx/pqxx>

#include "sidecar/pg/pg_games.h"
#include "sidecar/public_state.h"
#include "sidecar/redis/connection.h"
#include "sidecar/redis/keys.h"
#include "sidecar/redis/redis_sink.h"
#include "sidecar/url.h"

namespace hokm::sidecar {
namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Deletes the stream hokm:g:{ID} when its top entry is past ARGV[1], the
// restored seq: those entries hold records PostgreSQL never got, and the
// game continues from the restored seq without them. XADD refuses IDs at or
// below a stream's last ID even after XDEL, so the stream goes whole; its
// earlier events stay in PostgreSQL (the restore entry says so).
constexpr const char* kResetPastScript = R"lua(
local top = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
if #top == 0 then return 0 end
local seq = tonumber(string.match(top[1][1], '^(%d+)'))
if seq ~= nil and seq > tonumber(ARGV[1]) then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
)lua";

// Redis commands in flight per pipeline window.
constexpr std::size_t kRedisWindow = 1000;

// The restored games, as the Redis sink's rebuild writes them: one restore
// entry each (redis_sink.h, "Losing Redis"); nothing ended, no ratings.
class RestoredGames final : public RebuildSource {
 public:
  explicit RestoredGames(std::vector<RebuiltGame> games) : games_(std::move(games)) {}
  void LiveGames(std::vector<RebuiltGame>& out) const override {
    out.insert(out.end(), games_.begin(), games_.end());
  }
  std::optional<PublicState> FindLive(std::uint64_t game_id) const override {
    for (const RebuiltGame& g : games_) {
      if (g.game_id == game_id) return g.state;
    }
    return std::nullopt;
  }
  Status EndedGames(std::chrono::milliseconds, std::optional<std::uint64_t>,
                    std::vector<RebuiltGame>&) const override {
    return Status::Ok();
  }
  Status Ratings(std::vector<PlayerRating>&) const override { return Status::Ok(); }

 private:
  std::vector<RebuiltGame> games_;
};

// Deletes the streams past their game's restored seq; returns how many.
Result<std::uint64_t> ResetStreamsPast(RedisConnection& conn, const RedisUrl& url,
                                       const std::vector<RebuiltGame>& games) {
  std::uint64_t reset = 0;
  for (std::size_t begin = 0; begin < games.size(); begin += kRedisWindow) {
    const std::size_t end = std::min(games.size(), begin + kRedisWindow);
    for (std::size_t i = begin; i < end; ++i) {
      const std::string key = keys::Game(games[i].game_id);
      const std::string seq = std::to_string(games[i].state.seq);
      conn.Append({"EVAL", kResetPastScript, "1", key, seq});
    }
    for (std::size_t i = begin; i < end; ++i) {
      const RedisReply r = conn.GetReply();
      if (r == nullptr) {
        return Status::Unavailable("redis at " + url.HostPort() + ": " + conn.Error());
      }
      if (IsErrorReply(r.get())) {
        return Status::Unavailable("redis at " + url.HostPort() +
                                   ": EVAL: " + std::string(ReplyString(r.get())));
      }
      if (r->type == REDIS_REPLY_INTEGER && r->integer == 1) ++reset;
    }
  }
  return reset;
}

}  // namespace

std::string RestoreSummary::Text() const {
  char line[512];
  std::snprintf(
      line, sizeof line,
      "restored %llu of %llu live game(s) (%llu records) in %.2f s (PostgreSQL %.2f s, "
      "replay %.2f s, Redis %.2f s); ",
      static_cast<unsigned long long>(restored), static_cast<unsigned long long>(live_in_pg),
      static_cast<unsigned long long>(records), seconds, pg_seconds, replay_seconds, redis_seconds);
  std::string text = line;
  if (redis_done) {
    text += "Redis: " + std::to_string(redis_streams_reset) +
            " stream(s) past their restored seq deleted, a restore entry per game";
  } else {
    text += "Redis: left alone (no URL)";
  }
  text += "; left out " + std::to_string(left_out.size());
  for (const auto& [id, why] : left_out)
    text += "\n  left out game " + std::to_string(id) + ": " + why;
  return text;
}

Result<RestoreSummary> RestoreFromPg(Engine& engine, const RestoreOptions& options) {
  const auto t0 = Clock::now();
  RestoreSummary summary;
  shm::GameTable& table = engine.segment().table();
  if (table.Live() != 0) {
    return Status::AlreadyExists(
        "segment " + engine.segment().name() + " already holds " + std::to_string(table.Live()) +
        " live game(s): a restore goes into an empty segment only (stop the engine and remove "
        "the segment, or start hokm-engine with --fresh, to restore over it)");
  }
  Result<PgUrl> pg_url = ParsePgUrl(options.pg_url);
  if (!pg_url.ok()) return Status::InvalidArgument("--pg-url: " + pg_url.status().message());
  pg_url->params.try_emplace("connect_timeout", "5");
  pg_url->params.try_emplace("application_name", "hokm-engine restore");

  // Redis first: unreachable means nothing is restored, not games restored
  // beside streams that contradict them.
  std::optional<RedisUrl> redis_url;
  RedisConnection redis;
  if (!options.redis_url.empty()) {
    Result<RedisUrl> url = ParseRedisUrl(options.redis_url);
    if (!url.ok()) return Status::InvalidArgument("--redis-url: " + url.status().message());
    redis_url = *url;
    RedisConnectOptions ro;
    ro.io_timeout = std::chrono::seconds(30);
    ro.client_name = "hokm-engine-restore";
    Result<RedisConnection> conn = RedisConnection::Connect(*redis_url, ro);
    if (!conn.ok()) return Status::Unavailable(conn.status().message());
    redis = std::move(conn).value();
  }

  std::vector<RebuiltGame> restored;
  const std::uint32_t batch = std::max<std::uint32_t>(1, options.batch_games);
  try {
    pqxx::connection conn(pg_url->ConnInfo());
    {
      pqxx::read_transaction tx(conn);
      auto t = Clock::now();
      const std::vector<std::uint64_t> ids = ReadLiveGameIds(tx, options.min_game_id);
      summary.live_in_pg = ids.size();
      summary.pg_seconds += SecondsSince(t);
      restored.reserve(ids.size());
      for (std::size_t begin = 0; begin < ids.size(); begin += batch) {
        t = Clock::now();
        const std::size_t n = std::min<std::size_t>(batch, ids.size() - begin);
        const std::vector<StoredGame> games =
            ReadStoredGames(tx, std::span<const std::uint64_t>(ids).subspan(begin, n));
        summary.pg_seconds += SecondsSince(t);
        t = Clock::now();
        for (const StoredGame& game : games) {
          if (!game.decode_error.empty()) {
            summary.left_out.emplace_back(game.game_id,
                                          "a row does not decode: " + game.decode_error);
            continue;
          }
          const RestoreOutcome o = engine.RestoreGame(game.game_id, game.records);
          if (o.result != RestoreResult::kRestored) {
            std::string why = RestoreResultName(o.result);
            if (!o.why.empty()) why += ": " + o.why;
            summary.left_out.emplace_back(game.game_id, std::move(why));
            continue;
          }
          ++summary.restored;
          summary.records += game.records.size();
          core::GameState state{};
          (void)engine.Snapshot(game.game_id, state);
          restored.push_back({game.game_id, PublicState::FromGame(state), 0});
        }
        summary.replay_seconds += SecondsSince(t);
      }
    }
    engine.FinishRestore();
    // The lost segment's ring positions: the new rings start at 0, and the
    // checkpoint never moves backwards (pg_sink.h).
    pqxx::work tx(conn);
    const std::string prefix = engine.segment().name() + ":shard-";
    tx.exec_params("DELETE FROM sidecar_checkpoint WHERE left(name, length($1)) = $1", prefix);
    tx.commit();
  } catch (const std::exception& e) {
    engine.FinishRestore();
    return Status::Unavailable("postgresql at " + pg_url->HostPort() + ": " + e.what());
  }

  if (redis_url) {
    const auto t = Clock::now();
    Result<std::uint64_t> reset = ResetStreamsPast(redis, *redis_url, restored);
    if (!reset.ok()) return reset.status();
    summary.redis_streams_reset = *reset;
    RedisSinkOptions so;
    so.check_marker = false;  // the sidecar's sink owns finding out that Redis lost data
    so.client_name = "hokm-engine-restore";
    so.rebuild_source = std::make_shared<RestoredGames>(std::move(restored));
    Result<RedisSink> sink = RedisSink::Connect(*redis_url, so);
    if (!sink.ok()) return sink.status();
    Result<RebuildCounts> written = sink->Rebuild(std::nullopt, false);
    if (!written.ok()) return written.status();
    summary.redis_done = true;
    summary.redis_seconds = SecondsSince(t);
  }
  summary.seconds = SecondsSince(t0);
  return summary;
}

}  // namespace hokm::sidecar
