// redis_plan.cc: records and rebuilt games -> Redis commands (see
// redis_plan.h; the layout is redis_sink.h's).
#include "sidecar/redis/redis_plan.h"

#include <algorithm>

#include "core/records/record_types.h"
#include "sidecar/rating.h"
#include "sidecar/record_json.h"
#include "sidecar/redis/client.h"
#include "sidecar/redis/keys.h"
#include "sidecar/redis/lua_scripts.h"

namespace hokm::sidecar {

namespace fb = hokm::fb;

void RedisPlanner::GameKey(std::uint64_t game_id) { keys::Tagged("hokm:g:", game_id, {}, key_); }
void RedisPlanner::PlayerKey(std::uint64_t player_id) {
  keys::Tagged("hokm:p:", player_id, {}, player_key_);
}

// args_ in RESP into resp_ (resp_command.h), with its key's slot: the
// first argument after the command, an EVAL's first key; PUBLISH has none.
void RedisPlanner::AppendCommand() {
  const auto begin = static_cast<std::uint32_t>(resp_.size());
  args_.AppendResp(resp_);
  const std::string_view cmd = args_.Arg(0);
  std::int32_t slot = -1;
  if (cmd == "EVAL") {
    slot = KeySlot(args_.Arg(3));
  } else if (cmd != "PUBLISH" && args_.size() > 1) {
    slot = KeySlot(args_.Arg(1));
  }
  commands_.push_back({begin, static_cast<std::uint32_t>(resp_.size()), slot});
}

// Queues the command in args_, with what its reply means.
void RedisPlanner::Append(ReplyKind kind, std::uint64_t game_id, std::uint32_t records) {
  AppendCommand();
  expected_.push_back({kind, game_id, records});
}

// TTLs at most every ttl_refresh_interval of wall clock, hokm:active at
// most every active_refresh_interval of record time: bit 1 and bit 2.
int RedisPlanner::Throttle(GameMemo& memo, std::uint64_t ts_ns, std::uint64_t now_ms) const {
  const auto now_s = static_cast<std::uint32_t>(now_ms / 1000);
  const auto ts_s = static_cast<std::uint32_t>(ts_ns / 1'000'000'000);
  const auto refresh_s = static_cast<std::uint64_t>(options_.ttl_refresh_interval.count()) / 1000;
  const auto active_every_s =
      static_cast<std::uint64_t>(options_.active_refresh_interval.count()) / 1000;
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

void RedisPlanner::Expire(const std::string& k, std::chrono::milliseconds ttl,
                          std::uint64_t game_id) {
  args_.Clear();
  args_.Add("PEXPIRE");
  args_.Add(k);
  args_.AddUint(static_cast<std::uint64_t>(ttl.count()));
  Append(ReplyKind::kPlain, game_id);
}

// Starts an EVAL of script on keys in args; the caller adds ARGV and
// appends the command.
void RedisPlanner::BeginEval(std::string_view script,
                             std::initializer_list<std::string_view> keys) {
  args_.Clear();
  args_.Add("EVAL");
  args_.Add(script);
  args_.AddUint(keys.size());
  for (std::string_view k : keys) args_.Add(k);
  ++scripts_;
}

// Starts HSET hokm:p:{player} game <game> seat <seat> in args; the
// caller adds other fields and appends it.
void RedisPlanner::BeginPlayerHash(std::uint64_t player, std::uint64_t game_id,
                                   std::uint64_t seat) {
  PlayerKey(player);
  args_.Clear();
  args_.Add("HSET");
  args_.Add(player_key_);
  args_.Add("game");
  args_.AddUint(game_id);
  args_.Add("seat");
  args_.AddUint(seat);
}

void RedisPlanner::AppendPlayerEffects(const fb::ChangeRecord& r) {
  const std::uint64_t g = r.game_id();
  const std::uint64_t ts_ms = r.ts_ns() / 1'000'000;
  const auto player_hash = [&](std::uint64_t player, std::uint8_t seat, bool connected) {
    BeginPlayerHash(player, g, seat);
    args_.Add("connected");
    args_.Add(connected ? "1" : "0");
    args_.Add("last_seen");
    args_.AddUint(ts_ms);
    Append(ReplyKind::kPlain, g);
    Expire(player_key_, options_.player_ttl, g);
  };
  (void)core::VisitRecord(
      r, core::Overloaded{
             [&](const fb::PlayerJoined& b) { player_hash(b.player_id(), b.seat(), true); },
             [&](const fb::PlayerConnection& b) {
               player_hash(b.player_id(), b.seat(), b.connected());
             },
             [&](const fb::PlayerLeft& b) {
               PlayerKey(b.player_id());
               BeginEval(kLeaveGameScript, {player_key_});
               args_.AddUint(g);
               args_.AddUint(ts_ms);
               args_.AddUint(static_cast<std::uint64_t>(options_.player_ttl.count()));
               Append(ReplyKind::kPlain, g);
             },
             [](const auto&) {},
         });
}

// A finished game's rating (sidecar/rating.h), once: one EVAL per
// leaderboard shard its seated players fall in (keys.h).
void RedisPlanner::AppendRating(const fb::ChangeRecord& r, const PublicState& after) {
  const auto* finished = r.body_as_GameFinished();
  if (finished == nullptr) return;
  const std::uint64_t ended_ms = r.ts_ns() / 1'000'000;
  std::uint32_t done = 0;  // shards rated, a bit each
  for (std::size_t seat = 0; seat < after.seats.size(); ++seat) {
    const std::uint64_t p = after.seats[seat];
    if (p == 0) continue;
    const std::uint32_t shard = keys::LeaderboardShardOf(p);
    if ((done & (1u << shard)) != 0) continue;
    done |= 1u << shard;
    keys::Tagged("hokm:lb:", shard, ":rated", set_key_);
    keys::Tagged("hokm:lb:", shard, {}, key_);
    BeginEval(kRateGameScript, {set_key_, key_});
    args_.AddUint(r.game_id());
    args_.AddUint(ended_ms);
    args_.AddUint(static_cast<std::uint64_t>(options_.rated_marker_ttl.count()));
    args_.AddUint(static_cast<std::uint64_t>(kRatingBase));
    for (std::size_t s = seat; s < after.seats.size(); ++s) {
      const std::uint64_t q = after.seats[s];
      if (q == 0 || keys::LeaderboardShardOf(q) != shard) continue;
      args_.AddUint(q);
      const bool won = static_cast<int>(s % 2) == static_cast<int>(finished->winner_team());
      args_.Add(won ? std::to_string(kRatingStep) : std::to_string(-kRatingStep));
    }
    Append(ReplyKind::kPlain, r.game_id());
  }
}

// ZADD hokm:active updated_ms game.
void RedisPlanner::AppendActive(std::uint64_t game_id, std::uint64_t updated_ms) {
  args_.Clear();
  args_.Add("ZADD");
  keys::Tagged("hokm:active:", keys::ActiveShardOf(game_id), {}, set_key_);
  args_.Add(set_key_);
  args_.AddUint(updated_ms);
  args_.AddUint(game_id);
  Append(ReplyKind::kPlain, game_id);
}

// Starts the game's XADD in args_: key_, trimming, ID <seq>-0 and the
// `state` field; the caller adds the other fields and appends it.
void RedisPlanner::BeginXadd(std::uint64_t game_id, std::uint64_t seq, const PublicState& state) {
  GameKey(game_id);
  state_json_.clear();
  state.AppendJson(state_json_);
  args_.Clear();
  args_.Add("XADD");
  args_.Add(key_);
  args_.Add("MAXLEN");
  args_.Add("~");
  args_.AddUint(options_.stream_maxlen);
  args_.Begin();
  AppendUint(seq, args_.arena());
  args_.arena().append("-0");
  args_.End();
  args_.Add("state");
  args_.Add(state_json_);
}

void RedisPlanner::AppendGame(std::span<const RecordRef> records,
                              std::span<const std::uint32_t> run, GameMemo& memo,
                              std::uint64_t now_ms) {
  const fb::ChangeRecord& last = *records[run.back()].record;
  const std::uint64_t g = last.game_id();
  events_json_.assign("[");
  for (std::size_t k = 0; k < run.size(); ++k) {
    const fb::ChangeRecord& r = *records[run[k]].record;
    memo.state.Apply(r);
    AppendRating(r, memo.state);
    if (k != 0) events_json_.push_back(',');
    AppendPublicEventJson(r, events_json_);
  }
  events_json_.push_back(']');
  const bool ended = memo.state.Ended();
  const int flags = ended ? 1 : Throttle(memo, last.ts_ns(), now_ms);
  if (ended) {
    args_.Clear();
    args_.Add("ZREM");
    keys::Tagged("hokm:active:", keys::ActiveShardOf(g), {}, set_key_);
    args_.Add(set_key_);
    args_.AddUint(g);
    Append(ReplyKind::kPlain, g);
  } else if ((flags & 2) != 0) {
    AppendActive(g, memo.state.updated_ms);
  }
  BeginXadd(g, last.game_seq(), memo.state);
  args_.Add("events");
  args_.Add(events_json_);
  Append(ReplyKind::kXadd, g, static_cast<std::uint32_t>(run.size()));
  ++entries_;
  if ((flags & 1) != 0) {
    Expire(key_, ended ? options_.finished_game_ttl : options_.game_ttl, g);
    if (!ended) {
      for (std::uint64_t p : memo.state.seats) {
        if (p == 0) continue;
        PlayerKey(p);
        Expire(player_key_, options_.player_ttl, g);
      }
    }
  }
  if (options_.publish_events) {
    published_.append(published_.empty() ? "{\"games\":[[" : ",[");
    AppendUint(g, published_);
    published_.push_back(',');
    AppendUint(last.game_seq(), published_);
    published_.push_back(']');
  }
}

void RedisPlanner::AppendProbe(std::uint64_t game_id) {
  GameKey(game_id);
  args_.Clear();
  for (std::string_view a :
       {std::string_view("XREVRANGE"), std::string_view(key_), std::string_view("+"),
        std::string_view("-"), std::string_view("COUNT"), std::string_view("1")})
    args_.Add(a);
  AppendCommand();
}

void RedisPlanner::AppendEvents() {
  if (published_.empty()) return;
  published_.append("]}");
  args_.Clear();
  args_.Add("PUBLISH");
  args_.Add(keys::kEventsChannel);
  args_.Add(published_);
  Append(ReplyKind::kPlain, 0);
}

bool RedisPlanner::AppendRestored(RebuiltGame& rg, std::uint64_t now_ms) {
  const std::uint64_t g = rg.game_id;
  const bool ended = rg.state.Ended();
  const auto finished_ttl_ms = static_cast<std::uint64_t>(options_.finished_game_ttl.count());
  std::uint64_t ttl_ms = static_cast<std::uint64_t>(options_.game_ttl.count());
  if (ended) {
    // What is left of its TTL since it ended (a live game that ended
    // just now gets all of it).
    const std::uint64_t since = rg.ended_ms == 0 || now_ms < rg.ended_ms ? 0 : now_ms - rg.ended_ms;
    if (since >= finished_ttl_ms) return false;
    ttl_ms = finished_ttl_ms - since;
  }
  rg.state.updated_ms = ended && rg.ended_ms != 0 ? rg.ended_ms : now_ms;
  if (!ended) {
    AppendActive(g, rg.state.updated_ms);
    for (std::size_t seat = 0; seat < rg.state.seats.size(); ++seat) {
      const std::uint64_t p = rg.state.seats[seat];
      if (p == 0) continue;
      BeginPlayerHash(p, g, seat);
      Append(ReplyKind::kPlain, g);
      Expire(player_key_, options_.player_ttl, g);
    }
  } else if (rg.state.phase == PublicState::Phase::kFinished) {
    // PostgreSQL's ratings (the rebuild's) count it: in each shard of its
    // players, the game joins the rated set.
    for (std::uint64_t p : rg.state.seats) {
      if (p == 0) continue;
      args_.Clear();
      args_.Add("ZADD");
      keys::Tagged("hokm:lb:", keys::LeaderboardShardOf(p), ":rated", set_key_);
      args_.Add(set_key_);
      args_.Add("NX");
      args_.AddUint(rg.state.updated_ms);
      args_.AddUint(g);
      Append(ReplyKind::kPlain, g);
    }
  }
  BeginXadd(g, rg.state.seq, rg.state);
  args_.Add("events");
  args_.Add("[]");
  args_.Add("restored");
  args_.Add("1");
  Append(ReplyKind::kRestore, g);
  args_.Clear();
  args_.Add("PEXPIRE");
  args_.Add(key_);
  args_.AddUint(ttl_ms);
  Append(ReplyKind::kPlain, g);
  return true;
}

void RedisPlanner::AppendRatings(std::span<const PlayerRating> ratings) {
  for (std::uint32_t shard = 0; shard < keys::kGlobalShards; ++shard) {
    args_.Clear();
    args_.Add("ZADD");
    keys::Tagged("hokm:lb:", shard, {}, set_key_);
    args_.Add(set_key_);
    for (const PlayerRating& r : ratings) {
      if (keys::LeaderboardShardOf(r.player_id) != shard) continue;
      args_.Add(std::to_string(r.rating));
      args_.AddUint(r.player_id);
    }
    if (args_.size() > 2) Append(ReplyKind::kPlain, 0);
  }
}

void RedisPlanner::AppendMarker(std::uint16_t slot, bool set, std::string_view value) {
  set_key_.assign("hokm:marker:{");
  set_key_.append(SlotTag(slot));
  set_key_.push_back('}');
  args_.Clear();
  args_.Add(set ? "SET" : "EXISTS");
  args_.Add(set_key_);
  if (set) args_.Add(value);
  Append(ReplyKind::kPlain, 0);
}

}  // namespace hokm::sidecar
