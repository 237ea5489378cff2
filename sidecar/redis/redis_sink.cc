// redis_sink.cc: the Redis sink's I/O: the connection (connection.h), the
// probes, the pipeline windows RedisPlanner fills (redis_plan.h) and their
// replies, the marker check and the rebuild after a loss.
#include "sidecar/redis/redis_sink.h"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <unordered_map>
#include <utility>
#include <vector>

#include "shm/clock.h"
#include "sidecar/public_state.h"
#include "sidecar/redis/client.h"
#include "sidecar/redis/redis_plan.h"
#include "sidecar/redis/stream_entry.h"

namespace hokm::sidecar {
namespace {

namespace fb = hokm::fb;
using Clock = std::chrono::steady_clock;

std::uint64_t NowMs() { return shm::RealtimeNowNs() / 1'000'000; }

}  // namespace

struct RedisSink::Impl {
  RedisUrl url;
  Options options;
  RedisClient conn;
  std::vector<std::uint16_t> master_slots;  // one per master: where its marker lives
  std::vector<std::string> masters;         // their addresses, to notice a failover
  bool rebuild_all = false;                 // at the next marker check

  // What this sink knows of each live game it writes (GameMemo). Forgotten
  // on any failed Write (the next one probes again) and when it outgrows
  // kMaxTrackedGames.
  static constexpr std::size_t kMaxTrackedGames = std::size_t{1} << 21;
  std::unordered_map<std::uint64_t, GameMemo> games;

  // Scratch reused by every Write.
  std::vector<std::uint32_t> order;  // indices of the records to send, sorted by game
  std::vector<std::uint64_t> probed;
  std::vector<std::uint64_t> lost_games;  // probed: no stream, yet records past seq 1
  std::vector<std::uint64_t> gap_games;   // probed: the stream ends before the batch's first
  std::vector<RebuiltGame> rebuilt;       // the rebuild's games
  std::vector<PlayerRating> ratings;      // and leaderboard
  Clock::time_point next_marker_check{};  // epoch: at the next Write
  bool marker_checked = false;            // ever, by this sink
  RebuildCounts last_rebuild;             // what the last Rebuild wrote

  StatsCell<RedisSinkStats> stats;
  RedisSinkStats& counters = stats.live;

  // The window of commands being planned (redis_plan.h).
  RedisPlanner plan{options, counters.entries, counters.scripts};

  static void Add(std::uint64_t& c, std::uint64_t v) { c += v; }

  Status Lost(std::string_view what) {
    std::string msg = conn.Where() + ": " + std::string(what) + ": " + conn.Error();
    conn.Close();
    return Status::Unavailable(msg + " (connection dropped; the next call reconnects)");
  }

  // One command, waited for. Null reply with the connection dropped on I/O failure.
  RedisReply Command(std::initializer_list<std::string_view> words) { return conn.Command(words); }

  // Errors that pass once the server recovers (memory, a busy script,
  // loading, failover) are Unavailable; anything else is Internal.
  Status ReplyError(std::string_view command, std::string_view text) const {
    std::string msg = conn.Where() + ": " + std::string(command) + " failed: " + std::string(text);
    for (std::string_view transient :
         {"OOM", "BUSY", "LOADING", "READONLY", "MASTERDOWN", "TRYAGAIN", "CLUSTERDOWN"}) {
      if (text.substr(0, transient.size()) == transient) return Status::Unavailable(std::move(msg));
    }
    if (text.substr(0, 9) == "WRONGTYPE") {
      msg +=
          " (a key of the game holds another type, e.g. a hash of the layout before the "
          "game became a stream: delete it, or let it expire)";
    }
    return Status::Internal(std::move(msg));
  }

  Status Open() {
    games.clear();           // a new connection knows nothing of what the last one wrote
    next_marker_check = {};  // nor whether Redis still has what it wrote
    RedisConnectOptions connect;
    connect.connect_timeout = options.connect_timeout;
    connect.io_timeout = options.io_timeout;
    connect.keepalive = true;
    connect.client_name = options.client_name;
    Result<RedisClient> c = RedisClient::Connect(url, connect);
    if (!c.ok()) return c.status();
    conn = std::move(c).value();
    Learn();
    return Status::Ok();
  }

  // What the connection tells of the deployment: where the markers live.
  // A cluster whose masters changed (a failover) may have lost the last
  // writes a master had not passed on to its replica: every game is
  // rewritten at the next marker check, as after a loss (redis_sink.h).
  void Learn() {
    master_slots = conn.MasterSlots();
    std::vector<std::string> now = conn.MasterAddresses();
    if (conn.is_cluster() && !masters.empty() && now != masters) rebuild_all = true;
    masters = std::move(now);
  }

  Status EnsureOpen() {
    if (conn.is_open()) return Status::Ok();
    Add(counters.reconnects, 1);
    games.clear();           // a new connection knows nothing of what the last one wrote
    next_marker_check = {};  // nor whether Redis still has what it wrote
    if (Status s = conn.Reopen(); !s.ok()) return s;
    Learn();
    return Status::Ok();
  }

  // Learns the stored state of the batch's games this sink does not know
  // yet: the top entry of each one's stream, one pipelined round trip (an
  // empty answer: Redis has nothing of the game). This sink is the keys'
  // only writer, so the answer holds until it writes them itself.
  Status Probe(std::span<const RecordRef> records) {
    if (games.size() >= kMaxTrackedGames) games.clear();
    probed.clear();
    lost_games.clear();
    gap_games.clear();
    plan.Clear();
    for (std::uint32_t k : order) {
      const std::uint64_t game_id = records[k].record->game_id();
      GameMemo& memo = games[game_id];
      if (memo.known || memo.probing) continue;
      memo.probing = true;
      probed.push_back(game_id);
      memo.state.seq = records[k].record->game_seq();  // the first in the batch, until the reply
      plan.AppendProbe(game_id);
    }
    if (probed.empty()) return Status::Ok();
    Add(counters.round_trips, 1);
    Add(counters.commands, probed.size());
    Add(counters.probes, probed.size());
    Send();
    plan.Clear();
    Status first_error;
    for (std::uint64_t game_id : probed) {
      RedisReply r = conn.GetReply();
      if (!r) return Lost("reading a probe reply failed");
      GameMemo& memo = games[game_id];
      memo.probing = false;
      if (!r || r->type != REDIS_REPLY_ARRAY) {
        if (first_error.ok())
          first_error = IsErrorReply(r.get())
                            ? ReplyError("XREVRANGE", ReplyString(r.get()))
                            : Status::Internal(conn.Where() + ": unexpected XREVRANGE reply");
        continue;
      }
      const std::uint64_t first_seq = memo.state.seq;
      memo.state = PublicState{};
      if (r->elements == 0 && first_seq > 1) lost_games.push_back(game_id);
      if (r->elements > 0) {
        // [[id, [field, value, ...]]]
        const std::optional<StreamEntry> entry = ParseStreamEntry(r->element[0]);
        if (!entry) {
          if (first_error.ok())
            first_error =
                Status::Internal(conn.Where() + ": unexpected entry in the stream of game " +
                                 std::to_string(game_id));
          continue;
        }
        if (auto s = PublicStateFromJson(entry->Field("state"))) memo.state = *s;
        // An entry whose state does not parse still says how far the game
        // is stored: later entries carry what their records set.
        memo.state.seq = entry->seq;
        // Records between the stored top and the batch's first are not in
        // Redis (a failed-over master had not passed them on): the game is
        // rewritten from the engine before its records go on.
        if (entry->seq + 1 < first_seq) gap_games.push_back(game_id);
      }
      memo.known = true;
    }
    return first_error;
  }

  // Reads every reply of the commands in flight (errors included, so the
  // connection stays in step with the pipeline).
  Status Drain(Status* first_error) {
    Add(counters.round_trips, 1);
    Add(counters.commands, plan.size());
    Send();
    for (const ExpectedReply& p : plan.expected()) {
      RedisReply r = conn.GetReply();
      if (!r) return Lost("reading a reply failed");
      const std::string_view text =
          IsErrorReply(r.get()) ? ReplyString(r.get()) : std::string_view();
      if (p.kind == ReplyKind::kXadd) {
        if (!IsErrorReply(r.get())) {
          Add(counters.records_applied, p.records);
        } else if (text.find("equal or smaller") != std::string_view::npos) {
          // Stored already, though this sink thought not: someone else
          // writes these keys. Counted; the game is probed again.
          Add(counters.records_duplicate, p.records);
          games.erase(p.game_id);
        } else if (first_error->ok()) {
          *first_error = ReplyError("XADD", text);
        }
      } else if (p.kind == ReplyKind::kRestore) {
        // "equal or smaller": the stream got this state since the loss.
        if (IsErrorReply(r.get()) && text.find("equal or smaller") == std::string_view::npos &&
            first_error->ok())
          *first_error = ReplyError("XADD", text);
      } else if (IsErrorReply(r.get()) && first_error->ok()) {
        *first_error = ReplyError("command", text);
      }
    }
    plan.Clear();
    return Status::Ok();
  }

  // Every marker_check_interval (and at once after a connect, or when
  // `now`): is hokm:marker still there? If not, Redis lost its data (or is
  // new): rebuild every live game, then set the marker.
  Status CheckMarker(bool now) {
    if (!options.check_marker) return Status::Ok();
    const auto t = Clock::now();
    if (!now && !rebuild_all && t < next_marker_check) return Status::Ok();
    Add(counters.round_trips, 1);
    Add(counters.commands, master_slots.size());
    plan.Clear();
    for (std::uint16_t slot : master_slots) plan.AppendMarker(slot, false, {});
    Send();
    plan.Clear();
    bool missing = false;
    Status first_error;
    for (std::size_t i = 0; i < master_slots.size(); ++i) {
      RedisReply r = conn.GetReply();
      if (!r) return Lost("EXISTS hokm:marker:{T} failed");
      if (IsErrorReply(r.get()) && first_error.ok())
        first_error = ReplyError("EXISTS", ReplyString(r.get()));
      if (r->type == REDIS_REPLY_INTEGER && r->integer == 0) missing = true;
    }
    if (!first_error.ok()) return first_error;
    const bool first_check = !marker_checked;
    marker_checked = true;
    if (missing || rebuild_all) {
      if (rebuild_all || !(first_check && options.records_from_the_start)) {
        if (Status s = Rebuild(std::nullopt, false); !s.ok()) return s;
        Add(counters.rebuilds, 1);
      }
      rebuild_all = false;
      if (Status s = SetMarker(); !s.ok()) return s;
    }
    next_marker_check = t + options.marker_check_interval;
    return Status::Ok();
  }

  // Sends the planned window, each command to its key's node (client.h).
  void Send() {
    const std::string& resp = plan.resp();
    for (const PlannedCommand& c : plan.commands())
      conn.AppendFormattedToSlot(c.slot, std::string_view(resp).substr(c.begin, c.end - c.begin));
  }

  // Sets every master's marker.
  Status SetMarker() {
    const std::string since = std::to_string(NowMs());
    Add(counters.commands, master_slots.size());
    plan.Clear();
    for (std::uint16_t slot : master_slots) plan.AppendMarker(slot, true, since);
    Send();
    plan.Clear();
    Status first_error;
    for (std::size_t i = 0; i < master_slots.size(); ++i) {
      RedisReply set = conn.GetReply();
      if (!set) return Lost("SET hokm:marker:{T} failed");
      if (IsErrorReply(set.get()) && first_error.ok())
        first_error = ReplyError("SET", ReplyString(set.get()));
    }
    if (!first_error.ok()) return first_error;
    marker_checked = true;
    return Status::Ok();
  }

  // Rewrites every live game, the games that ended within
  // finished_game_ttl and the leaderboard, from options.rebuild_source
  // (redis_sink.h). With `only`: the live game `only` alone, or, when
  // ended_too and it is not live, that game if it ended within
  // finished_game_ttl. Counts in last_rebuild.
  Status Rebuild(std::optional<std::uint64_t> only, bool ended_too) {
    const RebuildSource* source = options.rebuild_source.get();
    last_rebuild = {};
    if (source == nullptr) return Status::Ok();
    const auto t0 = Clock::now();
    rebuilt.clear();
    ratings.clear();
    if (only) {
      if (auto state = source->FindLive(*only)) rebuilt.push_back({*only, *state, 0});
    } else {
      source->LiveGames(rebuilt);
    }
    // The live games first: readers of live games wait for them.
    if (Status s = WriteRebuilt(last_rebuild.live_games); !s.ok()) return s;
    if (!only || (ended_too && rebuilt.empty())) {
      rebuilt.clear();
      // PostgreSQL down: the live games are rebuilt all the same (the
      // source keeps the error for the log).
      last_rebuild.ended_read = source->EndedGames(options.finished_game_ttl, only, rebuilt).ok();
      if (last_rebuild.ended_read && !only) last_rebuild.ended_read = source->Ratings(ratings).ok();
      last_rebuild.players = ratings.size();
      if (Status s = WriteRebuilt(last_rebuild.ended_games); !s.ok()) return s;
    }
    Add(counters.rebuilt_games, last_rebuild.live_games + last_rebuild.ended_games);
    if (only) return Status::Ok();
    counters.last_rebuild_us = static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0).count());
    return Status::Ok();
  }

  // Writes `rebuilt` (and `ratings`) for Rebuild; adds to games_written.
  Status WriteRebuilt(std::uint64_t& games_written) {
    plan.Clear();
    Status first_error;
    const std::size_t max_commands = std::max<std::uint32_t>(1, options.max_commands_in_flight);
    const auto flush = [&](bool last) {
      if (plan.size() == 0 || (!last && plan.size() < max_commands)) return Status::Ok();
      if (Status s = Drain(&first_error); !s.ok()) return s;
      return first_error;
    };
    const std::uint64_t now_ms = NowMs();
    const auto now_s = static_cast<std::uint32_t>(now_ms / 1000);
    for (RebuiltGame& rg : rebuilt) {
      if (!plan.AppendRestored(rg, now_ms)) continue;
      if (!rg.state.Ended()) {
        GameMemo& memo = games[rg.game_id];
        memo = GameMemo{};
        memo.known = true;
        memo.state = rg.state;
        memo.ttl_s = std::max<std::uint32_t>(now_s, 1);
        memo.active_s = std::max<std::uint32_t>(now_s, 1);
      }
      ++games_written;
      if (Status s = flush(false); !s.ok()) return s;
    }
    constexpr std::size_t kRatingsPerZadd = 256;
    for (std::size_t i = 0; i < ratings.size(); i += kRatingsPerZadd) {
      plan.AppendRatings(std::span<const PlayerRating>(ratings).subspan(
          i, std::min(kRatingsPerZadd, ratings.size() - i)));
      if (Status s = flush(false); !s.ok()) return s;
    }
    return flush(true);
  }

  bool Ping() {
    if (!EnsureOpen().ok()) return false;
    RedisReply r = Command({"PING"});
    if (!r) {
      (void)Lost("PING failed");
      return false;
    }
    return r->type == REDIS_REPLY_STATUS && ReplyString(r.get()) == "PONG";
  }

  Status Write(std::span<const RecordRef> records) {
    const auto t0 = Clock::now();
    Status s = EnsureOpen();
    if (s.ok()) s = WriteAll(records);
    EndBatch(counters, Clock::now() - t0, s.ok());
    if (!s.ok()) games.clear();
    return s;
  }

  // Sorts the records by game (each game's keep their order), probes the
  // games it does not know, and pipelines one run per game in windows of
  // max_commands_in_flight commands. After a failed window no further one
  // is sent: the caller retries the whole batch, idempotently.
  Status WriteAll(std::span<const RecordRef> records) {
    order.clear();
    for (std::uint32_t k = 0; k < records.size(); ++k) {
      if (CheckRecord(records[k]) == nullptr) order.push_back(k);
    }
    Add(counters.records_rejected, records.size() - order.size());
    if (Status s = CheckMarker(false); !s.ok()) return s;
    if (Status s = Probe(records); !s.ok()) return s;
    if (!lost_games.empty()) {
      // A stream gone that should be there: all of Redis, or this game?
      if (Status s = CheckMarker(true); !s.ok()) return s;
      for (std::uint64_t g : lost_games) {
        if (games[g].state.seq != 0) continue;  // the rebuild restored it
        if (Status s = Rebuild(g, false); !s.ok()) return s;
      }
    }
    for (std::uint64_t g : gap_games) {
      if (Status s = Rebuild(g, true); !s.ok()) return s;
    }

    plan.Clear();
    plan.ClearEvents();
    for (std::uint32_t k : order) {  // ring order; the stored seqs as of the probe
      const fb::ChangeRecord& r = *records[k].record;
      if (r.game_seq() > games[r.game_id()].state.seq) plan.AppendPlayerEffects(r);
    }
    std::stable_sort(order.begin(), order.end(), [&](std::uint32_t x, std::uint32_t y) {
      return records[x].record->game_id() < records[y].record->game_id();
    });
    Status first_error;
    const std::uint64_t now_ms = NowMs();
    const std::size_t max_commands = std::max<std::uint32_t>(1, options.max_commands_in_flight);
    for (std::uint32_t k = 0; k < order.size();) {
      const std::uint64_t g = records[order[k]].record->game_id();
      std::uint32_t end = k;
      while (end < order.size() && records[order[end]].record->game_id() == g) ++end;
      GameMemo& memo = games[g];
      // Records known stored already are dropped here (a replay).
      const std::uint32_t first = k;
      while (k < end && records[order[k]].record->game_seq() <= memo.state.seq) ++k;
      Add(counters.records_duplicate, k - first);
      if (k < end) {
        plan.AppendGame(records, std::span<const std::uint32_t>(order).subspan(k, end - k), memo,
                        now_ms);
      }
      if (memo.state.Ended()) games.erase(g);  // a late record would be probed (and refused)
      k = end;
      const bool last = k == order.size();
      if (last) plan.AppendEvents();
      if (!last && plan.size() < max_commands) continue;
      if (plan.size() == 0) continue;
      if (Status s = Drain(&first_error); !s.ok()) return s;
      if (!first_error.ok()) return first_error;
    }
    return first_error;
  }
};

RedisSink::RedisSink(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RedisSink::RedisSink(RedisSink&&) noexcept = default;
RedisSink& RedisSink::operator=(RedisSink&&) noexcept = default;
RedisSink::~RedisSink() = default;

Result<RedisSink> RedisSink::Connect(const RedisUrl& url, const Options& options) {
  auto impl = std::make_unique<Impl>();
  impl->url = url;
  impl->options = options;
  if (Status s = impl->Open(); !s.ok()) return s;
  return RedisSink(std::move(impl));
}

Status RedisSink::Write(std::span<const RecordRef> records) {
  Status s = impl_->Write(records);
  impl_->stats.Publish();
  return s;
}

Result<RebuildCounts> RedisSink::Rebuild(std::optional<std::uint64_t> game, bool set_marker) {
  Impl& m = *impl_;
  if (!m.options.rebuild_source) return Status::InvalidArgument("no rebuild source");
  Status s = m.EnsureOpen();
  if (s.ok()) s = m.Rebuild(game, true);
  if (s.ok() && !game && set_marker) s = m.SetMarker();
  if (!s.ok()) m.games.clear();  // as after a failed Write: probe again
  m.stats.Publish();
  if (!s.ok()) return s;
  return m.last_rebuild;
}

bool RedisSink::Ping() {
  const bool ok = impl_->Ping();
  impl_->stats.Publish();
  return ok;
}

RedisSinkStats RedisSink::stats() const { return impl_->stats.Read(); }

const RedisUrl& RedisSink::url() const { return impl_->url; }

}  // namespace hokm::sidecar
