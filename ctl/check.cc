// check.cc: hokmctl check: the consistency check of the segment, Redis and
// PostgreSQL (issue 14).
//
// What is compared:
//   live games      each game in the segment's game table (seqlock reads, as
//                   sidecar/rebuild_source.cc's LiveGames does) against the
//                   `state` of its stream hokm:g:{ID} (keys::Game; sidecar/redis/
//                   redis_sink.h: the public state, sidecar/public_state.h),
//                   field by field, PublicState::FromGame being what the
//                   sink writes (updated_ms aside: the engine keeps no
//                   clock); and against PostgreSQL's last seq of the game.
//   finished games  each stream in Redis (SCAN hokm:g:* TYPE stream, on
//                   every master of a cluster) whose
//                   game is not live in the segment: its last state must be
//                   ended (finished/abandoned), its seq PostgreSQL's last
//                   seq, and its phase, points and winner game_sessions'.
//   seq continuity  PostgreSQL's commands of every game checked above
//                   (game_commands, plus game_moves_v1 for rows from before
//                   004_game_commands.sql) cover seq 1..last once: one
//                   set-based query per batch of games (a window over the
//                   rows: each row must start one after the previous one's
//                   last seq). Games only in PostgreSQL (ended, out of
//                   Redis) are not walked: the history is unbounded, and a
//                   periodic check saw each game while it was in Redis.
//
// Sync lag is not a difference. The rule: a store is compared with the
// segment only once it has caught up to the seq read from the segment. The
// engine publishes a command's records on its change ring before it writes
// the game's slot, and the sidecar commits a ring position only once both
// stores acknowledged every record below it (sidecar/reader.h). So for a
// chunk of games: read each game's state S1 from the segment, then every
// ring's tail, then wait (up to --settle-ms) until the sidecar has
// committed every ring up to those tails: from then on both stores hold
// at least S1 of each game. Then read the stores, and the segment again (S2):
//   Redis       the entry at or below S1 (XREVRANGE key S1 - COUNT 1): when
//               its ID is S1 it holds the state after S1, compared field by
//               field; no stream: redis_missing; a top below S1:
//               redis_behind; a top above S2: redis_ahead. A top above S1
//               with no entry at S1 (S1 inside an entry of several
//               commands) is read again next round with a new S1.
//   PostgreSQL  last seq P: S1 <= P <= S2 is ok (what lies below is the
//               continuity check's); P < S1: pg_behind; P > S2: pg_ahead.
// Finished games: a game not live in the segment has no record to come;
// after the same wait both stores hold all of it and must agree.
// When the wait times out (the sidecar lags more than --settle-ms, or is
// down) nothing behind is called a difference: those games are counted
// `unsettled`, and the output says how many waits timed out. A game that
// ends while it is read moves to the finished part. Records the sidecar
// spilled to disk while a store was down are committed on the ring
// without being in that store: a check then reports them as behind,
// which they are.
//
// Rate limit: every store read is paced by a budget of --rate game reads
// per second (a token bucket; one game read = its Redis commands and its
// share of a PostgreSQL query; a retry round costs again), in pipelined
// batches of --batch games. A read (a game's Redis commands and its
// PostgreSQL last-seq probe, or a SCAN step) costs about 50 us of CPU
// across hokmctl, Redis and PostgreSQL; a game's continuity query costs
// about 16 times that, and is charged 16 reads. At full load the pipeline
// is bound by Redis's one thread, and the check's commands compete for it:
// at 1,000 reads/s (about 0.05 CPU-s/s, 2.5% of this project's 2-core
// machine) scripts/check_cost.sh measured a loss of 2-15% of throughput,
// at 250 reads/s -3% to +11% (bench/README.md). The default is 250.
// scripts/check_cost.sh measures the throughput with the check paused and
// running, alternating within one full-load run.
//
// Thread safety: single-threaded; the segment stays mapped while it runs.
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "core/rules/game_state.h"
#include "ctl/ctl.h"
#include "ctl/stores.h"
#include "shm/segment.h"
#include "sidecar/public_state.h"
#include "sidecar/redis/client.h"
#include "sidecar/redis/keys.h"
#include "sidecar/redis/stream_entry.h"
#include "sidecar/url.h"

namespace hokm::ctl {
namespace {

using Clock = std::chrono::steady_clock;
using sidecar::PublicState;
using sidecar::PublicStateFromJson;
using Json = nlohmann::json;

// One difference found: which game, what kind, and the values each side
// held ("" where a side has no say).
struct Difference {
  std::uint64_t game = 0;
  std::string kind;
  std::string field;
  std::string segment, redis, postgres;
};

// Paces the store reads: Take(n) blocks until n more reads fit the budget.
// Time spent elsewhere (a wait for the sidecar, the process stopped) is not
// saved up beyond kMaxCredit: the reads after it come at the rate, not in
// a burst.
class ReadBudget {
 public:
  static constexpr std::chrono::milliseconds kMaxCredit{100};
  explicit ReadBudget(double per_second) : rate_(per_second), next_(Clock::now()) {}
  void Take(std::uint64_t n) {
    taken_ += n;
    if (rate_ <= 0) return;
    next_ = std::max(next_, Clock::now() - kMaxCredit) +
            std::chrono::duration_cast<Clock::duration>(
                std::chrono::duration<double>(static_cast<double>(n) / rate_));
    if (next_ > Clock::now()) std::this_thread::sleep_until(next_);
  }
  std::uint64_t taken() const { return taken_; }

 private:
  double rate_;
  Clock::time_point next_;  // when the reads taken so far are due
  std::uint64_t taken_ = 0;
};

std::string GameKey(std::uint64_t game) { return sidecar::keys::Game(game); }

// A PostgreSQL bigint[] literal of the games: {1,2,3}.
template <typename Games, typename Id>
std::string IdArray(const Games& games, Id id) {
  std::string out = "{";
  for (const auto& g : games) out += (out.size() > 1 ? "," : "") + std::to_string(id(g));
  return out + '}';
}

// PostgreSQL's last seq of game g (an SQL expression): its last row by the
// primary key, one index probe in each table (game_moves_v1: the rows from
// before 004_game_commands.sql).
constexpr const char* kLastSeqSql =
    "greatest((SELECT hokm_command_last_seq(c) FROM game_commands c WHERE c.game_id = g "
    "ORDER BY c.seq DESC LIMIT 1), "
    "(SELECT m.seq FROM game_moves_v1 m WHERE m.game_id = g ORDER BY m.seq DESC LIMIT 1))";

// The public state as JSON without updated_ms (the engine keeps no clock).
Json StateJson(const PublicState& s) {
  std::string text;
  s.AppendJson(text);
  Json j = Json::parse(text);
  j.erase("updated_ms");
  return j;
}

class Checker {
 public:
  Checker(const CheckOptions& o, const shm::Segment* segment, sidecar::RedisClient& redis,
          pqxx::connection& pg)
      : o_(o),
        segment_(segment),
        table_(segment ? &segment->table() : nullptr),
        redis_(redis),
        pg_(pg),
        budget_(o.rate) {}

  // The live part; false when a store failed (error_ says why).
  bool CheckLive();
  bool CheckFinished();
  bool CheckContinuity();
  int Report(double seconds) const;
  const std::string& error() const { return error_; }

 private:
  using Positions = std::vector<std::uint64_t>;
  // Rounds of reads per game: a game whose S1 falls inside a Redis entry
  // of several commands is read again with a new S1.
  static constexpr int kMaxRounds = 5;
  // What a game's continuity costs the budget: PostgreSQL reads all of
  // its rows (about 160 for a whole game) and orders them, about 780 us of
  // its CPU per game against about 50 us for a game's other reads
  // (EXPLAIN ANALYZE over 500 games; quiet CPU accounting of check --all).
  static constexpr std::uint64_t kContinuityReadsPerGame = 16;
  // Keys a SCAN step walks: about 1 ms of Redis's time at most.
  static constexpr int kScanCount = 1000;

  struct LiveRead {
    std::uint64_t game = 0;
    bool redis_done = false, pg_done = false;
    std::string redis_why, pg_why;  // unresolved: what the store last said
    std::string redis_top, pg_last, segment_seq;
  };

  // Segment read; nullopt when the game is no longer live (ended, freed).
  // *busy: the writer kept the slot for every attempt.
  std::optional<PublicState> ReadSegment(std::uint64_t game, bool* busy) const {
    core::GameState g;
    *busy = false;
    const shm::ReadResult r = table_->ReadGame(game, g);
    if (r == shm::ReadResult::kBusy) *busy = true;
    if (r != shm::ReadResult::kOk || g.phase == core::Phase::kEmpty) return std::nullopt;
    return PublicState::FromGame(g);
  }
  // Each change ring's tail now: every record published so far.
  Positions Tails() const;
  // Waits up to --settle-ms for the sidecar to commit each ring up to
  // `tails` (it commits what both stores acknowledged); true once it did.
  bool WaitCaughtUp(const Positions& tails);
  bool LiveRound(std::vector<LiveRead>& chunk);
  struct FinRead {
    std::uint64_t game = 0;
    std::string why, redis, postgres, field;
  };
  // Reads and compares finished games, after the wait for the sidecar
  // (caught_up: it committed the rings in time).
  bool CheckFinishedBatch(std::span<FinRead> batch, bool caught_up);
  // PostgreSQL's last seq of each game (0: none).
  bool PgLastSeqs(const std::vector<std::uint64_t>& games,
                  std::map<std::uint64_t, std::uint64_t>& out);
  void Add(Difference d) {
    ++kinds_[d.kind];
    differing_games_.insert(d.game);
    if (diffs_.size() < o_.show) diffs_.push_back(std::move(d));
  }
  bool RedisFailed(const char* what) {
    error_ = std::string("redis: ") + what + ": " + redis_.Error();
    return false;
  }

  const CheckOptions& o_;
  const shm::Segment* segment_;  // null: no segment
  const shm::GameTable* table_;
  sidecar::RedisClient& redis_;
  pqxx::connection& pg_;
  ReadBudget budget_;
  std::string error_;

  std::set<std::uint64_t> live_ids_;    // every live game seen in the segment
  std::vector<std::uint64_t> checked_;  // games whose PostgreSQL continuity is checked
  std::uint64_t live_total_ = 0, live_checked_ = 0, live_ok_ = 0, live_unsettled_ = 0,
                live_ended_ = 0;
  std::uint64_t fin_checked_ = 0, fin_ok_ = 0, fin_unsettled_ = 0, fin_live_ = 0,
                fin_unchecked_ = 0;
  std::uint64_t cont_games_ = 0;
  std::uint64_t not_caught_up_ = 0;          // waits for the sidecar that timed out
  std::vector<std::uint64_t> ended_during_;  // left the segment while checked
  std::map<std::string, std::uint64_t> kinds_;
  std::set<std::uint64_t> differing_games_;
  std::vector<Difference> diffs_;
};

bool Checker::PgLastSeqs(const std::vector<std::uint64_t>& games,
                         std::map<std::uint64_t, std::uint64_t>& out) {
  const std::string ids = IdArray(games, [](std::uint64_t g) { return g; });
  try {
    pqxx::nontransaction tx(pg_);
    const pqxx::result r = tx.exec_params(
        std::string("SELECT g, ") + kLastSeqSql + " FROM unnest($1::bigint[]) g", ids);
    for (const pqxx::row& row : r) {
      out[row[0].as<std::uint64_t>()] = row[1].is_null() ? 0 : row[1].as<std::uint64_t>();
    }
  } catch (const std::exception& e) {
    error_ = std::string("postgres: ") + e.what();
    return false;
  }
  return true;
}

Checker::Positions Checker::Tails() const {
  Positions tails;
  if (segment_ == nullptr) return tails;
  for (std::uint32_t k = 0; k < segment_->shards(); ++k) {
    tails.push_back(segment_->change_ring(k).TailPosition());
  }
  return tails;
}

bool Checker::WaitCaughtUp(const Positions& tails) {
  if (segment_ == nullptr) return true;
  const auto deadline = Clock::now() + std::chrono::milliseconds(o_.settle_ms);
  for (;;) {
    bool caught_up = true;
    for (std::uint32_t k = 0; k < tails.size() && caught_up; ++k) {
      caught_up = segment_->change_ring(k).HeadPosition() >= tails[k];
    }
    if (caught_up) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

bool Checker::LiveRound(std::vector<LiveRead>& chunk) {
  // S1: the segment's state of each game, then the rings' tails (the
  // engine publishes a command's records before it writes the slot, so
  // the tails cover S1), then the wait for the sidecar to commit them.
  std::vector<std::optional<PublicState>> before(chunk.size());
  for (std::size_t k = 0; k < chunk.size(); ++k) {
    bool busy = false;
    before[k] = ReadSegment(chunk[k].game, &busy);
    if (!before[k] && !busy) {  // ended (or freed) since: the finished part sees its stream
      ended_during_.push_back(chunk[k].game);
      chunk[k].game = 0;
    }
  }
  const bool caught_up = WaitCaughtUp(Tails());
  for (std::size_t at = 0; at < chunk.size(); at += o_.batch) {
    const std::size_t end = std::min(chunk.size(), at + o_.batch);
    std::vector<std::size_t> asked;
    for (std::size_t k = at; k < end; ++k) {
      if (before[k] && chunk[k].game != 0) asked.push_back(k);
    }
    if (asked.empty()) continue;
    budget_.Take(asked.size());
    for (std::size_t k : asked) {
      const std::string key = GameKey(chunk[k].game);
      const std::string s1 = std::to_string(before[k]->seq);
      redis_.Append({"XREVRANGE", key, "+", "-", "COUNT", "1"});
      redis_.Append({"XREVRANGE", key, s1, "-", "COUNT", "1"});
    }
    std::vector<std::pair<sidecar::RedisReply, sidecar::RedisReply>> replies;
    for (std::size_t n = 0; n < asked.size(); ++n) {
      sidecar::RedisReply top = redis_.GetReply();
      sidecar::RedisReply at_s1 = top ? redis_.GetReply() : nullptr;
      if (!top || !at_s1) return RedisFailed("reading streams");
      replies.emplace_back(std::move(top), std::move(at_s1));
    }
    std::vector<std::uint64_t> ids;
    for (std::size_t k : asked) ids.push_back(chunk[k].game);
    std::map<std::uint64_t, std::uint64_t> pg_last;
    if (!PgLastSeqs(ids, pg_last)) return false;

    for (std::size_t n = 0; n < asked.size(); ++n) {
      LiveRead& g = chunk[asked[n]];
      const PublicState& seg = *before[asked[n]];
      bool busy = false;
      const std::optional<PublicState> after = ReadSegment(g.game, &busy);
      // The game ended between the reads: its final records may be in a
      // store already, so neither bound holds; the finished part checks it.
      if (!after) {
        if (!busy) {
          ended_during_.push_back(g.game);
          g.game = 0;
        }
        continue;
      }
      const std::uint64_t s2 = after->seq;
      g.segment_seq = std::to_string(seg.seq);
      const auto first_entry = [](const redisReply* r) -> std::optional<sidecar::StreamEntry> {
        if (!r || r->type != REDIS_REPLY_ARRAY || r->elements == 0) return std::nullopt;
        return sidecar::ParseStreamEntry(r->element[0]);
      };
      if (!g.redis_done) {
        const redisReply* top_r = replies[n].first.get();
        const redisReply* at_r = replies[n].second.get();
        g.redis_why.clear();
        if (sidecar::IsErrorReply(top_r) || sidecar::IsErrorReply(at_r)) {
          Add({g.game, "redis_not_a_stream", "key", "", std::string(sidecar::ReplyString(top_r)),
               ""});
          g.redis_done = true;
        } else {
          const std::optional<sidecar::StreamEntry> top = first_entry(top_r);
          const std::optional<sidecar::StreamEntry> at_s1 = first_entry(at_r);
          g.redis_top = top ? std::to_string(top->seq) : "none";
          if (top && top->seq > s2) {
            Add({g.game, "redis_ahead", "seq", std::to_string(s2), g.redis_top, ""});
            g.redis_done = true;
          } else if (at_s1 && at_s1->seq == seg.seq) {
            const std::optional<PublicState> stored = PublicStateFromJson(at_s1->Field("state"));
            if (!stored) {
              Add({g.game, "redis_unparsable", "state", "", std::string(at_s1->Field("state")),
                   ""});
            } else {
              const Json want = StateJson(seg);
              const Json have = StateJson(*stored);
              for (const auto& [field, value] : want.items()) {
                const Json other = have.contains(field) ? have[field] : Json();
                if (other != value) {
                  Add({g.game, "redis_field", field, value.dump(), other.dump(), ""});
                }
              }
            }
            g.redis_done = true;
          } else if (!top) {
            g.redis_why = "redis_missing";
          } else if (top->seq < seg.seq) {
            g.redis_why = "redis_behind";
          }
          // else S1 lies inside an entry of several commands: next round.
          if (!g.redis_why.empty() && caught_up) {
            Add({g.game, g.redis_why, "seq", g.segment_seq, g.redis_top, ""});
            g.redis_done = true;
          }
        }
      }
      if (!g.pg_done) {
        const std::uint64_t p = pg_last[g.game];
        g.pg_last = std::to_string(p);
        g.pg_why.clear();
        if (p > s2) {
          Add({g.game, "pg_ahead", "seq", std::to_string(s2), "", g.pg_last});
          g.pg_done = true;
        } else if (p >= seg.seq) {
          g.pg_done = true;
        } else if (caught_up) {
          Add({g.game, "pg_behind", "seq", g.segment_seq, "", g.pg_last});
          g.pg_done = true;
        } else {
          g.pg_why = "pg_behind";
        }
      }
    }
  }
  if (!caught_up) ++not_caught_up_;
  return true;
}

bool Checker::CheckLive() {
  if (table_ == nullptr) return true;
  std::vector<std::uint64_t> games;
  for (std::uint32_t slot = 0; slot < table_->capacity(); ++slot) {
    if (const std::uint64_t id = table_->GameIdAt(slot); id != 0) games.push_back(id);
  }
  live_total_ = games.size();
  live_ids_.insert(games.begin(), games.end());
  if (!o_.all && games.size() > o_.sample) {
    std::mt19937_64 rng(std::random_device{}());
    std::shuffle(games.begin(), games.end(), rng);
    games.resize(o_.sample);
  }
  // Chunks of a few batches share one wait for the sidecar: small enough
  // that the games' S1 are still recent when their stores are read.
  const std::size_t chunk_games = std::size_t{o_.batch} * 10;
  for (std::size_t at = 0; at < games.size(); at += chunk_games) {
    std::vector<LiveRead> chunk;
    for (std::size_t k = at; k < std::min(games.size(), at + chunk_games); ++k) {
      chunk.push_back({.game = games[k]});
    }
    for (int round = 0; round < kMaxRounds && !chunk.empty(); ++round) {
      const std::uint64_t timeouts = not_caught_up_;
      if (!LiveRound(chunk)) return false;
      std::erase_if(chunk, [&](const LiveRead& g) {
        if (g.game == 0) return true;  // ended while checked
        if (!g.redis_done || !g.pg_done) return false;
        ++live_checked_;
        checked_.push_back(g.game);
        if (!differing_games_.contains(g.game)) ++live_ok_;
        return true;
      });
      if (not_caught_up_ != timeouts) break;  // the stores lag more than --settle-ms
    }
    // Left: games whose stores did not catch up within --settle-ms, or
    // whose S1 fell inside a Redis entry every round.
    for (const LiveRead& g : chunk) {
      ++live_checked_;
      checked_.push_back(g.game);
      if (!differing_games_.contains(g.game)) ++live_unsettled_;
    }
  }
  live_ended_ = ended_during_.size();
  return true;
}

bool Checker::CheckFinished() {
  // Streams of games not live in the segment, plus the games that left it
  // while the live part read them.
  std::vector<std::uint64_t> games = ended_during_;
  std::set<std::uint64_t> seen(games.begin(), games.end());
  const std::uint64_t want = o_.all ? UINT64_MAX : o_.sample;
  // Every master's keys (SCAN walks one node's keyspace; one server is
  // its own only master).
  const Status scanned =
      redis_.ForEachMaster([&](sidecar::RedisConnection& node, std::string_view where) -> Status {
        if (games.size() >= want) return Status::Ok();
        std::string cursor = "0";
        do {
          // A SCAN step walks kScanCount keys (players' hashes among them), far
          // cheaper each than a game's reads: it costs one read of the budget,
          // plus the streams it returns.
          budget_.Take(1);
          sidecar::RedisReply r = node.Command({"SCAN", cursor, "MATCH", "hokm:g:{*}", "COUNT",
                                                std::to_string(kScanCount), "TYPE", "stream"});
          if (!r) return Status::Unavailable("SCAN at " + std::string(where) + ": " + node.Error());
          if (r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
            return Status::Unavailable("SCAN at " + std::string(where) + ": " +
                                       sidecar::ReplyText(r.get()));
          }
          cursor = std::string(sidecar::ReplyString(r->element[0]));
          const redisReply* keys = r->element[1];
          budget_.Take(keys->elements);
          for (std::size_t k = 0; k < keys->elements && games.size() < want; ++k) {
            const std::string_view key = sidecar::ReplyString(keys->element[k]);
            // hokm:g:{ID} (keys::Game): the ID between the braces.
            if (key.size() < 9 || key.back() != '}') continue;
            const std::string id(key.substr(8, key.size() - 9));
            if (id.empty() || id.find_first_not_of("0123456789") != std::string::npos) continue;
            const std::uint64_t game = std::stoull(id);
            if (live_ids_.contains(game)) continue;  // the live part's (or outside its sample)
            if (seen.insert(game).second) games.push_back(game);
          }
        } while (cursor != "0" && games.size() < want);
        return Status::Ok();
      });
  if (!scanned.ok()) {
    error_ = "redis: " + scanned.message();
    return false;
  }

  // Chunks of a few batches share one wait for the sidecar, as in the
  // live part.
  const std::size_t chunk_games = std::size_t{o_.batch} * 10;
  for (std::size_t at = 0; at < games.size(); at += chunk_games) {
    std::vector<FinRead> chunk;
    for (std::size_t k = at; k < std::min(games.size(), at + chunk_games); ++k) {
      chunk.push_back({games[k], "", "", "", ""});
    }
    // Games live now are the live part's (created after it listed the
    // table). Every other game has no record to come: once the sidecar
    // committed the rings' tails read after this, both stores hold all of
    // its records, and must agree.
    std::erase_if(chunk, [&](const FinRead& g) {
      bool busy = false;
      if (table_ == nullptr || (!ReadSegment(g.game, &busy) && !busy)) return false;
      ++fin_live_;
      return true;
    });
    if (chunk.empty()) continue;
    const bool caught_up = WaitCaughtUp(Tails());
    if (!caught_up) ++not_caught_up_;
    for (std::size_t from = 0; from < chunk.size(); from += o_.batch) {
      if (!CheckFinishedBatch(
              std::span(chunk).subspan(from, std::min<std::size_t>(o_.batch, chunk.size() - from)),
              caught_up)) {
        return false;
      }
    }
  }
  return true;
}

bool Checker::CheckFinishedBatch(std::span<FinRead> batch, bool caught_up) {
  budget_.Take(batch.size());
  for (const FinRead& g : batch) {
    redis_.Append({"XREVRANGE", GameKey(g.game), "+", "-", "COUNT", "1"});
  }
  std::vector<sidecar::RedisReply> tops;
  for (std::size_t k = 0; k < batch.size(); ++k) {
    tops.push_back(redis_.GetReply());
    if (!tops.back()) return RedisFailed("reading streams");
  }
  const std::string ids = IdArray(batch, [](const FinRead& g) { return g.game; });
  std::map<std::uint64_t, pqxx::row> sessions;
  pqxx::result rows;
  try {
    pqxx::nontransaction tx(pg_);
    rows = tx.exec_params(
        std::string("SELECT g, s.status, s.points_a, s.points_b, s.winner_team, ") + kLastSeqSql +
            " FROM unnest($1::bigint[]) g LEFT JOIN game_sessions s ON s.game_id = g",
        ids);
  } catch (const std::exception& e) {
    error_ = std::string("postgres: ") + e.what();
    return false;
  }
  for (const pqxx::row& row : rows) sessions.emplace(row[0].as<std::uint64_t>(), row);
  for (std::size_t k = 0; k < batch.size(); ++k) {
    FinRead& g = batch[k];
    const redisReply* r = tops[k].get();
    if (r->type != REDIS_REPLY_ARRAY || r->elements == 0) {
      continue;  // expired or deleted since the SCAN: nothing to compare
    }
    const std::optional<sidecar::StreamEntry> top = sidecar::ParseStreamEntry(r->element[0]);
    const std::optional<PublicState> s =
        top ? PublicStateFromJson(top->Field("state")) : std::nullopt;
    if (!s) {
      g.why = "redis_unparsable";
      g.field = "state";
      g.redis = top ? std::string(top->Field("state")) : "(no entry)";
    } else if (!s->Ended()) {
      // Not live in the segment, yet not ended in Redis: its end never
      // reached Redis, or it is a game of another segment.
      g.why = table_ != nullptr ? "not_in_segment" : "unchecked";
      g.field = "phase";
      g.redis = PhaseName(s->phase);
    } else {
      const pqxx::row& row = sessions.at(g.game);
      const std::uint64_t p = row[5].is_null() ? 0 : row[5].as<std::uint64_t>();
      g.redis = std::to_string(s->seq);
      g.postgres = std::to_string(p);
      g.field = "seq";
      const auto num = [](const pqxx::field& f) { return f.is_null() ? -1 : f.as<int>(); };
      const int winner = s->phase == PublicState::Phase::kFinished ? s->winner : -1;
      if (p < s->seq) {
        g.why = "pg_behind";
      } else if (p > s->seq) {
        g.why = "redis_behind";
      } else if (row[1].is_null()) {
        g.why = "pg_session_missing";
        g.field = "game_sessions";
        g.postgres = "none";
      } else if (row[1].as<std::string>() != PhaseName(s->phase)) {
        g.why = "pg_session";
        g.field = "status";
        g.redis = PhaseName(s->phase);
        g.postgres = row[1].as<std::string>();
      } else if (num(row[2]) != s->points[0] || num(row[3]) != s->points[1]) {
        g.why = "pg_session";
        g.field = "points";
        g.redis = std::to_string(s->points[0]) + "," + std::to_string(s->points[1]);
        g.postgres = std::to_string(num(row[2])) + "," + std::to_string(num(row[3]));
      } else if (s->phase == PublicState::Phase::kFinished && num(row[4]) != winner) {
        g.why = "pg_session";
        g.field = "winner";
        g.redis = std::to_string(winner);
        g.postgres = std::to_string(num(row[4]));
      }
    }
    if (g.why == "unchecked") {
      ++fin_unchecked_;
      continue;
    }
    // A store behind the other while the sidecar lags is not a difference.
    if (!caught_up && !g.why.empty() && g.why != "redis_unparsable" && g.why != "pg_session") {
      ++fin_unsettled_;
      continue;
    }
    ++fin_checked_;
    checked_.push_back(g.game);
    if (g.why.empty()) {
      ++fin_ok_;
    } else {
      Add({g.game, g.why, g.field, "", g.redis, g.postgres});
    }
  }
  return true;
}

bool Checker::CheckContinuity() {
  std::sort(checked_.begin(), checked_.end());
  checked_.erase(std::unique(checked_.begin(), checked_.end()), checked_.end());
  for (std::size_t at = 0; at < checked_.size(); at += o_.batch) {
    const std::size_t end = std::min(checked_.size(), at + o_.batch);
    budget_.Take((end - at) * kContinuityReadsPerGame);
    const std::string ids =
        IdArray(std::span(checked_).subspan(at, end - at), [](std::uint64_t g) { return g; });
    try {
      pqxx::nontransaction tx(pg_);
      // Each row (a command: seq .. its last seq) must start one after the
      // previous row's last seq, the first at 1. A row starting later is a
      // gap; one starting at or below is a duplicate (or an overlap).
      const pqxx::result r = tx.exec_params(
          "WITH r AS ("
          "SELECT game_id, seq AS first, hokm_command_last_seq(c) AS last FROM game_commands c "
          "WHERE game_id = ANY($1::bigint[]) "
          "UNION ALL SELECT game_id, seq, seq FROM game_moves_v1 WHERE game_id = ANY($1::bigint[])"
          "), o AS (SELECT game_id, first, last, "
          "coalesce(lag(last) OVER (PARTITION BY game_id ORDER BY first, last), 0) AS prev FROM r) "
          "SELECT game_id, first, prev FROM o WHERE first <> prev + 1 ORDER BY game_id, first",
          ids);
      for (const pqxx::row& row : r) {
        const auto first = row[1].as<std::uint64_t>();
        const auto prev = row[2].as<std::uint64_t>();
        Difference d{row[0].as<std::uint64_t>(),
                     first > prev + 1 ? "pg_gap" : "pg_duplicate",
                     "seq",
                     "",
                     "",
                     ""};
        d.postgres = first > prev + 1
                         ? "seq " + std::to_string(first) + " follows " + std::to_string(prev) +
                               " (missing " + std::to_string(prev + 1) + ".." +
                               std::to_string(first - 1) + ")"
                         : "seq " + std::to_string(first) + " again after " + std::to_string(prev);
        Add(std::move(d));
      }
    } catch (const std::exception& e) {
      error_ = std::string("postgres: ") + e.what();
      return false;
    }
  }
  cont_games_ = checked_.size();
  return true;
}

int Checker::Report(double seconds) const {
  std::uint64_t total = 0;
  for (const auto& [kind, n] : kinds_) total += n;
  if (o_.json) {
    Json j;
    j["mode"] = o_.all ? "all" : "sample";
    if (!o_.all) j["sample"] = o_.sample;
    j["rate"] = o_.rate;
    j["segment"] = table_ != nullptr;
    j["live"] = {{"in_segment", live_total_},
                 {"checked", live_checked_},
                 {"ok", live_ok_},
                 {"unsettled", live_unsettled_},
                 {"ended_during_check", live_ended_}};
    j["finished"] = {{"checked", fin_checked_},
                     {"ok", fin_ok_},
                     {"unsettled", fin_unsettled_},
                     {"live_now", fin_live_},
                     {"unchecked", fin_unchecked_}};
    j["sidecar_waits_timed_out"] = not_caught_up_;
    j["continuity"] = {{"games", cont_games_}};
    j["differing_games"] = differing_games_.size();
    j["differences_total"] = total;
    j["kinds"] = Json::object();
    for (const auto& [kind, n] : kinds_) j["kinds"][kind] = n;
    j["differences"] = Json::array();
    for (const Difference& d : diffs_) {
      j["differences"].push_back({{"game", d.game},
                                  {"kind", d.kind},
                                  {"field", d.field},
                                  {"segment", d.segment},
                                  {"redis", d.redis},
                                  {"postgres", d.postgres}});
    }
    j["store_reads"] = budget_.taken();
    j["seconds"] = seconds;
    std::printf("%s\n", j.dump().c_str());
  } else {
    if (table_ == nullptr) std::printf("segment: not found: live games not checked\n");
    std::printf(
        "live games:     %llu in the segment, %llu checked%s: %llu ok, %llu differing, "
        "%llu unsettled, %llu ended while checked\n",
        static_cast<unsigned long long>(live_total_),
        static_cast<unsigned long long>(live_checked_), o_.all ? " (all)" : " (sample)",
        static_cast<unsigned long long>(live_ok_),
        static_cast<unsigned long long>(live_checked_ - live_ok_ - live_unsettled_),
        static_cast<unsigned long long>(live_unsettled_),
        static_cast<unsigned long long>(live_ended_));
    std::printf("finished games: %llu checked in redis: %llu ok, %llu differing, %llu unsettled\n",
                static_cast<unsigned long long>(fin_checked_),
                static_cast<unsigned long long>(fin_ok_),
                static_cast<unsigned long long>(fin_checked_ - fin_ok_),
                static_cast<unsigned long long>(fin_unsettled_));
    if (fin_unchecked_ > 0) {
      std::printf("                %llu not ended in redis, unchecked without a segment\n",
                  static_cast<unsigned long long>(fin_unchecked_));
    }
    if (not_caught_up_ > 0) {
      std::printf(
          "sidecar:        %llu waits of %u ms for it to commit the rings timed out: "
          "their games count as unsettled (see hokmctl status)\n",
          static_cast<unsigned long long>(not_caught_up_), o_.settle_ms);
    }
    std::printf("postgres seqs:  %llu games' continuity checked\n",
                static_cast<unsigned long long>(cont_games_));
    if (total == 0) {
      std::printf("no differences (%.1f s, %llu store reads)\n", seconds,
                  static_cast<unsigned long long>(budget_.taken()));
    } else {
      std::printf("differences: %llu in %zu games:", static_cast<unsigned long long>(total),
                  differing_games_.size());
      for (const auto& [kind, n] : kinds_) {
        std::printf(" %s %llu", kind.c_str(), static_cast<unsigned long long>(n));
      }
      std::printf("\nfirst differences:\n");
      for (const Difference& d : diffs_) {
        std::printf("  game %llu %s %s:", static_cast<unsigned long long>(d.game), d.kind.c_str(),
                    d.field.c_str());
        if (!d.segment.empty()) std::printf(" segment %s", d.segment.c_str());
        if (!d.redis.empty()) std::printf(" redis %s", d.redis.c_str());
        if (!d.postgres.empty()) std::printf(" postgres %s", d.postgres.c_str());
        std::printf("\n");
      }
    }
  }
  return total == 0 ? kExitOk : kExitProblems;
}

}  // namespace

int RunCheck(const Globals& globals, const CheckOptions& o) {
  const std::optional<sidecar::RedisUrl> redis_url = RedisUrlOf(globals);
  if (!redis_url) return kExitUsage;
  const std::optional<sidecar::PgUrl> pg_url = PgUrlOf(globals);
  if (!pg_url) return kExitUsage;

  std::optional<shm::Segment> segment;
  if (auto s = shm::Segment::Attach(globals.shm_name); s.ok()) {
    segment.emplace(std::move(s).value());
  } else if (s.status().code() != Status::Code::kNotFound) {
    return Fail(kExitProblems, "segment " + globals.shm_name + ": " + s.status().message());
  } else {
    std::fprintf(stderr, "hokmctl: no segment %s: live games are not checked\n",
                 globals.shm_name.c_str());
  }

  auto redis = ConnectRedis(*redis_url, "hokmctl-check");
  if (!redis.ok()) {
    return Fail(kExitProblems, "redis: " + redis.status().message());
  }
  Result<std::unique_ptr<pqxx::connection>> pg = ConnectPg(*pg_url);  // with timeouts
  if (!pg.ok()) return Fail(kExitProblems, pg.status().message());
  try {
    pqxx::nontransaction tx(**pg);
    tx.exec("SET jit = off");  // compiling the plans costs more than running them
  } catch (const std::exception& e) {
    return Fail(kExitProblems, "postgres at " + pg_url->Redacted() + ": " + e.what());
  }

  const auto start = Clock::now();
  Checker checker(o, segment ? &*segment : nullptr, *redis, **pg);
  if (!checker.CheckLive() || !checker.CheckFinished() || !checker.CheckContinuity()) {
    return Fail(kExitProblems, checker.error());
  }
  return checker.Report(std::chrono::duration<double>(Clock::now() - start).count());
}

}  // namespace hokm::ctl
