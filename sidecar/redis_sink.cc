// redis_sink.cc: the Redis sink: the apply script, argument packing, and the
// pipelined EVALSHA exchange over a synchronous hiredis context.
#include "sidecar/redis_sink.h"

#include <hiredis/hiredis.h>
#include <sys/time.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <unordered_map>
#include <utility>
#include <vector>

#include "sidecar/rating.h"
#include "sidecar/record_json.h"

namespace hokm::sidecar {
namespace {

namespace fb = hokm::fb;
using Clock = std::chrono::steady_clock;

// ARGV: 8 settings, then per game: game_id, n, flags, and n records of
// seq, type, ts_ms, event, then the type's fields (NF[type] of them; see
// PackRecord). flags: 1 = refresh the TTLs, 2 = update hokm:active (the
// client throttles both per game). Returns {applied, skipped}.
//
// The move stream is the idempotency guard: entry ID <seq>-0, and XADD
// refuses an ID at or below the stream's top, so one command both checks
// and appends. Per game the hash is then written once (HSET) from the
// records that went in; values are passed on as the strings they came in as.
constexpr std::string_view kScript = R"lua(#!lua
local maxlen = ARGV[1]
local ttl_live = ARGV[2]
local ttl_done = ARGV[3]
local ttl_player = ARGV[4]
local ttl_rated = ARGV[5]
local rating_base = tonumber(ARGV[6])
local rating_step = tonumber(ARGV[7])
local publish = ARGV[8] == '1'
local NF = {2, 2, 2, 2, 2, 0, 2, 4, 2, 3, 2, 3}
local NEXT = {['0'] = '1', ['1'] = '2', ['2'] = '3', ['3'] = '0'}
local applied, skipped = 0, 0
local i = 9
local nargs = #ARGV

local function player_key(pid) return 'hokm:p:{' .. pid .. '}' end
local function clear_table(f)
  f['t0'] = ''
  f['t1'] = ''
  f['t2'] = ''
  f['t3'] = ''
end

while i <= nargs do
  local gid = ARGV[i]
  local n = tonumber(ARGV[i + 1])
  local flags = tonumber(ARGV[i + 2])
  i = i + 3
  local g = 'hokm:g:{' .. gid .. '}'
  local moves = g .. ':moves'
  local channel = 'hokm:events:{' .. gid .. '}'
  local f = {}
  local last_seq, last_ts = nil, nil
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
      local a, b, c, d = ARGV[i + 4], ARGV[i + 5], ARGV[i + 6], ARGV[i + 7]
      last_seq = ARGV[i]
      last_ts = ts
      applied = applied + 1
      if t == 7 then -- CardPlayed: seat, card
        f['t' .. a] = b
        f['turn'] = NEXT[a]
      elseif t == 8 then -- TrickWon: winner seat, trick_no, tricks per team
        clear_table(f)
        f['turn'] = a
        f['leader'] = a
        f['trick_no'] = b
        f['tricks_a'] = c
        f['tricks_b'] = d
      elseif t == 6 then -- CardsDealt: stream and event only (hands stay private)
      elseif t == 1 then -- GameCreated: room, target points
        f['phase'] = 'waiting'
        f['room'] = a
        f['target'] = b
        f['hand'] = '0'
        f['points_a'] = '0'
        f['points_b'] = '0'
        f['tricks_a'] = '0'
        f['tricks_b'] = '0'
        f['trick_no'] = '0'
        f['hakem'] = ''
        f['trump'] = ''
        f['turn'] = ''
        f['leader'] = ''
        f['winner'] = ''
        f['s0'] = '0'
        f['s1'] = '0'
        f['s2'] = '0'
        f['s3'] = '0'
        clear_table(f)
      elseif t == 2 then -- PlayerJoined: seat, player
        f['s' .. a] = b
        local pk = player_key(b)
        redis.call('HSET', pk, 'game', gid, 'seat', a, 'connected', '1', 'last_seen', ts)
        redis.call('PEXPIRE', pk, ttl_player)
      elseif t == 3 then -- PlayerLeft: seat, player
        f['s' .. a] = '0'
        local pk = player_key(b)
        if redis.call('HGET', pk, 'game') == gid then
          redis.call('HSET', pk, 'game', '0', 'seat', '', 'connected', '0', 'last_seen', ts)
          redis.call('PEXPIRE', pk, ttl_player)
        end
      elseif t == 4 then -- HakemChosen: seat, hand_no
        f['phase'] = 'choosing_trump'
        f['hakem'] = a
        f['hand'] = b
        f['turn'] = a
        f['leader'] = a
        f['trump'] = ''
        f['tricks_a'] = '0'
        f['tricks_b'] = '0'
        f['trick_no'] = '0'
        clear_table(f)
      elseif t == 5 then -- TrumpChosen: seat, suit
        f['phase'] = 'playing'
        f['trump'] = b
        f['turn'] = a
      elseif t == 9 then -- HandScored: points per team
        f['points_a'] = a
        f['points_b'] = b
      elseif t == 10 then -- GameFinished: winner team, points per team
        f['phase'] = 'finished'
        f['winner'] = a
        f['points_a'] = b
        f['points_b'] = c
        f['turn'] = ''
        ended = true
        winner = tonumber(a)
      elseif t == 11 then -- GameAbandoned: points per team
        f['phase'] = 'abandoned'
        f['points_a'] = a
        f['points_b'] = b
        f['turn'] = ''
        ended = true
      elseif t == 12 then -- PlayerConnection: seat, player, connected
        local pk = player_key(b)
        redis.call('HSET', pk, 'game', gid, 'seat', a, 'connected', c, 'last_seen', ts)
        redis.call('PEXPIRE', pk, ttl_player)
      end
      if publish then redis.call('PUBLISH', channel, ev) end
    end
    i = i + 4 + (NF[t] or 0)
  end
  if last_seq then
    f['seq'] = last_seq
    f['updated_ms'] = last_ts
    local flat = {}
    for k, v in pairs(f) do
      flat[#flat + 1] = k
      flat[#flat + 1] = v
    end
    redis.call('HSET', g, unpack(flat))
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
    char buf[24];
    const auto res = std::to_chars(buf, buf + sizeof buf, v);
    Add(std::string_view(buf, static_cast<std::size_t>(res.ptr - buf)));
  }
  // For arguments written straight into the arena (the event JSON).
  void Begin() { start_ = arena_.size(); }
  void End() { spans_.push_back({start_, arena_.size() - start_}); }
  std::string& arena() { return arena_; }
  std::size_t size() const { return spans_.size(); }

  // Fills argv/lens; valid until the next Add.
  void Finish(std::vector<const char*>& argv, std::vector<std::size_t>& lens) const {
    argv.resize(spans_.size());
    lens.resize(spans_.size());
    for (std::size_t k = 0; k < spans_.size(); ++k) {
      argv[k] = arena_.data() + spans_[k].first;
      lens[k] = spans_[k].second;
    }
  }

 private:
  std::string arena_;
  std::vector<std::pair<std::size_t, std::size_t>> spans_;
  std::size_t start_ = 0;
};

// Appends a record's seq, type, ts_ms, event and its type's fields, as
// many as the script's NF table says: the script reads them positionally.
void PackRecord(const fb::ChangeRecord& r, ArgvBuilder& args) {
  args.AddUint(r.game_seq());
  args.AddUint(static_cast<std::uint64_t>(r.body_type()));
  args.AddUint(r.ts_ns() / 1'000'000);
  args.Begin();
  AppendEventJson(r, args.arena());
  args.End();
  const auto score = [&](const fb::TeamScore* s) {
    args.AddUint(s ? s->a() : 0);
    args.AddUint(s ? s->b() : 0);
  };
  switch (r.body_type()) {
    case fb::Body::GameCreated: {  // room, target points
      const auto* b = r.body_as_GameCreated();
      args.Add(b->room() ? std::string_view(b->room()->c_str(), b->room()->size())
                         : std::string_view());
      args.AddUint(b->target_points());
      break;
    }
    case fb::Body::PlayerJoined:  // seat, player
      args.AddUint(r.body_as_PlayerJoined()->seat());
      args.AddUint(r.body_as_PlayerJoined()->player_id());
      break;
    case fb::Body::PlayerLeft:  // seat, player
      args.AddUint(r.body_as_PlayerLeft()->seat());
      args.AddUint(r.body_as_PlayerLeft()->player_id());
      break;
    case fb::Body::HakemChosen:  // seat, hand_no
      args.AddUint(r.body_as_HakemChosen()->seat());
      args.AddUint(r.body_as_HakemChosen()->hand_no());
      break;
    case fb::Body::TrumpChosen:  // seat, suit
      args.AddUint(r.body_as_TrumpChosen()->seat());
      args.AddUint(r.body_as_TrumpChosen()->suit());
      break;
    case fb::Body::CardsDealt:  // none
      break;
    case fb::Body::CardPlayed:  // seat, card
      args.AddUint(r.body_as_CardPlayed()->seat());
      args.AddUint(r.body_as_CardPlayed()->card());
      break;
    case fb::Body::TrickWon: {  // winner seat, trick_no, tricks a, b
      const auto* b = r.body_as_TrickWon();
      args.AddUint(b->seat());
      args.AddUint(b->trick_no());
      score(b->tricks());
      break;
    }
    case fb::Body::HandScored:  // points a, b
      score(r.body_as_HandScored()->points());
      break;
    case fb::Body::GameFinished:  // winner team, points a, b
      args.AddUint(r.body_as_GameFinished()->winner_team());
      score(r.body_as_GameFinished()->points());
      break;
    case fb::Body::GameAbandoned:  // points a, b
      score(r.body_as_GameAbandoned()->points());
      break;
    case fb::Body::PlayerConnection: {  // seat, player, connected
      const auto* b = r.body_as_PlayerConnection();
      args.AddUint(b->seat());
      args.AddUint(b->player_id());
      args.AddUint(b->connected() ? 1 : 0);
      break;
    }
    case fb::Body::NONE:
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

  // Per live game: when this sink last had the script refresh its TTLs
  // (wall clock) and its hokm:active score (record time), in whole seconds
  // packed as ttl_s << 32 | active_s: about 40 bytes a game. Cleared on any
  // failed Write, so a refresh that may not have happened is redone, and
  // when it outgrows kMaxTrackedGames (each game then refreshes once more).
  static constexpr std::size_t kMaxTrackedGames = std::size_t{1} << 21;
  std::unordered_map<std::uint64_t, std::uint64_t> touched;

  // Scratch reused by every Write.
  std::vector<std::uint32_t> order;  // indices of the records to send, sorted by game
  std::vector<std::pair<std::uint32_t, std::uint32_t>> calls;  // [begin, end) into order
  ArgvBuilder args;
  std::vector<const char*> argv;
  std::vector<std::size_t> lens;

  struct Counters {
    std::atomic<std::uint64_t> batches{0}, failed_batches{0}, applied{0}, duplicate{0}, rejected{0},
        evalsha{0}, round_trips{0}, script_loads{0}, reconnects{0}, last_us{0}, max_us{0},
        total_us{0};
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
  Status ReplyError(std::string_view text) const {
    std::string msg = "redis at " + url.HostPort() + ": EVALSHA failed: " + std::string(text);
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

  void PlanCalls(std::span<const RecordRef> records) {
    order.clear();
    calls.clear();
    for (std::uint32_t k = 0; k < records.size(); ++k) {
      if (CheckRecord(records[k]) == nullptr) order.push_back(k);
    }
    Add(counters.rejected, records.size() - order.size());
    const auto game = [&](std::uint32_t k) { return records[k].record->game_id(); };
    if (options.grouping != Options::Grouping::kPerRecord) {
      std::stable_sort(order.begin(), order.end(),
                       [&](std::uint32_t x, std::uint32_t y) { return game(x) < game(y); });
    }
    const std::uint32_t max_per_call = std::max<std::uint32_t>(1, options.max_records_per_call);
    std::uint32_t begin = 0;
    for (std::uint32_t k = 1; k <= order.size(); ++k) {
      const bool end =
          k == order.size() || k - begin >= max_per_call ||
          options.grouping == Options::Grouping::kPerRecord ||
          (options.grouping == Options::Grouping::kPerGame && game(order[k]) != game(order[k - 1]));
      if (end) {
        calls.emplace_back(begin, k);
        begin = k;
      }
    }
  }

  // The script's flags for one game's run of records: refresh its TTLs
  // (at most every ttl_refresh_interval) and/or its hokm:active score (at
  // most every active_refresh_interval of record time).
  int Throttle(std::uint64_t game_id, const fb::ChangeRecord& last, bool ends,
               std::uint64_t now_ms) {
    if (ends) {
      touched.erase(game_id);
      return 0;
    }
    if (touched.size() >= kMaxTrackedGames) touched.clear();
    std::uint64_t& packed = touched[game_id];
    auto ttl_s = static_cast<std::uint32_t>(packed >> 32);
    auto active_s = static_cast<std::uint32_t>(packed);
    const auto now_s = static_cast<std::uint32_t>(now_ms / 1000);
    const auto ts_s = static_cast<std::uint32_t>(last.ts_ns() / 1'000'000'000);
    const auto refresh_s = static_cast<std::uint64_t>(options.ttl_refresh_interval.count()) / 1000;
    const auto active_every_s =
        static_cast<std::uint64_t>(options.active_refresh_interval.count()) / 1000;
    int flags = 0;
    if (ttl_s == 0 || std::uint64_t{now_s} >= ttl_s + refresh_s) {
      flags |= 1;
      ttl_s = std::max<std::uint32_t>(now_s, 1);
    }
    if (active_s == 0 || std::uint64_t{ts_s} >= active_s + active_every_s) {
      flags |= 2;
      active_s = std::max<std::uint32_t>(ts_s, 1);
    }
    packed = std::uint64_t{ttl_s} << 32 | active_s;
    return flags;
  }

  // Appends EVALSHA for calls[c] to the pipeline.
  bool AppendCall(std::span<const RecordRef> records, std::size_t c, std::uint64_t now_ms) {
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
    const auto [begin, end] = calls[c];
    for (std::uint32_t k = begin; k < end;) {
      const std::uint64_t game_id = records[order[k]].record->game_id();
      std::uint32_t run_end = k;
      bool ends = false;
      while (run_end < end && records[order[run_end]].record->game_id() == game_id) {
        const fb::Body type = records[order[run_end]].record->body_type();
        ends |= type == fb::Body::GameFinished || type == fb::Body::GameAbandoned;
        ++run_end;
      }
      args.AddUint(game_id);
      args.AddUint(run_end - k);
      args.AddUint(static_cast<std::uint64_t>(
          Throttle(game_id, *records[order[run_end - 1]].record, ends, now_ms)));
      for (; k < run_end; ++k) PackRecord(*records[order[k]].record, args);
    }
    args.Finish(argv, lens);
    return redisAppendCommandArgv(ctx.get(), static_cast<int>(argv.size()), argv.data(),
                                  lens.data()) == REDIS_OK;
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
    if (!s.ok()) touched.clear();
    return s;
  }

  Status WriteAll(std::span<const RecordRef> records) {
    if (Status s = EnsureOpen(); !s.ok()) return s;
    PlanCalls(records);
    const std::uint64_t now_ms = NowMs();
    const std::size_t window = std::max<std::uint32_t>(1, options.max_calls_in_flight);
    int reloads = 0;
    Status first_error;
    std::size_t next = 0;
    while (next < calls.size()) {
      const std::size_t stop = std::min(calls.size(), next + window);
      for (std::size_t c = next; c < stop; ++c) {
        if (!AppendCall(records, c, now_ms)) return Lost("queueing EVALSHA failed");
      }
      Add(counters.evalsha, stop - next);
      Add(counters.round_trips, 1);
      // Every reply of the window is read, errors included, so the
      // connection stays in step with the pipeline.
      std::size_t first_noscript = stop;
      for (std::size_t c = next; c < stop; ++c) {
        void* raw = nullptr;
        if (redisGetReply(ctx.get(), &raw) != REDIS_OK)
          return Lost("reading an EVALSHA reply failed");
        ReplyPtr r(static_cast<redisReply*>(raw));
        if (IsError(r.get())) {
          const std::string_view text = ReplyText(r.get());
          if (text.substr(0, 8) == "NOSCRIPT") {
            first_noscript = std::min(first_noscript, c);
          } else if (first_error.ok()) {
            first_error = ReplyError(text);
          }
          continue;
        }
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
            r->element[0]->type != REDIS_REPLY_INTEGER ||
            r->element[1]->type != REDIS_REPLY_INTEGER) {
          if (first_error.ok())
            first_error =
                Status::Internal("redis at " + url.HostPort() + ": unexpected EVALSHA reply");
          continue;
        }
        Add(counters.applied, static_cast<std::uint64_t>(r->element[0]->integer));
        Add(counters.duplicate, static_cast<std::uint64_t>(r->element[1]->integer));
      }
      if (first_noscript < stop) {
        // The script cache was flushed (restart, SCRIPT FLUSH): load it again
        // and resend from the first refused call; calls after it that did run
        // are skipped by game_seq when resent.
        if (++reloads > 2)
          return Status::Internal("redis at " + url.HostPort() +
                                  ": NOSCRIPT persists after reloading the script");
        if (Status s = LoadScript(); !s.ok()) return s;
        touched.clear();  // the refused calls' refreshes did not happen
        next = first_noscript;
        continue;
      }
      // After a failed call, later calls may hold later records of the same
      // game: sending them would leave a gap the guard then keeps. Stop; the
      // caller retries the whole batch.
      if (!first_error.ok()) return first_error;
      next = stop;
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
