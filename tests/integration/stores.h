// stores.h: the integration tests' way to the REAL servers
// (scripts/services.sh start): their URLs, raw clients to look at what the
// sinks wrote, per-test id ranges and cleanup, and whole games played
// through the real rules (hokm::core) as change-record bytes.
//
// A server that does not answer fails the test with how to start it; the
// tests never skip.
#pragma once

#include <flatbuffers/flatbuffers.h>
#include <gtest/gtest.h>
#include <hiredis/hiredis.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "core/records/record_codec.h"
#include "core/rules/bots.h"
#include "core/rules/rules.h"
#include "sidecar/pg/pg_sink.h"
#include "sidecar/public_state.h"
#include "sidecar/redis/client.h"
#include "sidecar/redis/keys.h"
#include "sidecar/redis/redis_sink.h"
#include "sidecar/redis/stream_entry.h"
#include "tests/sidecar/test_records.h"

namespace hokm::sidecar::integration {

using testing::OwnedRecord;
using testing::ScriptedGame;

inline std::string EnvOr(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::string(v) : fallback;
}

// HOKM_REDIS_URL (else REDIS_URL), else what scripts/services.sh prints.
inline std::string RedisUrlString() {
  const std::string url = RedisUrlFromEnv();
  return url.empty() ? "redis://127.0.0.1:6390/0" : url;
}

// HOKM_PG_URL (else DATABASE_URL), else what scripts/services.sh prints
// (its password file).
inline std::string PgUrlString() {
  if (std::string url = PgUrlFromEnv(); !url.empty()) return url;
  std::ifstream in(std::string(HOKM_SOURCE_DIR) + "/.local/pg-password");
  std::string password;
  std::getline(in, password);
  return "postgresql://hokm:" + password + "@127.0.0.1:5440/hokm";
}

inline std::string SchemaDir() { return std::string(HOKM_SOURCE_DIR) + "/schemas/postgres"; }

inline RedisUrl RedisUrlOrDie() {
  auto u = ParseRedisUrl(RedisUrlString());
  EXPECT_TRUE(u.ok()) << "HOKM_REDIS_URL: " << u.status().message();
  return u.ok() ? *u : RedisUrl{};
}

inline PgUrl PgUrlOrDie() {
  auto u = ParsePgUrl(PgUrlString());
  EXPECT_TRUE(u.ok()) << "HOKM_PG_URL: " << u.status().message();
  return u.ok() ? *u : PgUrl{};
}

// The message a test fails with when a store is not there.
inline std::string NotAnswering(const std::string& what, const std::string& host_port,
                                const Status& s) {
  return what + " at " + host_port +
         " not answering: run `make services` (or scripts/services.sh start), " + "or point " +
         (what == "redis" ? "HOKM_REDIS_URL" : "HOKM_PG_URL") + " at a server. (" + s.message() +
         ")";
}

// A raw hiredis connection for looking at what the Redis sink wrote.
class RedisProbe {
 public:
  struct ReplyDeleter {
    void operator()(redisReply* r) const { freeReplyObject(r); }
  };
  using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

  bool Connect(const RedisUrl& url) {
    ctx_.reset(redisConnectWithTimeout(url.host.c_str(), url.port, timeval{2, 0}));
    if (!ctx_ || ctx_->err) return false;
    redisSetTimeout(ctx_.get(), timeval{10, 0});
    if (!url.password.empty()) Command({"AUTH", url.password});
    if (url.db != 0) Command({"SELECT", std::to_string(url.db)});
    return true;
  }

  Reply Command(const std::vector<std::string>& words) {
    std::vector<const char*> argv;
    std::vector<std::size_t> lens;
    for (const auto& w : words) {
      argv.push_back(w.data());
      lens.push_back(w.size());
    }
    return Reply(static_cast<redisReply*>(
        redisCommandArgv(ctx_.get(), static_cast<int>(argv.size()), argv.data(), lens.data())));
  }

  // Many commands in one pipeline; replies in order.
  std::vector<Reply> Pipeline(const std::vector<std::vector<std::string>>& commands) {
    for (const auto& words : commands) {
      std::vector<const char*> argv;
      std::vector<std::size_t> lens;
      for (const auto& w : words) {
        argv.push_back(w.data());
        lens.push_back(w.size());
      }
      redisAppendCommandArgv(ctx_.get(), static_cast<int>(argv.size()), argv.data(), lens.data());
    }
    std::vector<Reply> replies;
    for (std::size_t k = 0; k < commands.size(); ++k) {
      void* raw = nullptr;
      if (redisGetReply(ctx_.get(), &raw) != REDIS_OK) break;
      replies.emplace_back(static_cast<redisReply*>(raw));
    }
    return replies;
  }

  long long Integer(const std::vector<std::string>& words) {
    Reply r = Command(words);
    return r && r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
  }

  // HGETALL as a map.
  std::map<std::string, std::string> Hash(const std::string& key) {
    std::map<std::string, std::string> out;
    Reply r = Command({"HGETALL", key});
    if (!r || r->type != REDIS_REPLY_ARRAY) return out;
    for (std::size_t k = 0; k + 1 < r->elements; k += 2) {
      out[std::string(r->element[k]->str, r->element[k]->len)] =
          std::string(r->element[k + 1]->str, r->element[k + 1]->len);
    }
    return out;
  }

  redisContext* context() { return ctx_.get(); }

  // The public state in the last entry of a game's stream
  // (sidecar/public_state.h) as the fields of the former hash: seq phase
  // room target s0..s3 hakem trump turn leader t0..t3 trick_no tricks_a
  // tricks_b hand points_a points_b winner updated_ms, "" for none. Empty
  // when the game has no stream.
  std::map<std::string, std::string> GameState(const std::string& key) {
    std::map<std::string, std::string> out;
    bool has_stream = false;
    const std::optional<PublicState> s = TopState(key, &has_stream);
    if (!has_stream) return out;
    if (!s) {
      out["unparsable"] = "1";
      return out;
    }
    const auto small = [](std::int8_t v) { return v < 0 ? std::string() : std::to_string(v); };
    out["seq"] = std::to_string(s->seq);
    out["phase"] = PhaseName(s->phase);
    out["room"] = std::string(s->room_view());
    out["target"] = std::to_string(s->target);
    for (int k = 0; k < 4; ++k) {
      out["s" + std::to_string(k)] = std::to_string(s->seats[k]);
      out["t" + std::to_string(k)] = small(s->table[k]);
    }
    out["hakem"] = small(s->hakem);
    out["trump"] = small(s->trump);
    out["turn"] = small(s->turn);
    out["leader"] = small(s->leader);
    out["winner"] = small(s->winner);
    out["trick_no"] = std::to_string(s->trick_no);
    out["tricks_a"] = std::to_string(s->tricks[0]);
    out["tricks_b"] = std::to_string(s->tricks[1]);
    out["hand"] = std::to_string(s->hand);
    out["points_a"] = std::to_string(s->points[0]);
    out["points_b"] = std::to_string(s->points[1]);
    out["updated_ms"] = std::to_string(s->updated_ms);
    return out;
  }

  // The `state` of the last entry of a game's stream; nullopt when there is
  // no stream (*has_stream false) or its state does not parse.
  std::optional<PublicState> TopState(const std::string& key, bool* has_stream = nullptr) {
    Reply r = Command({"XREVRANGE", key, "+", "-", "COUNT", "1"});
    const bool any = r && r->type == REDIS_REPLY_ARRAY && r->elements > 0;
    if (has_stream) *has_stream = any;
    if (!any) return std::nullopt;
    return PublicStateFromJson(EntryField(r->element[0], "state"));
  }

  // The events of a game's stream (or of `range` of it, XRANGE's start and
  // end), in order, as JSON objects.
  std::vector<nlohmann::json> Events(const std::string& key, const std::string& start = "-",
                                     const std::string& end = "+") {
    std::vector<nlohmann::json> out;
    Reply r = Command({"XRANGE", key, start, end});
    if (!r || r->type != REDIS_REPLY_ARRAY) return out;
    for (std::size_t k = 0; k < r->elements; ++k) {
      const nlohmann::json events =
          nlohmann::json::parse(EntryField(r->element[k], "events"), nullptr, false);
      if (!events.is_array()) {
        out.push_back(nlohmann::json("unparsable entry"));
        continue;
      }
      for (const auto& e : events) out.push_back(e);
    }
    return out;
  }
  // The seqs of Events(key).
  std::vector<std::uint64_t> EventSeqs(const std::string& key) {
    std::vector<std::uint64_t> seqs;
    for (const auto& e : Events(key)) seqs.push_back(e.is_object() ? e.value("seq", 0ull) : 0);
    return seqs;
  }

  // The value of field in a stream entry reply [id, [field, value, ...]].
  static std::string EntryField(const redisReply* entry, std::string_view field) {
    const std::optional<StreamEntry> e = ParseStreamEntry(entry);
    return e ? std::string(e->Field(field)) : std::string();
  }

  // ZSCORE, or nullopt when absent.
  std::optional<double> Score(const std::string& key, const std::string& member) {
    Reply r = Command({"ZSCORE", key, member});
    if (!r || r->type != REDIS_REPLY_STRING) return std::nullopt;
    return std::stod(std::string(r->str, r->len));
  }

 private:
  struct ContextDeleter {
    void operator()(redisContext* c) const { redisFree(c); }
  };
  std::unique_ptr<redisContext, ContextDeleter> ctx_;
};

// Empty when both stores answer (Redis to a PING, PostgreSQL to a connect),
// else the message a test fails with: ASSERT_TRUE(down.empty()) << down.
inline std::string StoresDown() {
  RedisProbe redis;
  const bool redis_up = redis.Connect(RedisUrlOrDie()) && [&] {
    const RedisProbe::Reply pong = redis.Command({"PING"});
    return pong != nullptr && pong->type == REDIS_REPLY_STATUS;
  }();
  if (!redis_up) {
    return NotAnswering("redis", RedisUrlOrDie().HostPort(),
                        Status::Unavailable("no reply to PING"));
  }
  try {
    pqxx::connection c(PgUrlOrDie().ConnInfo());
  } catch (const std::exception& e) {
    return NotAnswering("postgres", PgUrlOrDie().HostPort(), Status::Unavailable(e.what()));
  }
  return "";
}

inline std::string GameKey(std::uint64_t g) { return keys::Game(g); }
inline std::string PlayerKey(std::uint64_t p) { return keys::Player(p); }
// The sink's marker on a single server (one master, which serves slot 0:
// redis_sink.h, hokm:marker:{T} per master).
inline std::string MarkerKey() { return "hokm:marker:{" + SlotTag(0) + "}"; }

// The commands removing game g from Redis (sidecar/redis/keys.h): its
// stream, its entry in its active-set shard and in every leaderboard
// shard's rated set (a game is rated in the shard of each of its players).
inline void AppendGameCleanup(std::uint64_t g, std::vector<std::vector<std::string>>& cmds) {
  const std::string id = std::to_string(g);
  cmds.push_back({"DEL", keys::Game(g)});
  cmds.push_back({"ZREM", keys::Active(g), id});
  for (std::uint32_t s = 0; s < keys::kGlobalShards; ++s) {
    cmds.push_back({"ZREM", keys::RatedShard(s), id});
  }
}
// The commands removing player p: its hash and its leaderboard entry.
inline void AppendPlayerCleanup(std::uint64_t p, std::vector<std::vector<std::string>>& cmds) {
  cmds.push_back({"DEL", keys::Player(p)});
  cmds.push_back({"ZREM", keys::Leaderboard(p), std::to_string(p)});
}

// The game and player ids one test owns: games (counter << 20) | 1.. (the
// stores take any id; to the engine's layout, shm/game_id.h, these are
// slots of node counter & 63); players (counter << 16) | 1...
// counter comes from the clock and the test's name, so runs against a
// long-lived server do not meet; each test also clears its range before
// (and after) it runs.
struct IdRange {
  std::uint64_t counter = 0;

  static IdRange ForThisTest() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    const std::uint64_t name_hash =
        std::hash<std::string>{}(std::string(info->test_suite_name()) + "." + info->name());
    const auto now = static_cast<std::uint64_t>(std::time(nullptr));
    // (28 bits of seconds << 10 | 10 bits of name) < 2^38: ids fit bigint.
    return IdRange{((now & ((1ull << 28) - 1)) << 10) | (name_hash & 0x3FF)};
  }
  std::uint64_t Game(std::uint64_t i) const { return (counter << 20) | i; }
  std::uint64_t FirstGame() const { return counter << 20; }
  std::uint64_t LastGame() const { return (counter << 20) | 0xFFFFF; }
  std::uint64_t Player(std::uint64_t i) const { return (counter << 16) | i; }
  std::uint64_t FirstPlayer() const { return counter << 16; }
  std::uint64_t LastPlayer() const { return (counter << 16) | 0xFFFF; }
  std::string Checkpoint() const { return "test-" + std::to_string(counter); }
};

// SQL deleting what a test's ids may have left in PostgreSQL (its games,
// players and its checkpoint).
inline std::string CleanIdsSql(const IdRange& ids) {
  const std::string games =
      std::to_string(ids.FirstGame()) + " AND " + std::to_string(ids.LastGame());
  const std::string players =
      std::to_string(ids.FirstPlayer()) + " AND " + std::to_string(ids.LastPlayer());
  return "DELETE FROM game_commands WHERE game_id BETWEEN " + games + ";" +
         "DELETE FROM game_moves_v1 WHERE game_id BETWEEN " + games + ";" +
         "DELETE FROM game_sessions WHERE game_id BETWEEN " + games + ";" +
         "DELETE FROM game_participants WHERE game_id BETWEEN " + games + ";" +
         "DELETE FROM hands WHERE game_id BETWEEN " + games + ";" +
         "DELETE FROM dead_letters WHERE game_id BETWEEN " + games + ";" +
         "DELETE FROM players WHERE player_id BETWEEN " + players + ";" +
         "DELETE FROM sidecar_checkpoint WHERE name = '" + ids.Checkpoint() + "';";
}

// What the rules engine emitted for one game, as record bytes, and what the
// stores should hold afterwards.
inline ScriptedGame PlayRealGame(std::uint64_t game_id, const std::array<std::uint64_t, 4>& players,
                                 std::uint64_t seed, std::uint64_t ts0_ns) {
  namespace core = hokm::core;
  ScriptedGame g;
  g.game_id = game_id;
  g.players = players;
  core::GameState s{};
  core::ChangeBuffer out;
  flatbuffers::FlatBufferBuilder fbb(256);
  std::uint64_t ts = ts0_ns;
  std::uint32_t command = 0;
  int tricks[2] = {0, 0};
  // One command's records, with one timestamp, as the engine publishes them.
  const auto keep = [&] {
    ts += 1'000'000;
    ++command;
    for (const core::Change& c : out) {
      core::EncodeRecord(c, ts, fbb);
      g.records.push_back(OwnedRecord{
          std::vector<std::uint8_t>(fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize()),
          game_id, c.game_seq, static_cast<hokm::fb::Body>(c.type), command});
      if (c.type == core::RecordType::kTrickWon) {
        tricks[0] = c.tricks[0];
        tricks[1] = c.tricks[1];
      } else if (c.type == core::RecordType::kHandScored) {
        g.hands.push_back({c.hand_no, c.seat, static_cast<int>(c.suit), c.winner_team,
                           c.points_awarded, tricks[0], tricks[1], c.kot});
      } else if (c.type == core::RecordType::kGameFinished) {
        g.winner_team = c.winner_team;
        g.points_a = c.points[0];
        g.points_b = c.points[1];
      }
    }
    out.Clear();
  };
  std::string room("T");
  room += std::to_string(game_id % 1000000);
  EXPECT_EQ(core::CreateGame(s, game_id, room, seed, core::RulesConfig{}, out),
            core::CommandResult::kOk);
  keep();
  for (int seat = 0; seat < core::kSeats; ++seat) {
    EXPECT_EQ(core::Join(s, seat, players[seat], out), core::CommandResult::kOk);
    keep();
  }
  core::RandomBot bot(seed);
  while (core::SeatToAct(s) >= 0) {
    EXPECT_EQ(core::Apply(s, bot.NextCommand(s), out), core::CommandResult::kOk);
    keep();
  }
  return g;
}

}  // namespace hokm::sidecar::integration
