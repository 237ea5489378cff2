// redis_sink.cc: the Redis sink: one stream entry per game per batch, the
// game's side effects in plain commands (two small scripts for the
// conditional ones), all pipelined over a synchronous hiredis context.
#include "sidecar/redis/redis_sink.h"

#include <hiredis/hiredis.h>
#include <sys/time.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cstdint>
#include <unordered_map>
#include <utility>
#include <vector>

#include "sidecar/public_state.h"
#include "sidecar/rating.h"
#include "sidecar/record_json.h"

namespace hokm::sidecar {
namespace {

namespace fb = hokm::fb;
using Clock = std::chrono::steady_clock;

// Set once Redis holds everything the sink wrote; missing: Redis lost it.
constexpr std::string_view kMarkerKey = "hokm:marker";

// A finished game's rating, once: KEYS rated marker, leaderboard; ARGV
// marker TTL ms, base, step, winner team, the players of seats 0..3 (0 =
// empty). The marker makes a replay harmless.
constexpr std::string_view kRateScript = R"lua(
if not redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then return 0 end
local base, step, winner = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
for s = 0, 3 do
  local pid = ARGV[5 + s]
  if pid ~= '0' then
    local delta = step
    if s % 2 ~= winner then delta = -step end
    if redis.call('ZSCORE', KEYS[2], pid) then
      redis.call('ZINCRBY', KEYS[2], delta, pid)
    else
      redis.call('ZADD', KEYS[2], base + delta, pid)
    end
  end
end
return 1
)lua";

// A player leaving: KEYS player hash; ARGV game, ts_ms, TTL ms. The hash
// is cleared only while it still names this game (the player may have
// joined another since).
constexpr std::string_view kLeaveScript = R"lua(
if redis.call('HGET', KEYS[1], 'game') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'game', '0', 'seat', '', 'connected', '0', 'last_seen', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
)lua";

struct ReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using ReplyPtr = std::unique_ptr<redisReply, ReplyDeleter>;

struct ContextDeleter {
  void operator()(redisContext* c) const { redisFree(c); }
};
using ContextPtr = std::unique_ptr<redisContext, ContextDeleter>;

timeval ToTimeval(std::chrono::milliseconds ms) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
  return tv;
}

std::uint64_t NowMs() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

// Arguments of one command: bytes in one arena, pointers taken at the end
// (the arena may move while it grows).
class ArgvBuilder {
 public:
  void Clear() {
    arena_.clear();
    spans_.clear();
  }
  void Add(std::string_view s) {
    Begin();
    arena_.append(s);
    End();
  }
  void AddUint(std::uint64_t v) {
    Begin();
    AppendUint(v, arena_);
    End();
  }
  // For arguments written straight into the arena (the event JSON).
  void Begin() { start_ = arena_.size(); }
  void End() { spans_.push_back({start_, arena_.size() - start_}); }
  std::string& arena() { return arena_; }

  // Appends the arguments as one command in the Redis protocol (RESP).
  void AppendResp(std::string& out) const {
    out += '*';
    AppendUint(spans_.size(), out);
    out += "\r\n";
    for (const auto& [at, len] : spans_) {
      out += '$';
      AppendUint(len, out);
      out += "\r\n";
      out.append(arena_, at, len);
      out += "\r\n";
    }
  }

 private:
  std::string arena_;
  std::vector<std::pair<std::size_t, std::size_t>> spans_;
  std::size_t start_ = 0;
};


bool IsError(const redisReply* r) { return r != nullptr && r->type == REDIS_REPLY_ERROR; }

std::string_view ReplyText(const redisReply* r) {
  return r && r->str ? std::string_view(r->str, static_cast<std::size_t>(r->len))
                     : std::string_view();
}


}  // namespace

struct RedisSink::Impl {
  RedisUrl url;
  Options options;
  ContextPtr ctx;

  // What this sink knows of each live game it writes: its stored state
  // (seq included), learned from its own writes or one probe. About 100
  // bytes a game. Forgotten on any failed Write (the next one probes
  // again) and when it outgrows kMaxTrackedGames.
  struct GameMemo {
    bool known = false;
    bool probing = false;  // in this Write's probe
    PublicState state;
    std::uint32_t ttl_s = 0;     // wall clock of the last TTL refresh, whole seconds
    std::uint32_t active_s = 0;  // record time of the last hokm:active update
  };
  static constexpr std::size_t kMaxTrackedGames = std::size_t{1} << 21;
  std::unordered_map<std::uint64_t, GameMemo> games;

  enum class Expect : std::uint8_t { kXadd, kRestore, kPlain };
  struct Pending {
    Expect kind;
    std::uint64_t game_id;
    std::uint32_t records;  // kXadd: records in the entry
  };

  // Scratch reused by every Write.
  std::vector<std::uint32_t> order;  // indices of the records to send, sorted by game
  std::vector<Pending> expected;     // per command in flight
  std::vector<std::uint64_t> probed;
  std::vector<std::uint64_t> lost_games;  // probed: no stream, yet records past seq 1
  std::vector<RebuiltGame> rebuilt;       // the rebuild's games
  std::vector<PlayerRating> ratings;      // and leaderboard
  Clock::time_point next_marker_check{};  // epoch: at the next Write
  bool marker_checked = false;            // ever, by this sink
  ArgvBuilder args;
  std::string key, player_key, state_json, events_json, published;
  std::string proto;  // the commands of the window, in RESP

  struct Counters {
    std::atomic<std::uint64_t> batches{0}, failed_batches{0}, applied{0}, duplicate{0}, rejected{0},
        entries{0}, commands{0}, scripts{0}, probes{0}, round_trips{0}, reconnects{0}, rebuilds{0},
        rebuilt_games{0}, last_rebuild_us{0}, last_us{0}, max_us{0}, total_us{0};
  } counters;

  static void Add(std::atomic<std::uint64_t>& c, std::uint64_t v) {
    c.store(c.load(std::memory_order_relaxed) + v, std::memory_order_relaxed);
  }

  Status Lost(std::string_view what) {
    std::string msg = "redis at " + url.HostPort() + ": " + std::string(what);
    if (ctx && ctx->err) msg += ": " + std::string(ctx->errstr);
    ctx.reset();
    return Status::Unavailable(msg + " (connection dropped; the next call reconnects)");
  }

  // One command, waited for. Null reply with the connection dropped on I/O failure.
  ReplyPtr Command(std::initializer_list<std::string_view> words) {
    std::vector<const char*> a;
    std::vector<std::size_t> l;
    for (std::string_view w : words) {
      a.push_back(w.data());
      l.push_back(w.size());
    }
    return ReplyPtr(static_cast<redisReply*>(
        redisCommandArgv(ctx.get(), static_cast<int>(a.size()), a.data(), l.data())));
  }

  // Errors that pass once the server recovers (memory, a busy script,
  // loading, failover) are Unavailable; anything else is Internal.
  Status ReplyError(std::string_view command, std::string_view text) const {
    std::string msg = "redis at " + url.HostPort() + ": " + std::string(command) +
                      " failed: " + std::string(text);
    for (std::string_view transient :
         {"OOM", "BUSY", "LOADING", "READONLY", "MASTERDOWN", "TRYAGAIN", "CLUSTERDOWN"}) {
      if (text.substr(0, transient.size()) == transient) return Status::Unavailable(std::move(msg));
    }
    if (text.substr(0, 9) == "WRONGTYPE") {
      msg += " (a key of the game holds another type, e.g. a hash of the layout before the "
             "game became a stream: delete it, or let it expire)";
    }
    return Status::Internal(std::move(msg));
  }

  Status Open() {
    games.clear();  // a new connection knows nothing of what the last one wrote
    next_marker_check = {};  // nor whether Redis still has what it wrote
    const timeval connect_tv = ToTimeval(options.connect_timeout);
    ctx.reset(redisConnectWithTimeout(url.host.c_str(), url.port, connect_tv));
    if (!ctx)
      return Status::Unavailable("redis at " + url.HostPort() +
                                 ": out of memory allocating a context");
    if (ctx->err) {
      std::string msg = "redis at " + url.HostPort() + " not answering: " + ctx->errstr +
                        " (connect timeout " + std::to_string(options.connect_timeout.count()) +
                        " ms)";
      ctx.reset();
      return Status::Unavailable(std::move(msg));
    }
    if (redisSetTimeout(ctx.get(), ToTimeval(options.io_timeout)) != REDIS_OK)
      return Lost("setting the I/O timeout failed");
    redisEnableKeepAlive(ctx.get());
    if (!url.password.empty()) {
      ReplyPtr r = url.username.empty() ? Command({"AUTH", url.password})
                                        : Command({"AUTH", url.username, url.password});
      if (!r) return Lost("AUTH failed");
      if (IsError(r.get())) {
        ctx.reset();
        return Status::InvalidArgument("redis at " + url.HostPort() +
                                       ": AUTH refused: " + std::string(ReplyText(r.get())));
      }
    }
    if (url.db != 0) {
      const std::string db = std::to_string(url.db);
      ReplyPtr r = Command({"SELECT", db});
      if (!r) return Lost("SELECT failed");
      if (IsError(r.get())) {
        ctx.reset();
        return Status::InvalidArgument("redis at " + url.HostPort() + ": SELECT " + db +
                                       " refused: " + std::string(ReplyText(r.get())));
      }
    }
    if (!options.client_name.empty()) {
      ReplyPtr r = Command({"CLIENT", "SETNAME", options.client_name});
      if (!r) return Lost("CLIENT SETNAME failed");
    }
    return Status::Ok();
  }

  Status EnsureOpen() {
    if (ctx) return Status::Ok();
    Add(counters.reconnects, 1);
    return Open();
  }

  void GameKey(std::uint64_t game_id) {
    key.assign("hokm:g:{");
    AppendUint(game_id, key);
    key.push_back('}');
  }
  void PlayerKey(std::uint64_t player_id) {
    player_key.assign("hokm:p:{");
    AppendUint(player_id, player_key);
    player_key.push_back('}');
  }

  // Queues the command in args, formatted here: hiredis's own formatting
  // (sds per argument) was a large share of the sidecar's CPU
  // (sidecar/README.md, Measurements).
  void Append(Expect kind, std::uint64_t game_id, std::uint32_t records = 0) {
    args.AppendResp(proto);
    expected.push_back({kind, game_id, records});
  }

  // Learns the stored state of the batch's games this sink does not know
  // yet: the top entry of each one's stream, one pipelined round trip (an
  // empty answer: Redis has nothing of the game). This sink is the keys'
  // only writer, so the answer holds until it writes them itself.
  Status Probe(std::span<const RecordRef> records) {
    if (games.size() >= kMaxTrackedGames) games.clear();
    probed.clear();
    lost_games.clear();
    proto.clear();
    for (std::uint32_t k : order) {
      const std::uint64_t game_id = records[k].record->game_id();
      GameMemo& memo = games[game_id];
      if (memo.known || memo.probing) continue;
      memo.probing = true;
      probed.push_back(game_id);
      memo.state.seq = records[k].record->game_seq();  // the first in the batch, until the reply
      GameKey(game_id);
      args.Clear();
      for (std::string_view a : {std::string_view("XREVRANGE"), std::string_view(key),
                                 std::string_view("+"), std::string_view("-"),
                                 std::string_view("COUNT"), std::string_view("1")})
        args.Add(a);
      args.AppendResp(proto);
    }
    if (probed.empty()) return Status::Ok();
    Add(counters.round_trips, 1);
    Add(counters.commands, probed.size());
    Add(counters.probes, probed.size());
    const int queued = redisAppendFormattedCommand(ctx.get(), proto.data(), proto.size());
    proto.clear();
    if (queued != REDIS_OK) return Lost("queueing the probes failed");
    Status first_error;
    for (std::uint64_t game_id : probed) {
      void* raw = nullptr;
      if (redisGetReply(ctx.get(), &raw) != REDIS_OK) return Lost("reading a probe reply failed");
      ReplyPtr r(static_cast<redisReply*>(raw));
      GameMemo& memo = games[game_id];
      memo.probing = false;
      if (!r || r->type != REDIS_REPLY_ARRAY) {
        if (first_error.ok())
          first_error = IsError(r.get()) ? ReplyError("XREVRANGE", ReplyText(r.get()))
                                         : Status::Internal("redis at " + url.HostPort() +
                                                            ": unexpected XREVRANGE reply");
        continue;
      }
      const std::uint64_t first_seq = memo.state.seq;
      memo.state = PublicState{};
      if (r->elements == 0 && first_seq > 1) lost_games.push_back(game_id);
      if (r->elements > 0) {
        // [[id, [field, value, ...]]]
        const redisReply* entry = r->element[0];
        std::uint64_t top = 0;
        bool ok = entry->type == REDIS_REPLY_ARRAY && entry->elements == 2 &&
                  entry->element[0]->type == REDIS_REPLY_STRING &&
                  entry->element[1]->type == REDIS_REPLY_ARRAY;
        if (ok) {
          const char* id = entry->element[0]->str;
          const auto [end, err] = std::from_chars(id, id + entry->element[0]->len, top);
          ok = err == std::errc() && *end == '-';
        }
        if (!ok) {
          if (first_error.ok())
            first_error = Status::Internal("redis at " + url.HostPort() +
                                           ": unexpected entry in the stream of game " +
                                           std::to_string(game_id));
          continue;
        }
        const redisReply* fields = entry->element[1];
        for (std::size_t f = 0; f + 1 < fields->elements; f += 2) {
          if (ReplyText(fields->element[f]) != "state") continue;
          if (auto s = PublicState::FromJson(ReplyText(fields->element[f + 1]))) memo.state = *s;
        }
        // An entry whose state does not parse still says how far the game
        // is stored: later entries carry what their records set.
        memo.state.seq = top;
      }
      memo.known = true;
    }
    return first_error;
  }

  // TTLs at most every ttl_refresh_interval of wall clock, hokm:active at
  // most every active_refresh_interval of record time: bit 1 and bit 2.
  int Throttle(GameMemo& memo, std::uint64_t ts_ns, std::uint64_t now_ms) const {
    const auto now_s = static_cast<std::uint32_t>(now_ms / 1000);
    const auto ts_s = static_cast<std::uint32_t>(ts_ns / 1'000'000'000);
    const auto refresh_s = static_cast<std::uint64_t>(options.ttl_refresh_interval.count()) / 1000;
    const auto active_every_s =
        static_cast<std::uint64_t>(options.active_refresh_interval.count()) / 1000;
    int flags = 0;
    if (memo.ttl_s == 0 || std::uint64_t{now_s} >= memo.ttl_s + refresh_s) {
      flags |= 1;
      memo.ttl_s = std::max<std::uint32_t>(now_s, 1);
    }
    if (memo.active_s == 0 || std::uint64_t{ts_s} >= memo.active_s + active_every_s) {
      flags |= 2;
      memo.active_s = std::max<std::uint32_t>(ts_s, 1);
    }
    return flags;
  }

  void Expire(const std::string& k, std::chrono::milliseconds ttl, std::uint64_t game_id) {
    args.Clear();
    args.Add("PEXPIRE");
    args.Add(k);
    args.AddUint(static_cast<std::uint64_t>(ttl.count()));
    Append(Expect::kPlain, game_id);
  }

  // Starts an EVAL of script on keys in args; the caller adds ARGV and
  // appends the command.
  void BeginEval(std::string_view script, std::initializer_list<std::string_view> keys) {
    args.Clear();
    args.Add("EVAL");
    args.Add(script);
    args.AddUint(keys.size());
    for (std::string_view k : keys) args.Add(k);
    Add(counters.scripts, 1);
  }

  // Starts HSET hokm:p:{player} game <game> seat <seat> in args; the
  // caller adds other fields and appends it.
  void BeginPlayerHash(std::uint64_t player, std::uint64_t game_id, std::uint64_t seat) {
    PlayerKey(player);
    args.Clear();
    args.Add("HSET");
    args.Add(player_key);
    args.Add("game");
    args.AddUint(game_id);
    args.Add("seat");
    args.AddUint(seat);
  }

  // A record's effect on its player's hash (joins, leaves, connection
  // changes). Sent in ring order, before the games' XADDs (redis_sink.h): a
  // player in several games ends with the game of his latest record.
  void AppendPlayerEffects(const fb::ChangeRecord& r) {
    const std::uint64_t g = r.game_id();
    const std::uint64_t ts_ms = r.ts_ns() / 1'000'000;
    const auto player_hash = [&](std::uint64_t player, std::uint8_t seat, bool connected) {
      BeginPlayerHash(player, g, seat);
      args.Add("connected");
      args.Add(connected ? "1" : "0");
      args.Add("last_seen");
      args.AddUint(ts_ms);
      Append(Expect::kPlain, g);
      Expire(player_key, options.player_ttl, g);
    };
    switch (r.body_type()) {
      case fb::Body::PlayerJoined:
        player_hash(r.body_as_PlayerJoined()->player_id(), r.body_as_PlayerJoined()->seat(), true);
        break;
      case fb::Body::PlayerConnection: {
        const auto* b = r.body_as_PlayerConnection();
        player_hash(b->player_id(), b->seat(), b->connected());
        break;
      }
      case fb::Body::PlayerLeft: {
        PlayerKey(r.body_as_PlayerLeft()->player_id());
        BeginEval(kLeaveScript, {player_key});
        args.AddUint(g);
        args.AddUint(ts_ms);
        args.AddUint(static_cast<std::uint64_t>(options.player_ttl.count()));
        Append(Expect::kPlain, g);
        break;
      }
      default:
        break;
    }
  }

  // A finished game's rating (sidecar/rating.h), once.
  void AppendRating(const fb::ChangeRecord& r, const PublicState& after) {
    const auto* finished = r.body_as_GameFinished();
    if (finished == nullptr) return;
    GameKey(r.game_id());
    key.append(":rated");
    BeginEval(kRateScript, {key, "hokm:lb:global"});
    args.AddUint(static_cast<std::uint64_t>(options.rated_marker_ttl.count()));
    args.AddUint(static_cast<std::uint64_t>(kRatingBase));
    args.AddUint(static_cast<std::uint64_t>(kRatingStep));
    args.AddUint(finished->winner_team());
    for (std::uint64_t p : after.seats) args.AddUint(p);
    Append(Expect::kPlain, r.game_id());
  }

  // ZADD hokm:active updated_ms game.
  void AppendActive(std::uint64_t game_id, std::uint64_t updated_ms) {
    args.Clear();
    args.Add("ZADD");
    args.Add("hokm:active");
    args.AddUint(updated_ms);
    args.AddUint(game_id);
    Append(Expect::kPlain, game_id);
  }

  // Starts the game's XADD in args: key, trimming, ID <seq>-0 and the
  // `state` field; the caller adds the other fields and appends it.
  void BeginXadd(std::uint64_t game_id, std::uint64_t seq, const PublicState& state) {
    GameKey(game_id);
    state_json.clear();
    state.AppendJson(state_json);
    args.Clear();
    args.Add("XADD");
    args.Add(key);
    args.Add("MAXLEN");
    args.Add("~");
    args.AddUint(options.stream_maxlen);
    args.Begin();
    AppendUint(seq, args.arena());
    args.arena().append("-0");
    args.End();
    args.Add("state");
    args.Add(state_json);
  }

  // Appends one game's run order[begin, end) (records above the stored
  // seq): its rating, hokm:active, the XADD, the TTLs.
  void AppendGame(std::span<const RecordRef> records, std::uint32_t begin, std::uint32_t end,
                  GameMemo& memo, std::uint64_t now_ms) {
    const fb::ChangeRecord& last = *records[order[end - 1]].record;
    const std::uint64_t g = last.game_id();
    events_json.assign("[");
    for (std::uint32_t k = begin; k < end; ++k) {
      const fb::ChangeRecord& r = *records[order[k]].record;
      memo.state.Apply(r);
      AppendRating(r, memo.state);
      if (k != begin) events_json.push_back(',');
      AppendPublicEventJson(r, events_json);
    }
    events_json.push_back(']');
    const bool ended = memo.state.Ended();
    const int flags = ended ? 1 : Throttle(memo, last.ts_ns(), now_ms);
    if (ended) {
      args.Clear();
      args.Add("ZREM");
      args.Add("hokm:active");
      args.AddUint(g);
      Append(Expect::kPlain, g);
    } else if ((flags & 2) != 0) {
      AppendActive(g, memo.state.updated_ms);
    }
    BeginXadd(g, last.game_seq(), memo.state);
    args.Add("events");
    args.Add(events_json);
    Append(Expect::kXadd, g, end - begin);
    Add(counters.entries, 1);
    if ((flags & 1) != 0) {
      Expire(key, ended ? options.finished_game_ttl : options.game_ttl, g);
      if (!ended) {
        for (std::uint64_t p : memo.state.seats) {
          if (p == 0) continue;
          PlayerKey(p);
          Expire(player_key, options.player_ttl, g);
        }
      }
    }
    if (options.publish_events) {
      published.append(published.empty() ? "{\"games\":[[" : ",[");
      AppendUint(g, published);
      published.push_back(',');
      AppendUint(last.game_seq(), published);
      published.push_back(']');
    }
  }

  // Reads every reply of the commands in flight (errors included, so the
  // connection stays in step with the pipeline).
  Status Drain(Status* first_error) {
    Add(counters.round_trips, 1);
    Add(counters.commands, expected.size());
    const int queued = redisAppendFormattedCommand(ctx.get(), proto.data(), proto.size());
    proto.clear();
    if (queued != REDIS_OK) return Lost("queueing the commands failed");
    for (const Pending& p : expected) {
      void* raw = nullptr;
      if (redisGetReply(ctx.get(), &raw) != REDIS_OK) return Lost("reading a reply failed");
      ReplyPtr r(static_cast<redisReply*>(raw));
      const std::string_view text = IsError(r.get()) ? ReplyText(r.get()) : std::string_view();
      if (p.kind == Expect::kXadd) {
        if (!IsError(r.get())) {
          Add(counters.applied, p.records);
        } else if (text.find("equal or smaller") != std::string_view::npos) {
          // Stored already, though this sink thought not: someone else
          // writes these keys. Counted; the game is probed again.
          Add(counters.duplicate, p.records);
          games.erase(p.game_id);
        } else if (first_error->ok()) {
          *first_error = ReplyError("XADD", text);
        }
      } else if (p.kind == Expect::kRestore) {
        // "equal or smaller": the stream got this state since the loss.
        if (IsError(r.get()) && text.find("equal or smaller") == std::string_view::npos &&
            first_error->ok())
          *first_error = ReplyError("XADD", text);
      } else if (IsError(r.get()) && first_error->ok()) {
        *first_error = ReplyError("command", text);
      }
    }
    expected.clear();
    return Status::Ok();
  }

  // Every marker_check_interval (and at once after a connect, or when
  // `now`): is hokm:marker still there? If not, Redis lost its data (or is
  // new): rebuild every live game, then set the marker.
  Status CheckMarker(bool now) {
    const auto t = Clock::now();
    if (!now && t < next_marker_check) return Status::Ok();
    Add(counters.round_trips, 1);
    Add(counters.commands, 1);
    ReplyPtr r = Command({"EXISTS", kMarkerKey});
    if (!r) return Lost("EXISTS " + std::string(kMarkerKey) + " failed");
    if (IsError(r.get())) return ReplyError("EXISTS", ReplyText(r.get()));
    const bool first_check = !marker_checked;
    marker_checked = true;
    if (r->type == REDIS_REPLY_INTEGER && r->integer == 0) {
      if (!(first_check && options.records_from_the_start)) {
        if (Status s = Rebuild(std::nullopt); !s.ok()) return s;
        Add(counters.rebuilds, 1);
      }
      const std::string since = std::to_string(NowMs());
      Add(counters.commands, 1);
      ReplyPtr set = Command({"SET", kMarkerKey, since});
      if (!set) return Lost("SET " + std::string(kMarkerKey) + " failed");
      if (IsError(set.get())) return ReplyError("SET", ReplyText(set.get()));
    }
    next_marker_check = t + options.marker_check_interval;
    return Status::Ok();
  }

  // Rewrites every live game (or only the live game `only`), and with
  // every live game the games that ended within finished_game_ttl and the
  // leaderboard, from options.rebuild_source (redis_sink.h).
  Status Rebuild(std::optional<std::uint64_t> only) {
    const RebuildSource* source = options.rebuild_source.get();
    if (source == nullptr) return Status::Ok();
    const auto t0 = Clock::now();
    rebuilt.clear();
    ratings.clear();
    std::uint64_t games_written = 0;
    if (only) {
      if (auto state = source->FindLive(*only)) rebuilt.push_back({*only, *state, 0});
    } else {
      source->LiveGames(rebuilt);
    }
    // The live games first: readers of live games wait for them.
    if (Status s = WriteRebuilt(games_written); !s.ok()) return s;
    if (!only) {
      rebuilt.clear();
      // PostgreSQL down: the live games are rebuilt all the same (the
      // source keeps the error for the log).
      if (source->EndedGames(options.finished_game_ttl, rebuilt).ok()) (void)source->Ratings(ratings);
      if (Status s = WriteRebuilt(games_written); !s.ok()) return s;
    }
    Add(counters.rebuilt_games, games_written);
    if (only) return Status::Ok();
    counters.last_rebuild_us.store(
        static_cast<std::uint64_t>(
            std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0).count()),
        std::memory_order_relaxed);
    return Status::Ok();
  }

  // Writes `rebuilt` (and `ratings`) for Rebuild; adds to games_written.
  Status WriteRebuilt(std::uint64_t& games_written) {
    expected.clear();
    proto.clear();
    Status first_error;
    const std::size_t max_commands = std::max<std::uint32_t>(1, options.max_commands_in_flight);
    const auto flush = [&](bool last) {
      if (expected.empty() || (!last && expected.size() < max_commands)) return Status::Ok();
      if (Status s = Drain(&first_error); !s.ok()) return s;
      return first_error;
    };
    const std::uint64_t now_ms = NowMs();
    const auto now_s = static_cast<std::uint32_t>(now_ms / 1000);
    const auto finished_ttl_ms = static_cast<std::uint64_t>(options.finished_game_ttl.count());
    for (RebuiltGame& rg : rebuilt) {
      const std::uint64_t g = rg.game_id;
      const bool ended = rg.state.Ended();
      std::uint64_t ttl_ms = static_cast<std::uint64_t>(options.game_ttl.count());
      if (ended) {
        // What is left of its TTL since it ended (a live game that ended
        // just now gets all of it).
        const std::uint64_t since = rg.ended_ms == 0 || now_ms < rg.ended_ms ? 0 : now_ms - rg.ended_ms;
        if (since >= finished_ttl_ms) continue;
        ttl_ms = finished_ttl_ms - since;
      }
      rg.state.updated_ms = ended && rg.ended_ms != 0 ? rg.ended_ms : now_ms;
      if (!ended) {
        GameMemo& memo = games[g];
        memo = GameMemo{};
        memo.known = true;
        memo.state = rg.state;
        memo.ttl_s = std::max<std::uint32_t>(now_s, 1);
        memo.active_s = std::max<std::uint32_t>(now_s, 1);
        AppendActive(g, rg.state.updated_ms);
        for (std::size_t seat = 0; seat < rg.state.seats.size(); ++seat) {
          const std::uint64_t p = rg.state.seats[seat];
          if (p == 0) continue;
          BeginPlayerHash(p, g, seat);
          Append(Expect::kPlain, g);
          Expire(player_key, options.player_ttl, g);
        }
      } else if (rg.state.phase == PublicState::Phase::kFinished) {
        GameKey(g);
        key.append(":rated");  // PostgreSQL's ratings (below) count it
        args.Clear();
        args.Add("SET");
        args.Add(key);
        args.Add("1");
        args.Add("PX");
        args.AddUint(static_cast<std::uint64_t>(options.rated_marker_ttl.count()));
        args.Add("NX");
        Append(Expect::kPlain, g);
      }
      BeginXadd(g, rg.state.seq, rg.state);
      args.Add("events");
      args.Add("[]");
      args.Add("restored");
      args.Add("1");
      Append(Expect::kRestore, g);
      args.Clear();
      args.Add("PEXPIRE");
      args.Add(key);
      args.AddUint(ttl_ms);
      Append(Expect::kPlain, g);
      ++games_written;
      if (Status s = flush(false); !s.ok()) return s;
    }
    constexpr std::size_t kRatingsPerZadd = 256;
    for (std::size_t i = 0; i < ratings.size(); i += kRatingsPerZadd) {
      args.Clear();
      args.Add("ZADD");
      args.Add("hokm:lb:global");
      for (std::size_t k = i; k < std::min(ratings.size(), i + kRatingsPerZadd); ++k) {
        args.Add(std::to_string(ratings[k].rating));
        args.AddUint(ratings[k].player_id);
      }
      Append(Expect::kPlain, 0);
      if (Status s = flush(false); !s.ok()) return s;
    }
    return flush(true);
  }

  Status Write(std::span<const RecordRef> records) {
    const auto t0 = Clock::now();
    Status s = EnsureOpen();
    if (s.ok()) s = WriteAll(records);
    const auto us = static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0).count());
    counters.last_us.store(us, std::memory_order_relaxed);
    if (us > counters.max_us.load(std::memory_order_relaxed))
      counters.max_us.store(us, std::memory_order_relaxed);
    Add(counters.total_us, us);
    Add(s.ok() ? counters.batches : counters.failed_batches, 1);
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
    Add(counters.rejected, records.size() - order.size());
    if (Status s = CheckMarker(false); !s.ok()) return s;
    if (Status s = Probe(records); !s.ok()) return s;
    if (!lost_games.empty()) {
      // A stream gone that should be there: all of Redis, or this game?
      if (Status s = CheckMarker(true); !s.ok()) return s;
      for (std::uint64_t g : lost_games) {
        if (games[g].state.seq != 0) continue;  // the rebuild restored it
        if (Status s = Rebuild(g); !s.ok()) return s;
      }
    }

    expected.clear();
    proto.clear();
    published.clear();
    for (std::uint32_t k : order) {  // ring order; the stored seqs as of the probe
      const fb::ChangeRecord& r = *records[k].record;
      if (r.game_seq() > games[r.game_id()].state.seq) AppendPlayerEffects(r);
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
      Add(counters.duplicate, k - first);
      if (k < end) AppendGame(records, k, end, memo, now_ms);
      if (memo.state.Ended()) games.erase(g);  // a late record would be probed (and refused)
      k = end;
      const bool last = k == order.size();
      if (last && !published.empty()) {
        published.append("]}");
        args.Clear();
        args.Add("PUBLISH");
        args.Add("hokm:events");
        args.Add(published);
        Append(Expect::kPlain, 0);
      }
      if (!last && expected.size() < max_commands) continue;
      if (expected.empty()) continue;
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

Status RedisSink::Write(std::span<const RecordRef> records) { return impl_->Write(records); }

bool RedisSink::Ping() {
  if (!impl_->EnsureOpen().ok()) return false;
  ReplyPtr r = impl_->Command({"PING"});
  if (!r) {
    (void)impl_->Lost("PING failed");
    return false;
  }
  return r->type == REDIS_REPLY_STATUS && ReplyText(r.get()) == "PONG";
}

RedisSinkStats RedisSink::stats() const {
  const auto& c = impl_->counters;
  const auto get = [](const std::atomic<std::uint64_t>& a) {
    return a.load(std::memory_order_relaxed);
  };
  RedisSinkStats s;
  s.batches = get(c.batches);
  s.failed_batches = get(c.failed_batches);
  s.records_applied = get(c.applied);
  s.records_duplicate = get(c.duplicate);
  s.records_rejected = get(c.rejected);
  s.entries = get(c.entries);
  s.commands = get(c.commands);
  s.scripts = get(c.scripts);
  s.probes = get(c.probes);
  s.round_trips = get(c.round_trips);
  s.reconnects = get(c.reconnects);
  s.rebuilds = get(c.rebuilds);
  s.rebuilt_games = get(c.rebuilt_games);
  s.last_rebuild_us = get(c.last_rebuild_us);
  s.last_batch_us = get(c.last_us);
  s.max_batch_us = get(c.max_us);
  s.total_batch_us = get(c.total_us);
  return s;
}

const RedisUrl& RedisSink::url() const { return impl_->url; }

}  // namespace hokm::sidecar
