// keys.h: the names of every Redis key and channel hokm writes, in one
// place (the layout is redis_sink.h's; README "Reading the stores").
//
// Every key carries a hash tag ({...}), so a Redis Cluster places it by
// the tag alone: a game's keys share one slot (its stream, read and
// written together), and the two sets that span games, the live games
// and the leaderboard, are split into kGlobalShards keys each, by
// game id and by player id modulo kGlobalShards. A command or script never
// touches keys of two slots (a cluster refuses that with CROSSSLOT);
// a reader of a whole set reads all its shards and merges them.
//
//   hokm:g:{ID}           a game's stream
//   hokm:p:{PLAYER}       a player's hash
//   hokm:active:{S}       live games, S = game id % kGlobalShards
//   hokm:lb:{S}           the leaderboard, S = player id % kGlobalShards
//   hokm:lb:{S}:rated     zset game -> ended ms: the games shard S's
//                         ratings count (trimmed after rated_marker_ttl)
//   hokm:marker:{T}       one per Redis master (redis_sink.h, T = a tag
//                         in a slot the master serves)
//   hokm:events           pub/sub channel (a cluster forwards it to every node)
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/records/text.h"

namespace hokm::sidecar::keys {

inline constexpr std::uint32_t kGlobalShards = 16;
inline constexpr std::string_view kEventsChannel = "hokm:events";

inline std::uint32_t ActiveShardOf(std::uint64_t game_id) {
  return static_cast<std::uint32_t>(game_id % kGlobalShards);
}
inline std::uint32_t LeaderboardShardOf(std::uint64_t player_id) {
  return static_cast<std::uint32_t>(player_id % kGlobalShards);
}

// prefix + "{" + n + "}" + suffix, into out (cleared first).
inline void Tagged(std::string_view prefix, std::uint64_t n, std::string_view suffix,
                   std::string& out) {
  out.assign(prefix);
  out.push_back('{');
  core::AppendUint(n, out);
  out.push_back('}');
  out.append(suffix);
}
inline std::string Tagged(std::string_view prefix, std::uint64_t n, std::string_view suffix = {}) {
  std::string out;
  Tagged(prefix, n, suffix, out);
  return out;
}

inline std::string Game(std::uint64_t game_id) { return Tagged("hokm:g:", game_id); }
inline std::string Player(std::uint64_t player_id) { return Tagged("hokm:p:", player_id); }
inline std::string ActiveShard(std::uint32_t shard) { return Tagged("hokm:active:", shard); }
inline std::string Active(std::uint64_t game_id) { return ActiveShard(ActiveShardOf(game_id)); }
inline std::string LeaderboardShard(std::uint32_t shard) { return Tagged("hokm:lb:", shard); }
inline std::string Leaderboard(std::uint64_t player_id) {
  return LeaderboardShard(LeaderboardShardOf(player_id));
}
inline std::string RatedShard(std::uint32_t shard) { return Tagged("hokm:lb:", shard, ":rated"); }

// Every shard's key of the set, for readers that merge them.
inline std::vector<std::string> ActiveShards() {
  std::vector<std::string> out;
  for (std::uint32_t s = 0; s < kGlobalShards; ++s) out.push_back(ActiveShard(s));
  return out;
}
inline std::vector<std::string> LeaderboardShards() {
  std::vector<std::string> out;
  for (std::uint32_t s = 0; s < kGlobalShards; ++s) out.push_back(LeaderboardShard(s));
  return out;
}

}  // namespace hokm::sidecar::keys
