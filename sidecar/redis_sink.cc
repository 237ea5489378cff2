// redis_sink.cc: the Redis sink: the apply script, argument packing, and the
// pipelined EVALSHA exchange over a synchronous hiredis context.
#include "sidecar/redis_sink.h"

#include <hiredis/hiredis.h>
#include <sys/time.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <charconv>
#include <cstdint>
#include <unordered_map>
#include <utility>
#include <vector>

#include "sidecar/rating.h"
#include "sidecar/record_json.h"

namespace hokm::sidecar {
namespace {

namespace fb = hokm::fb;
using Clock = std::chrono::steady_clock;

// The guarded path (DESIGN §5): records of games whose stored state this
// sink does not know, and the records with effects beyond the game's own
// keys. ARGV: 8 settings, then per game: game_id, flags, nf, nf values (the
// hash fields the records set, as field/value pairs built by HashDelta,
// seq and updated_ms included), n, and n records of seq, type, ts_ms,
// event and NF[type] extras (see PackRecord). flags: 1 = refresh the TTLs,
// 2 = update hokm:active (the client throttles both per game). Returns
// {applied, skipped}.
//
// The move stream is the idempotency guard: entry ID <seq>-0, and XADD
// refuses an ID at or below the stream's top, so one command both checks
// and appends. The records that go in are a suffix of the game's run (the
// guard is monotonic), so once any went in, writing the run's fields
// leaves the hash exactly where applying the records one by one would.
constexpr std::string_view kScript = R"lua(#!lua
local maxlen = ARGV[1]
local ttl_live = ARGV[2]
local ttl_done = ARGV[3]
local ttl_player = ARGV[4]
local ttl_rated = ARGV[5]
local rating_base = tonumber(ARGV[6])
local rating_step = tonumber(ARGV[7])
local publish = ARGV[8] == '1'
local NF = {0, 2, 2, 0, 0, 0, 0, 0, 0, 1, 0, 3}
local applied, skipped = 0, 0
local i = 9
local nargs = #ARGV

local function player_key(pid) return 'hokm:p:{' .. pid .. '}' end

while i <= nargs do
  local gid = ARGV[i]
  local flags = tonumber(ARGV[i + 1])
  local nf = tonumber(ARGV[i + 2])
  local fields = i + 3
  i = fields + nf
  local n = tonumber(ARGV[i])
  i = i + 1
  local g = 'hokm:g:{' .. gid .. '}'
  local moves = g .. ':moves'
  local channel = 'hokm:events:{' .. gid .. '}'
  local last_ts = nil
  local ended, winner = false, nil
  for _ = 1, n do
    local t = tonumber(ARGV[i + 1])
    local ev = ARGV[i + 3]
    local added = redis.pcall('XADD', moves, 'MAXLEN', '~', maxlen, ARGV[i] .. '-0', 'e', ev)
    if type(added) == 'table' and added.err then
      if not string.find(added.err, 'equal or smaller', 1, true) then return redis.error_reply(added.err) end
      skipped = skipped + 1
    else
      local ts = ARGV[i + 2]
      last_ts = ts
      applied = applied + 1
      if t == 2 then -- PlayerJoined: seat, player
        local pk = player_key(ARGV[i + 5])
        redis.call('HSET', pk, 'game', gid, 'seat', ARGV[i + 4], 'connected', '1', 'last_seen', ts)
        redis.call('PEXPIRE', pk, ttl_player)
      elseif t == 3 then -- PlayerLeft: seat, player
        local pk = player_key(ARGV[i + 5])
        if redis.call('HGET', pk, 'game') == gid then
          redis.call('HSET', pk, 'game', '0', 'seat', '', 'connected', '0', 'last_seen', ts)
          redis.call('PEXPIRE', pk, ttl_player)
        end
      elseif t == 10 then -- GameFinished: winner team
        ended = true
        winner = tonumber(ARGV[i + 4])
      elseif t == 11 then -- GameAbandoned
        ended = true
      elseif t == 12 then -- PlayerConnection: seat, player, connected
        local pk = player_key(ARGV[i + 5])
        redis.call('HSET', pk, 'game', gid, 'seat', ARGV[i + 4], 'connected', ARGV[i + 6], 'last_seen', ts)
        redis.call('PEXPIRE', pk, ttl_player)
      end
      if publish then redis.call('PUBLISH', channel, ev) end
    end
    i = i + 4 + (NF[t] or 0)
  end
  if last_ts then
    if nf > 0 then redis.call('HSET', g, unpack(ARGV, fields, fields + nf - 1)) end
    if ended then
      redis.call('PEXPIRE', g, ttl_done)
      redis.call('PEXPIRE', moves, ttl_done)
      redis.call('ZREM', 'hokm:active', gid)
    elseif flags > 0 then
      -- A game that ended before this call (a late record) stays as it is.
      local cur = redis.call('HMGET', g, 'phase', 's0', 's1', 's2', 's3')
      if cur[1] ~= 'finished' and cur[1] ~= 'abandoned' then
        if flags % 2 == 1 then
          redis.call('PEXPIRE', g, ttl_live)
          redis.call('PEXPIRE', moves, ttl_live)
          for s = 2, 5 do
            if cur[s] and cur[s] ~= '0' then redis.call('PEXPIRE', player_key(cur[s]), ttl_player) end
          end
        end
        if flags >= 2 then redis.call('ZADD', 'hokm:active', last_ts, gid) end
      end
    end
    if winner and redis.call('SET', g .. ':rated', '1', 'NX', 'PX', ttl_rated) then
      local seats = redis.call('HMGET', g, 's0', 's1', 's2', 's3')
      for s = 0, 3 do
        local pid = seats[s + 1]
        if pid and pid ~= '0' then
          local delta = rating_step
          if s % 2 ~= winner then delta = -rating_step end
          if redis.call('ZSCORE', 'hokm:lb:global', pid) then
            redis.call('ZINCRBY', 'hokm:lb:global', delta, pid)
          else
            redis.call('ZADD', 'hokm:lb:global', rating_base + delta, pid)
          end
        end
      end
    end
  end
end
return {applied, skipped}
)lua";

constexpr int kSettingsArgs = 8;

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

void AppendUint(std::uint64_t v, std::string& out) {
  char buf[24];
  const auto res = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, static_cast<std::size_t>(res.ptr - buf));
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

// The hash fields of hokm:g:{ID} (redis_sink.h lists them). HashDelta is
// the one place that says which fields each record type sets.
enum Field : std::uint8_t {
  kPhase, kRoom, kTarget, kHand, kPointsA, kPointsB, kTricksA, kTricksB, kTrickNo, kHakem,
  kTrump, kTurn, kLeader, kWinner, kS0, kS1, kS2, kS3, kT0, kT1, kT2, kT3, kSeq, kUpdatedMs,
  kFieldCount
};
constexpr std::array<std::string_view, kFieldCount> kFieldNames = {
    "phase", "room", "target", "hand", "points_a", "points_b", "tricks_a", "tricks_b",
    "trick_no", "hakem", "trump", "turn", "leader", "winner", "s0", "s1", "s2", "s3",
    "t0", "t1", "t2", "t3", "seq", "updated_ms"};

// The fields a run of one game's records sets, each at its last value: the
// net effect of applying the records in order.
class HashDelta {
 public:
  void Clear() { set_ = 0; }

  void Apply(const fb::ChangeRecord& r) {
    const auto score = [&](const fb::TeamScore* s, Field a, Field b) {
      Num(a, s ? s->a() : 0);
      Num(b, s ? s->b() : 0);
    };
    switch (r.body_type()) {
      case fb::Body::GameCreated: {
        const auto* b = r.body_as_GameCreated();
        Text(kPhase, "waiting");
        Text(kRoom, b->room() ? std::string_view(b->room()->c_str(), b->room()->size())
                              : std::string_view());
        Num(kTarget, b->target_points());
        for (Field f : {kHand, kPointsA, kPointsB, kTricksA, kTricksB, kTrickNo, kS0, kS1, kS2, kS3})
          Num(f, 0);
        for (Field f : {kHakem, kTrump, kTurn, kLeader, kWinner}) Text(f, "");
        ClearTable();
        break;
      }
      case fb::Body::PlayerJoined:
        Num(Seat(kS0, r.body_as_PlayerJoined()->seat()), r.body_as_PlayerJoined()->player_id());
        break;
      case fb::Body::PlayerLeft:
        Num(Seat(kS0, r.body_as_PlayerLeft()->seat()), 0);
        break;
      case fb::Body::HakemChosen: {
        const auto* b = r.body_as_HakemChosen();
        Text(kPhase, "choosing_trump");
        for (Field f : {kHakem, kTurn, kLeader}) Num(f, b->seat());
        Num(kHand, b->hand_no());
        Text(kTrump, "");
        for (Field f : {kTricksA, kTricksB, kTrickNo}) Num(f, 0);
        ClearTable();
        break;
      }
      case fb::Body::TrumpChosen:
        Text(kPhase, "playing");
        Num(kTrump, r.body_as_TrumpChosen()->suit());
        Num(kTurn, r.body_as_TrumpChosen()->seat());
        break;
      case fb::Body::CardsDealt:  // hands stay private
        break;
      case fb::Body::CardPlayed: {
        const auto* b = r.body_as_CardPlayed();
        Num(Seat(kT0, b->seat()), b->card());
        Num(kTurn, (b->seat() + 1u) % 4u);
        break;
      }
      case fb::Body::TrickWon: {
        const auto* b = r.body_as_TrickWon();
        ClearTable();
        Num(kTurn, b->seat());
        Num(kLeader, b->seat());
        Num(kTrickNo, b->trick_no());
        score(b->tricks(), kTricksA, kTricksB);
        break;
      }
      case fb::Body::HandScored:
        score(r.body_as_HandScored()->points(), kPointsA, kPointsB);
        break;
      case fb::Body::GameFinished:
        Text(kPhase, "finished");
        Num(kWinner, r.body_as_GameFinished()->winner_team());
        score(r.body_as_GameFinished()->points(), kPointsA, kPointsB);
        Text(kTurn, "");
        break;
      case fb::Body::GameAbandoned:
        Text(kPhase, "abandoned");
        score(r.body_as_GameAbandoned()->points(), kPointsA, kPointsB);
        Text(kTurn, "");
        break;
      case fb::Body::PlayerConnection:  // the player's hash only
      case fb::Body::NONE:
        break;
    }
    Num(kSeq, r.game_seq());
    Num(kUpdatedMs, r.ts_ns() / 1'000'000);
  }

  // How many arguments AppendTo adds: a field and a value per field set.
  std::uint64_t args() const { return 2u * static_cast<std::uint64_t>(std::popcount(set_)); }

  // Appends the field/value pairs.
  void AppendTo(ArgvBuilder& args) const {
    for (std::uint32_t f = 0; f < kFieldCount; ++f) {
      if ((set_ >> f & 1u) == 0) continue;
      args.Add(kFieldNames[f]);
      if (text_[f].data() != nullptr) {
        args.Add(text_[f]);
      } else {
        args.AddUint(num_[f]);
      }
    }
  }

 private:
  // The field of seat `seat` in the run s0..s3 or t0..t3 (seats are 0..3:
  // CheckRecord has verified that).
  static Field Seat(Field first, std::uint32_t seat) {
    return static_cast<Field>(first + (seat & 3u));
  }
  void Num(Field f, std::uint64_t v) {
    set_ |= 1u << f;
    num_[f] = v;
    text_[f] = {};
  }
  void Text(Field f, std::string_view v) {
    set_ |= 1u << f;
    text_[f] = v.data() ? v : std::string_view("", 0);
  }
  void ClearTable() {
    for (Field f : {kT0, kT1, kT2, kT3}) Text(f, "");
  }

  std::uint32_t set_ = 0;
  std::array<std::uint64_t, kFieldCount> num_{};
  std::array<std::string_view, kFieldCount> text_{};
};
static_assert(kFieldCount <= 32);

// Record types the direct path carries: their effects stay on the game's own
// keys, the joining player's hash and hokm:active. The others (a player
// leaving, connection changes, the end with its rating) take the guarded
// path.
bool Direct(fb::Body type) {
  switch (type) {
    case fb::Body::GameCreated:
    case fb::Body::GameAbandoned:
    case fb::Body::PlayerJoined:
    case fb::Body::HakemChosen:
    case fb::Body::TrumpChosen:
    case fb::Body::CardsDealt:
    case fb::Body::CardPlayed:
    case fb::Body::TrickWon:
    case fb::Body::HandScored:
      return true;
    default:
      return false;
  }
}

// Appends a record's seq, type, ts_ms and event, then the extras the script
// reads for its type (the script's NF table): seat and player for
// PlayerJoined and PlayerLeft, the winner team for GameFinished, seat,
// player and connected for PlayerConnection.
void PackRecord(const fb::ChangeRecord& r, ArgvBuilder& args) {
  args.AddUint(r.game_seq());
  args.AddUint(static_cast<std::uint64_t>(r.body_type()));
  args.AddUint(r.ts_ns() / 1'000'000);
  args.Begin();
  AppendEventJson(r, args.arena());
  args.End();
  switch (r.body_type()) {
    case fb::Body::PlayerJoined:
      args.AddUint(r.body_as_PlayerJoined()->seat());
      args.AddUint(r.body_as_PlayerJoined()->player_id());
      break;
    case fb::Body::PlayerLeft:
      args.AddUint(r.body_as_PlayerLeft()->seat());
      args.AddUint(r.body_as_PlayerLeft()->player_id());
      break;
    case fb::Body::GameFinished:
      args.AddUint(r.body_as_GameFinished()->winner_team());
      break;
    case fb::Body::PlayerConnection: {
      const auto* b = r.body_as_PlayerConnection();
      args.AddUint(b->seat());
      args.AddUint(b->player_id());
      args.AddUint(b->connected() ? 1 : 0);
      break;
    }
    default:
      break;
  }
}

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
  std::string sha;

  // What this sink knows of each live game it has written: about 48 bytes
  // a game. Cleared on any failed Write (a refresh or a write that may not
  // have happened is then redone, guarded) and when it outgrows
  // kMaxTrackedGames (each game then takes the guarded path once more).
  struct GameMemo {
    // Whether this sink knows the last game_seq stored (stored_seq; 0 for a
    // game Redis has nothing of), from its own writes or a probe of the
    // move stream. Unknown games are probed before their records go out.
    bool known = false;
    bool probing = false;  // in this Write's probe
    std::uint64_t stored_seq = 0;
    std::uint32_t ttl_s = 0;     // wall clock of the last TTL refresh, whole seconds
    std::uint32_t active_s = 0;  // record time of the last hokm:active update
  };
  static constexpr std::size_t kMaxTrackedGames = std::size_t{1} << 21;
  std::unordered_map<std::uint64_t, GameMemo> games;

  // One game's records in this Write, in order: order[begin, end).
  struct Run {
    std::uint32_t begin = 0, end = 0;
    std::uint64_t game_id = 0;
    std::uint64_t last_seq = 0;
    int flags = 0;
    bool ends = false;
    bool created = false;  // holds the game's GameCreated
    bool direct = false;
  };
  // What goes down the pipeline: one EVALSHA for the guarded runs
  // guarded_runs[first, end), or the commands of the direct run runs[first].
  struct Unit {
    std::uint32_t first = 0, end = 0;
    std::uint32_t records = 0;
    bool guarded = false;
  };
  enum class Expect : std::uint8_t { kEval, kXadd, kPlain };

  // Scratch reused by every Write.
  std::vector<std::uint32_t> order;  // indices of the records to send, sorted by game
  std::vector<Run> runs;
  std::vector<std::uint32_t> guarded_runs;  // indices into runs, by EVALSHA
  std::vector<Unit> units;
  std::vector<std::pair<Expect, std::uint32_t>> expected;  // per command in flight: kind, unit
  HashDelta delta;
  ArgvBuilder args;
  std::string key, moves_key, channel, event, player_key;
  std::string proto;  // the commands of the window, in RESP
  std::vector<std::uint64_t> probed;  // games probed by this Write

  struct Counters {
    std::atomic<std::uint64_t> batches{0}, failed_batches{0}, applied{0}, duplicate{0}, rejected{0},
        evalsha{0}, commands{0}, direct{0}, round_trips{0}, script_loads{0}, reconnects{0},
        last_us{0}, max_us{0}, total_us{0};
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
    return Status::Internal(std::move(msg));
  }

  Status LoadScript() {
    ReplyPtr r = Command({"SCRIPT", "LOAD", kScript});
    if (!r) return Lost("SCRIPT LOAD failed");
    if (r->type != REDIS_REPLY_STRING) {
      return Status::Internal("redis at " + url.HostPort() +
                              ": SCRIPT LOAD refused: " + std::string(ReplyText(r.get())));
    }
    sha.assign(r->str, static_cast<std::size_t>(r->len));
    Add(counters.script_loads, 1);
    return Status::Ok();
  }

  Status Open() {
    games.clear();  // a new connection knows nothing of what the last one wrote
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
    return LoadScript();
  }

  Status EnsureOpen() {
    if (ctx) return Status::Ok();
    Add(counters.reconnects, 1);
    return Open();
  }

  // The TTL and hokm:active flags for a game's run (see the script): TTLs
  // at most every ttl_refresh_interval of wall clock, hokm:active at most
  // every active_refresh_interval of record time.
  int Throttle(GameMemo& memo, const fb::ChangeRecord& last, std::uint64_t now_ms) const {
    const auto now_s = static_cast<std::uint32_t>(now_ms / 1000);
    const auto ts_s = static_cast<std::uint32_t>(last.ts_ns() / 1'000'000'000);
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

  // Splits the records into runs (one game's records in order, at most
  // max_records_per_call each), chooses each run's path, and packs the
  // guarded runs into EVALSHA calls as options.grouping says.
  void Plan(std::span<const RecordRef> records, std::uint64_t now_ms) {
    order.clear();
    runs.clear();
    guarded_runs.clear();
    units.clear();
    for (std::uint32_t k = 0; k < records.size(); ++k) {
      if (CheckRecord(records[k]) == nullptr) order.push_back(k);
    }
    const auto rec = [&](std::uint32_t k) -> const fb::ChangeRecord& {
      return *records[order[k]].record;
    };
    using G = Options::Grouping;
    if (options.grouping != G::kPerRecord) {
      std::stable_sort(order.begin(), order.end(), [&](std::uint32_t x, std::uint32_t y) {
        return records[x].record->game_id() < records[y].record->game_id();
      });
    }
    const std::uint32_t max_run =
        options.grouping == G::kPerRecord ? 1 : std::max<std::uint32_t>(1, options.max_records_per_call);
    if (games.size() >= kMaxTrackedGames) games.clear();
    std::size_t open_call = SIZE_MAX;  // the EVALSHA guarded runs join

    for (std::uint32_t k = 0; k < order.size();) {
      Run run;
      run.game_id = rec(k).game_id();
      GameMemo& memo = games[run.game_id];
      // Records known stored already are dropped here (a replay).
      const std::uint32_t first = k;
      while (k < order.size() && memo.known && rec(k).game_id() == run.game_id &&
             rec(k).game_seq() <= memo.stored_seq) {
        ++k;
      }
      Add(counters.duplicate, k - first);
      if (k == order.size() || rec(k).game_id() != run.game_id) continue;
      run.begin = k;
      bool direct = options.direct_path;
      while (k < order.size() && k - run.begin < max_run && rec(k).game_id() == run.game_id) {
        const fb::Body type = rec(k).body_type();
        run.ends |= type == fb::Body::GameFinished || type == fb::Body::GameAbandoned;
        run.created |= type == fb::Body::GameCreated;
        direct &= Direct(type);
        ++k;
      }
      run.end = k;
      run.last_seq = rec(k - 1).game_seq();
      run.flags = run.ends ? 0 : Throttle(memo, rec(k - 1), now_ms);
      // Direct when every earlier record of the game is known stored and
      // no TTL refresh is due that reads the seats back (a new game has
      // nobody seated before this run: its joins refresh their own keys).
      run.direct = direct && memo.known && rec(run.begin).game_seq() > memo.stored_seq &&
                   ((run.flags & 1) == 0 || run.created);
      if (run.ends) {
        games.erase(run.game_id);
      } else {
        // Direct: known once it succeeds (a failed Write forgets everything).
        // Guarded: known only once its EVALSHA answers (see Learn).
        memo.known = run.direct;
        memo.stored_seq = run.direct ? run.last_seq : 0;
      }
      const auto r = static_cast<std::uint32_t>(runs.size());
      const bool follows_own_direct_run =
          !runs.empty() && runs.back().direct && runs.back().game_id == run.game_id;
      runs.push_back(run);
      const std::uint32_t n = run.end - run.begin;
      if (run.direct) {
        units.push_back({r, r + 1, n, false});
        continue;
      }
      // A guarded run joins the open EVALSHA (the last one) when grouping
      // packs, the call stays within max_records_per_call, and the run does
      // not continue a direct run of its game (the call may have been
      // queued before that run).
      guarded_runs.push_back(r);
      const auto g = static_cast<std::uint32_t>(guarded_runs.size());
      if (open_call < units.size() && options.grouping == G::kPacked && !follows_own_direct_run &&
          units[open_call].records + n <= max_run) {
        units[open_call].end = g;
        units[open_call].records += n;
      } else {
        open_call = units.size();
        units.push_back({g - 1, g, n, true});
      }
    }
    Add(counters.rejected, records.size() - order.size());
  }

  // Queues the command in args, formatted here: hiredis's own formatting
  // (sds per argument) was a quarter of the sidecar's CPU.
  void Append(Expect kind, std::uint32_t unit) {
    args.AppendResp(proto);
    expected.emplace_back(kind, unit);
  }

  void GameKeys(std::uint64_t game_id) {
    char id[24];
    const auto res = std::to_chars(id, id + sizeof id, game_id);
    const std::string_view ids(id, static_cast<std::size_t>(res.ptr - id));
    key.assign("hokm:g:{").append(ids).append("}");
    moves_key.assign(key).append(":moves");
    channel.assign("hokm:events:{").append(ids).append("}");
  }

  // Appends the EVALSHA of a unit of guarded runs.
  void AppendGuarded(std::span<const RecordRef> records, std::uint32_t u) {
    args.Clear();
    args.Add("EVALSHA");
    args.Add(sha);
    args.Add("0");
    args.AddUint(options.stream_maxlen);
    args.AddUint(static_cast<std::uint64_t>(options.game_ttl.count()));
    args.AddUint(static_cast<std::uint64_t>(options.finished_game_ttl.count()));
    args.AddUint(static_cast<std::uint64_t>(options.player_ttl.count()));
    args.AddUint(static_cast<std::uint64_t>(options.rated_marker_ttl.count()));
    args.AddUint(static_cast<std::uint64_t>(kRatingBase));
    args.AddUint(static_cast<std::uint64_t>(kRatingStep));
    args.Add(options.publish_events ? "1" : "0");
    static_assert(kSettingsArgs == 8);
    for (std::uint32_t g = units[u].first; g < units[u].end; ++g) {
      const Run& run = runs[guarded_runs[g]];
      delta.Clear();
      for (std::uint32_t k = run.begin; k < run.end; ++k) delta.Apply(*records[order[k]].record);
      args.AddUint(run.game_id);
      args.AddUint(static_cast<std::uint64_t>(run.flags));
      args.AddUint(delta.args());
      delta.AppendTo(args);
      args.AddUint(run.end - run.begin);
      for (std::uint32_t k = run.begin; k < run.end; ++k) PackRecord(*records[order[k]].record, args);
    }
    Add(counters.evalsha, 1);
    Append(Expect::kEval, u);
  }

  // Appends a direct run's commands: the hash first (HSET of the run's
  // fields), then per record XADD (the guard: ID <seq>-0), PUBLISH and,
  // for a join, the player's hash. The hash goes first so that a pipeline
  // cut short (a crash) can only leave the stream behind the hash; the
  // guarded path then adds the missing entries and writes the same fields
  // again.
  void AppendDirect(std::span<const RecordRef> records, std::uint32_t u) {
    const Run& run = runs[units[u].first];
    GameKeys(run.game_id);
    delta.Clear();
    for (std::uint32_t k = run.begin; k < run.end; ++k) delta.Apply(*records[order[k]].record);
    args.Clear();
    args.Add("HSET");
    args.Add(key);
    delta.AppendTo(args);
    Append(Expect::kPlain, u);
    std::uint64_t commands = 1;
    for (std::uint32_t k = run.begin; k < run.end; ++k) {
      const fb::ChangeRecord& r = *records[order[k]].record;
      event.clear();
      AppendEventJson(r, event);
      args.Clear();
      args.Add("XADD");
      args.Add(moves_key);
      args.Add("MAXLEN");
      args.Add("~");
      args.AddUint(options.stream_maxlen);
      args.Begin();
      AppendUint(r.game_seq(), args.arena());
      args.arena().append("-0");
      args.End();
      args.Add("e");
      args.Add(event);
      Append(Expect::kXadd, u);
      ++commands;
      if (options.publish_events) {
        args.Clear();
        args.Add("PUBLISH");
        args.Add(channel);
        args.Add(event);
        Append(Expect::kPlain, u);
        ++commands;
      }
      if (r.body_type() == fb::Body::PlayerJoined) {
        const auto* b = r.body_as_PlayerJoined();
        player_key.assign("hokm:p:{");
        AppendUint(b->player_id(), player_key);
        player_key.append("}");
        args.Clear();
        args.Add("HSET");
        args.Add(player_key);
        args.Add("game");
        args.AddUint(run.game_id);
        args.Add("seat");
        args.AddUint(b->seat());
        args.Add("connected");
        args.Add("1");
        args.Add("last_seen");
        args.AddUint(r.ts_ns() / 1'000'000);
        Append(Expect::kPlain, u);
        args.Clear();
        args.Add("PEXPIRE");
        args.Add(player_key);
        args.AddUint(static_cast<std::uint64_t>(options.player_ttl.count()));
        Append(Expect::kPlain, u);
        commands += 2;
      }
    }
    // TTLs and hokm:active, as the script does them (see its end).
    const auto expire = [&](const std::string& k, std::chrono::milliseconds ttl) {
      args.Clear();
      args.Add("PEXPIRE");
      args.Add(k);
      args.AddUint(static_cast<std::uint64_t>(ttl.count()));
      Append(Expect::kPlain, u);
      ++commands;
    };
    if (run.ends) {
      expire(key, options.finished_game_ttl);
      expire(moves_key, options.finished_game_ttl);
      args.Clear();
      args.Add("ZREM");
      args.Add("hokm:active");
      args.AddUint(run.game_id);
      Append(Expect::kPlain, u);
      ++commands;
    } else {
      if ((run.flags & 1) != 0) {
        expire(key, options.game_ttl);
        expire(moves_key, options.game_ttl);
      }
      if ((run.flags & 2) != 0) {
        args.Clear();
        args.Add("ZADD");
        args.Add("hokm:active");
        args.AddUint(records[order[run.end - 1]].record->ts_ns() / 1'000'000);
        args.AddUint(run.game_id);
        Append(Expect::kPlain, u);
        ++commands;
      }
    }
    Add(counters.commands, commands);
    Add(counters.direct, run.end - run.begin);
  }

  // After a guarded call answered: its games' stored seq is known when it
  // skipped nothing (else they stay unknown and take the guarded path again).
  void Learn(std::uint32_t u, bool skipped_any) {
    for (std::uint32_t g = units[u].first; g < units[u].end; ++g) {
      const Run& run = runs[guarded_runs[g]];
      if (run.ends) continue;
      auto it = games.find(run.game_id);
      if (it == games.end()) continue;
      it->second.known = !skipped_any;
      it->second.stored_seq = skipped_any ? 0 : std::max(it->second.stored_seq, run.last_seq);
    }
  }

  // Reads every reply of the commands in flight (errors included, so the
  // connection stays in step with the pipeline).
  Status Drain(bool* noscript, Status* first_error) {
    Add(counters.round_trips, 1);
    const int queued = redisAppendFormattedCommand(ctx.get(), proto.data(), proto.size());
    proto.clear();
    if (queued != REDIS_OK) return Lost("queueing the commands failed");
    for (const auto& [kind, u] : expected) {
      void* raw = nullptr;
      if (redisGetReply(ctx.get(), &raw) != REDIS_OK) return Lost("reading a reply failed");
      ReplyPtr r(static_cast<redisReply*>(raw));
      const std::string_view text = IsError(r.get()) ? ReplyText(r.get()) : std::string_view();
      switch (kind) {
        case Expect::kEval:
          if (IsError(r.get())) {
            if (text.substr(0, 8) == "NOSCRIPT") {
              *noscript = true;
            } else if (first_error->ok()) {
              *first_error = ReplyError("EVALSHA", text);
            }
          } else if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
                     r->element[0]->type != REDIS_REPLY_INTEGER ||
                     r->element[1]->type != REDIS_REPLY_INTEGER) {
            if (first_error->ok())
              *first_error =
                  Status::Internal("redis at " + url.HostPort() + ": unexpected EVALSHA reply");
          } else {
            Add(counters.applied, static_cast<std::uint64_t>(r->element[0]->integer));
            Add(counters.duplicate, static_cast<std::uint64_t>(r->element[1]->integer));
            Learn(u, r->element[1]->integer != 0);
          }
          break;
        case Expect::kXadd:
          if (!IsError(r.get())) {
            Add(counters.applied, 1);
          } else if (text.find("equal or smaller") != std::string_view::npos) {
            // Stored already, though this sink thought not: someone else
            // writes these keys. Counted; the game goes guarded again.
            Add(counters.duplicate, 1);
            if (auto it = games.find(runs[units[u].first].game_id); it != games.end()) {
              it->second.known = false;
              it->second.stored_seq = 0;
            }
          } else if (first_error->ok()) {
            *first_error = ReplyError("XADD", text);
          }
          break;
        case Expect::kPlain:
          if (IsError(r.get()) && first_error->ok()) *first_error = ReplyError("command", text);
          break;
      }
    }
    expected.clear();
    return Status::Ok();
  }

  Status Write(std::span<const RecordRef> records) {
    const auto t0 = Clock::now();
    Status s = WriteAll(records);
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

  Status WriteAll(std::span<const RecordRef> records) {
    for (int reloads = 0;; ++reloads) {
      if (Status s = EnsureOpen(); !s.ok()) return s;
      if (Status s = Probe(records); !s.ok()) return s;
      Plan(records, NowMs());
      bool noscript = false;
      Status s = Send(records, &noscript);
      if (!noscript) return s;
      // The script cache was flushed (a restart, SCRIPT FLUSH): load it again
      // and send the whole batch again, every game guarded: what did run is
      // skipped by game_seq.
      if (reloads == 2)
        return Status::Internal("redis at " + url.HostPort() +
                                ": NOSCRIPT persists after reloading the script");
      if (Status l = LoadScript(); !l.ok()) return l;
      games.clear();
    }
  }

  // Learns the stored game_seq of the batch's games this sink does not
  // know yet: the top entry of each one's move stream (XREVRANGE ... COUNT
  // 1, one pipelined round trip; none missing means nothing stored). The
  // hash is never behind the stream (the direct path writes it first, the
  // script atomically), so everything up to that entry is stored whole.
  // This sink is the keys' only writer, so the answer holds until it
  // writes them itself.
  Status Probe(std::span<const RecordRef> records) {
    if (!options.direct_path) return Status::Ok();
    if (games.size() >= kMaxTrackedGames) games.clear();
    probed.clear();
    proto.clear();
    for (const RecordRef& r : records) {
      if (CheckRecord(r) != nullptr) continue;
      const std::uint64_t game_id = r.record->game_id();
      GameMemo& memo = games[game_id];
      if (memo.known || memo.probing) continue;
      memo.probing = true;
      probed.push_back(game_id);
      GameKeys(game_id);
      args.Clear();
      for (std::string_view a : {std::string_view("XREVRANGE"), std::string_view(moves_key),
                                 std::string_view("+"), std::string_view("-"),
                                 std::string_view("COUNT"), std::string_view("1")})
        args.Add(a);
      args.AppendResp(proto);
    }
    if (probed.empty()) return Status::Ok();
    Add(counters.round_trips, 1);
    Add(counters.commands, probed.size());
    const int queued = redisAppendFormattedCommand(ctx.get(), proto.data(), proto.size());
    proto.clear();
    if (queued != REDIS_OK) return Lost("queueing the probes failed");
    Status first_error;
    for (std::uint64_t game_id : probed) {
      void* raw = nullptr;
      if (redisGetReply(ctx.get(), &raw) != REDIS_OK) return Lost("reading a probe reply failed");
      ReplyPtr r(static_cast<redisReply*>(raw));
      std::uint64_t top = 0;
      bool ok = r && r->type == REDIS_REPLY_ARRAY;
      if (ok && r->elements > 0) {
        const redisReply* entry = r->element[0];
        ok = entry->type == REDIS_REPLY_ARRAY && entry->elements >= 1 &&
             entry->element[0]->type == REDIS_REPLY_STRING;
        if (ok) {
          const char* id = entry->element[0]->str;
          const auto [end, err] = std::from_chars(id, id + entry->element[0]->len, top);
          ok = err == std::errc() && *end == '-';
        }
      }
      if (!ok) {
        if (first_error.ok())
          first_error = IsError(r.get()) ? ReplyError("XREVRANGE", ReplyText(r.get()))
                                         : Status::Internal("redis at " + url.HostPort() +
                                                            ": unexpected XREVRANGE reply");
        continue;
      }
      GameMemo& memo = games[game_id];
      memo.probing = false;
      memo.known = true;
      memo.stored_seq = top;
    }
    return first_error;
  }

  // Pipelines the planned units, draining the replies every
  // max_calls_in_flight EVALSHA or max_commands_in_flight commands. After
  // a failed command no further window is sent: later records of the same
  // game would leave a gap the guard then keeps. The caller retries the
  // whole batch.
  Status Send(std::span<const RecordRef> records, bool* noscript) {
    expected.clear();
    proto.clear();
    Status first_error;
    std::uint32_t evals = 0;
    const std::uint32_t max_evals = std::max<std::uint32_t>(1, options.max_calls_in_flight);
    const std::uint32_t max_commands = std::max<std::uint32_t>(1, options.max_commands_in_flight);
    for (std::uint32_t u = 0; u < units.size(); ++u) {
      if (units[u].guarded) {
        AppendGuarded(records, u);
      } else {
        AppendDirect(records, u);
      }
      evals += units[u].guarded ? 1 : 0;
      if (u + 1 < units.size() && evals < max_evals && expected.size() < max_commands) continue;
      if (Status s = Drain(noscript, &first_error); !s.ok()) return s;
      if (*noscript || !first_error.ok()) return first_error;
      evals = 0;
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
  s.evalsha_calls = get(c.evalsha);
  s.direct_commands = get(c.commands);
  s.direct_records = get(c.direct);
  s.round_trips = get(c.round_trips);
  s.script_loads = get(c.script_loads);
  s.reconnects = get(c.reconnects);
  s.last_batch_us = get(c.last_us);
  s.max_batch_us = get(c.max_us);
  s.total_batch_us = get(c.total_us);
  return s;
}

const std::string& RedisSink::script_sha() const { return impl_->sha; }
const RedisUrl& RedisSink::url() const { return impl_->url; }
std::string_view RedisSink::ScriptSource() { return kScript; }

}  // namespace hokm::sidecar
