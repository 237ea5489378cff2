// seed_runner.cc: --baseline seed, the Redis-centred design hokm replaces,
// played by the same bots against the same servers. Each thread is one game
// server with its own Redis and PostgreSQL connection; per command it
//   1. GETs the game's JSON document (seed:g:{ID}) and decodes it,
//   2. applies the command with the real rules (hokm::core) here,
//   3. writes the new document back with one EVALSHA of a compare-and-set
//      script (SET only if the stored seq is still the one read, so two
//      servers cannot both apply a command to the same version),
//   4. queues the command's change records, which go to PostgreSQL in
//      multi-row INSERTs of 50 (table seed_moves) on the same thread.
// A command is accepted when its EVALSHA answered 1. A create needs no
// read: its EVALSHA requires that the key does not exist. --pipeline D keeps
// up to D commands in flight on the connection (default 1: request, reply).
#include <pqxx/pqxx>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <deque>
#include <string>
#include <vector>

#include "core/engine.h"
#include "core/records/change_json.h"
#include "core/rules/rules.h"
#include "loadgen/baseline/seed_runner.h"
#include "loadgen/baseline/seed_state.h"
#include "loadgen/redis_conn.h"
#include "shm/game_table.h"

namespace hokm::loadgen {
namespace {

constexpr std::size_t kInsertRows = 50;
constexpr const char* kLiveTtl = "14400";  // 4 h, as keys::Game's stream
constexpr const char* kEndedTtl = "900";   // 15 min after the end

class SeedServer {
 public:
  SeedServer(const SeedSetup& setup, RedisConn redis, pqxx::connection& pg, ThreadContext& ctx)
      : setup_(setup),
        redis_(std::move(redis)),
        pg_(pg),
        ctx_(ctx),
        flow_(ctx.options, ctx.control, ctx.result, ctx.dump),
        lanes_(ctx.lanes),
        next_(ctx.lanes),
        changes_(ctx.lanes),
        pacer_(ctx.rate, ctx.control.start_ns(), ctx.options.ramp_s),
        ramp_(ctx.control.start_ns(), ctx.options.ramp_s, ctx.lanes),
        pipeline_(ctx.options.pipeline == 0 ? 1 : ctx.options.pipeline) {}

  void Run() {
    Loop(false);
    ctx_.result.play_end_ns = NowNs();
    if (ctx_.result.fatal.empty()) {
      AbandonAll(flow_, lanes_, ready_);
      Loop(true);
      for (Lane& lane : lanes_) {
        if (lane.game_id != 0) flow_.Leave(lane);
      }
    }
    FlushMoves(true);
  }

 private:
  struct Op {
    std::uint32_t lane;
    bool cas;  // false: the GET of step 1
  };
  struct QueuedMove {
    std::string values;  // "(game_id,seq,type,ts,'body')"
    std::uint64_t queued_ns;
  };

  void Loop(bool abandoning) {
    const std::uint64_t deadline = abandoning ? NowNs() + kAbandonBudgetNs : 0;
    bool stopping = abandoning;
    for (;;) {
      const std::uint64_t now = NowNs();
      if (!stopping && ctx_.control.Expired(now)) stopping = true;
      if (abandoning && now > deadline) return;
      if (!ctx_.result.fatal.empty()) return;
      if (!abandoning) {
        if (stopping && in_flight_ == 0) return;
        if (!stopping) {
          const Ramp::Step step = ramp_.Next(
              now,
              [&](std::uint32_t i) {
                if (flow_.Begin(lanes_[i])) ready_.push_back(i);
              },
              [&] { return in_flight_ == 0 && ready_.empty(); });
          if (step == Ramp::Step::kFinished) return;  // every lane idle
          if (step == Ramp::Step::kWaited) continue;
        }
      } else if (in_flight_ == 0 && ready_.empty()) {
        return;
      }
      if (!stopping || abandoning) Start(now);
      if (ops_.empty()) {
        if (pacer_.open_loop() && !ready_.empty()) {
          WaitForPlayOrStart(pacer_, ramp_, !ramp_.done() && !abandoning,
                             ctx_.options.pace_nap_us * 1000ull);
        }
        continue;
      }
      TakeReply();
      FlushMoves(false);
    }
  }

  // Starts commands while the pipeline and the pacer allow.
  void Start(std::uint64_t now) {
    while (in_flight_ < pipeline_ && !ready_.empty()) {
      const std::uint32_t index = ready_.front();
      Lane& lane = lanes_[index];
      if (lane.step != Lane::Step::kReady) {
        ready_.pop_front();
        continue;
      }
      flow_.Build(lane);
      if (!TimeCommand(lane, flow_, pacer_, now)) return;
      ready_.pop_front();
      lane.step = Lane::Step::kInFlight;
      ++in_flight_;
      if (lane.command.type == core::CommandType::kCreateGame) {
        core::GameState empty;
        std::memset(static_cast<void*>(&empty), 0, sizeof empty);
        ApplyAndWrite(index, empty, 0);
      } else {
        key_ = SeedGameKey(lane.game_id);
        redis_.Append({"GET", key_});
        ops_.push_back({index, false});
      }
    }
  }

  // Step 2 and 3: the rules on the state read, then the compare-and-set.
  void ApplyAndWrite(std::uint32_t index, const core::GameState& read, std::uint32_t read_seq) {
    Lane& lane = lanes_[index];
    core::GameState& next = next_[index];
    core::ChangeBuffer& changes = changes_[index];
    next = read;
    core::Command cmd = lane.command;
    if (cmd.type == core::CommandType::kCreateGame) cmd.game_id = setup_.id_base + lane.ordinal + 1;
    changes.Clear();
    const core::CommandResult r = core::Apply(next, cmd, changes);
    if (r != core::CommandResult::kOk) {
      Finish(index);
      flow_.Refused(lane, r);
      if (lane.step == Lane::Step::kReady) ready_.push_back(index);
      return;
    }
    json_.clear();
    EncodeSeedState(next, json_);
    key_ = SeedGameKey(next.game_id);
    const std::string expected = std::to_string(read_seq);
    const bool ended =
        next.phase == core::Phase::kFinished || next.phase == core::Phase::kAbandoned;
    redis_.Append(
        {"EVALSHA", setup_.script_sha, "1", key_, expected, json_, ended ? kEndedTtl : kLiveTtl});
    ops_.push_back({index, true});
  }

  void Finish(std::uint32_t index) {
    --in_flight_;
    lanes_[index].step = Lane::Step::kReady;
  }

  void Fatal(const std::string& message) {
    ctx_.result.fatal = message;
    ctx_.control.Stop();
  }

  void TakeReply() {
    const Op op = ops_.front();
    ops_.pop_front();
    RedisReply reply = redis_.GetReply();
    if (!reply) {
      Fatal("redis: " + redis_.Error());
      return;
    }
    Lane& lane = lanes_[op.lane];
    if (!op.cas) {
      core::GameState read;
      if (reply->type != REDIS_REPLY_STRING ||
          !DecodeSeedState(std::string_view(reply->str, reply->len), read)) {
        Finish(op.lane);
        ctx_.result.errors.Add(1);
        GameFlow::ReportError("game " + std::to_string(lane.game_id) + ": GET " +
                              SeedGameKey(lane.game_id) + " gave " +
                              ReplyText(reply.get()).substr(0, 80));
        flow_.Leave(lane);
        return;
      }
      ApplyAndWrite(op.lane, read, read.seq);
      return;
    }
    if (reply->type == REDIS_REPLY_ERROR) {
      Fatal("redis EVALSHA: " + ReplyText(reply.get()));
      return;
    }
    Finish(op.lane);
    if (reply->type != REDIS_REPLY_INTEGER || reply->integer != 1) {
      // Another writer changed the game since our GET: read again.
      flow_.Busy();
      ready_.push_back(op.lane);
      return;
    }
    const std::uint64_t now = NowNs();
    if (!lane.abandoning) ctx_.result.latency_ns.Record(now - lane.intended_ns);
    QueueMoves(changes_[op.lane], now);
    const core::GameState& next = next_[op.lane];
    if (flow_.Accepted(lane, next.game_id, next.seq, &next)) {
      if (!lane.abandoning && !ctx_.control.Expired(now) && flow_.Begin(lane))
        ready_.push_back(op.lane);
    } else {
      ready_.push_back(op.lane);
    }
  }

  void QueueMoves(const core::ChangeBuffer& changes, std::uint64_t now) {
    const std::uint64_t ts_ns = RealtimeNowNs();
    char ts[40];
    std::snprintf(ts, sizeof ts, "%llu.%06llu",
                  static_cast<unsigned long long>(ts_ns / 1'000'000'000),
                  static_cast<unsigned long long>(ts_ns / 1000 % 1'000'000));
    for (const core::Change& c : changes) {
      std::string body = core::ChangeJson(c);
      std::string row = "(";
      row += std::to_string(c.game_id);
      row += ',';
      row += std::to_string(c.game_seq);
      row += ',';
      row += std::to_string(static_cast<int>(c.type));
      row += ",to_timestamp(";
      row += ts;
      row += "),'";
      for (char ch : body) {
        row += ch;
        if (ch == '\'') row += '\'';
      }
      row += "')";
      moves_.push_back({std::move(row), now});
    }
  }

  // Inserts full batches of 50 (and, when `all`, the rest).
  void FlushMoves(bool all) {
    while (moves_.size() >= kInsertRows || (all && !moves_.empty())) {
      const std::size_t n = std::min(kInsertRows, moves_.size());
      sql_ = "INSERT INTO seed_moves (game_id, seq, type, ts, body) VALUES ";
      for (std::size_t i = 0; i < n; ++i) {
        if (i != 0) sql_ += ',';
        sql_ += moves_[i].values;
      }
      try {
        pqxx::nontransaction tx(pg_);
        tx.exec(sql_);
        const std::uint64_t now = NowNs();
        for (std::size_t i = 0; i < n; ++i)
          ctx_.result.pg_lag_us.Record((now - moves_[i].queued_ns) / 1000);
      } catch (const std::exception& e) {
        ctx_.result.errors.Add(1);
        GameFlow::ReportError(std::string("postgres INSERT of ") + std::to_string(n) +
                              " moves: " + e.what());
        if (!pg_.is_open()) {
          Fatal("postgres connection lost");
          moves_.clear();
          return;
        }
      }
      moves_.erase(moves_.begin(), moves_.begin() + static_cast<std::ptrdiff_t>(n));
    }
  }

  const SeedSetup& setup_;
  RedisConn redis_;
  pqxx::connection& pg_;
  ThreadContext& ctx_;
  GameFlow flow_;
  std::vector<Lane> lanes_;
  std::vector<core::GameState> next_;
  std::vector<core::ChangeBuffer> changes_;
  Pacer pacer_;
  Ramp ramp_;
  std::uint32_t pipeline_;
  std::uint32_t in_flight_ = 0;
  std::deque<std::uint32_t> ready_;
  std::deque<Op> ops_;
  std::deque<QueuedMove> moves_;
  std::string key_, json_, sql_;
};

}  // namespace

Result<SeedSetup> PrepareSeedBaseline(const LoadgenOptions& options) {
  SeedSetup setup;
  auto redis_url = sidecar::ParseRedisUrl(options.redis_url);
  if (!redis_url.ok())
    return Status::InvalidArgument("--redis-url: " + redis_url.status().message());
  auto pg_url = sidecar::ParsePgUrl(options.pg_url);
  if (!pg_url.ok()) return Status::InvalidArgument("--pg-url: " + pg_url.status().message());
  if (options.redis_cluster) redis_url->cluster = true;
  setup.redis = *redis_url;
  setup.pg = *pg_url;
  auto redis = ConnectRedis(setup.redis);
  if (!redis.ok()) return redis.status();
  // EVALSHA runs on the master of the game's key: every master needs the
  // script (one server: the one).
  const std::string script(SeedCasScript());
  const Status loaded =
      redis->ForEachMaster([&](sidecar::RedisConnection& node, std::string_view where) {
        RedisReply sha = node.Command({"SCRIPT", "LOAD", script});
        if (!sha || sha->type != REDIS_REPLY_STRING) {
          return Status::Unavailable("redis SCRIPT LOAD of the baseline's CAS script at " +
                                     std::string(where) + ": " + ReplyText(sha.get()));
        }
        setup.script_sha.assign(sha->str, sha->len);
        return Status::Ok();
      });
  if (!loaded.ok()) return loaded;
  try {
    pqxx::connection conn(setup.pg.ConnInfo());
    pqxx::nontransaction tx(conn);
    tx.exec(std::string(SeedMovesDdl()));
  } catch (const std::exception& e) {
    return Status::Unavailable("postgres at " + setup.pg.HostPort() + ": " + e.what() +
                               " (start it with scripts/services.sh start or fix --pg-url)");
  }
  // Ids shaped as the engine's (shm/game_id.h): the run's creation number
  // above node and slot bits, + n, so runs one after the other (10 ms
  // apart at least) never reuse an id in seed_moves.
  setup.id_base = shm::FirstIdOfCreation(shm::CreationNumberAt(RealtimeNowNs()));
  return setup;
}

void RunSeedThread(const SeedSetup& setup, ThreadContext& ctx) {
  auto redis = ConnectRedis(setup.redis);
  if (!redis.ok()) {
    ctx.result.fatal = redis.status().message();
    ctx.control.Stop();
    ctx.result.play_end_ns = NowNs();
    return;
  }
  try {
    pqxx::connection pg(setup.pg.ConnInfo());
    SeedServer server(setup, std::move(redis).value(), pg, ctx);
    server.Run();
  } catch (const std::exception& e) {
    ctx.result.fatal = std::string("postgres: ") + e.what();
    ctx.control.Stop();
    if (ctx.result.play_end_ns == 0) ctx.result.play_end_ns = NowNs();
  }
}

}  // namespace hokm::loadgen
