// redis_plan.h: the Redis sink's planning: which Redis commands records
// (and a rebuild) become, in RESP, and what each command's reply means.
// No I/O: RedisSink (redis_sink.cc) sends the window it plans and reads
// the replies. The layout of keys and entries is redis_sink.h's.
//
// Thread safety: none; one planner per sink.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "hokm_generated.h"
#include "sidecar/public_state.h"
#include "sidecar/record_batch.h"
#include "sidecar/redis/redis_sink.h"
#include "sidecar/redis/resp_command.h"
#include "sidecar/sink_stats.h"

namespace hokm::sidecar {

// What the sink knows of a live game it writes: its stored state (seq
// included), learned from its own writes or one probe. About 100 bytes.
struct GameMemo {
  bool known = false;
  bool probing = false;  // in this Write's probe
  PublicState state;
  std::uint32_t ttl_s = 0;     // wall clock of the last TTL refresh, whole seconds
  std::uint32_t active_s = 0;  // record time of the last hokm:active update
};

// What the reply of a planned command means.
enum class ReplyKind : std::uint8_t {
  kXadd,     // a game's entry: refused when stored already
  kRestore,  // a rebuilt game's entry: refused when the stream has it since
  kPlain,    // anything else: an error is an error
};
struct ExpectedReply {
  ReplyKind kind;
  std::uint64_t game_id;
  std::uint32_t records;  // kXadd: records in the entry
};
// Where a planned command's RESP lies in resp(), and the cluster slot of
// its key (-1: none, any node takes it).
struct PlannedCommand {
  std::uint32_t begin;
  std::uint32_t end;
  std::int32_t slot;
};

class RedisPlanner {
 public:
  // entries and scripts count the XADDs of records and the EVALs planned.
  // REQUIRES: options, entries and scripts outlive the planner.
  RedisPlanner(const RedisSinkOptions& options, std::uint64_t& entries, std::uint64_t& scripts)
      : options_(options), entries_(entries), scripts_(scripts) {}

  // The window: the commands planned since Clear, in RESP, and what their
  // replies mean (probes have no ExpectedReply: Probe reads their replies).
  const std::string& resp() const { return resp_; }
  const std::vector<ExpectedReply>& expected() const { return expected_; }
  // Every command planned, probes included, in order.
  const std::vector<PlannedCommand>& commands() const { return commands_; }
  std::size_t size() const { return expected_.size(); }
  void Clear() {
    resp_.clear();
    expected_.clear();
    commands_.clear();
  }

  // XREVRANGE hokm:g:{ID} + - COUNT 1: the stored seq and state.
  void AppendProbe(std::uint64_t game_id);

  // A record's effect on its player's hash (joins, leaves, connection
  // changes). Planned in ring order, before the games' XADDs
  // (redis_sink.h): a player in several games ends with the game of his
  // latest record.
  void AppendPlayerEffects(const hokm::fb::ChangeRecord& r);

  // One game's records run (above the stored seq, in seq order): its
  // rating, hokm:active, the XADD, the TTLs; memo follows. The game joins
  // the batch's hokm:events message.
  void AppendGame(std::span<const RecordRef> records, std::span<const std::uint32_t> run,
                  GameMemo& memo, std::uint64_t now_ms);

  // The batch's hokm:events message: started empty by ClearEvents,
  // planned (PUBLISH) by AppendEvents when any game joined it.
  void ClearEvents() { published_.clear(); }
  void AppendEvents();

  // A game as the rebuild after a loss writes it (redis_sink.h): a live
  // one's hokm:active and seated players, a finished one's rated marker,
  // the restore entry and its TTL. Sets game.state.updated_ms. False, and
  // nothing planned, when an ended game's TTL ran out.
  bool AppendRestored(RebuiltGame& game, std::uint64_t now_ms);
  // ZADD of ratings into their leaderboard shards (keys.h).
  void AppendRatings(std::span<const PlayerRating> ratings);
  // SET hokm:marker:{tag} (set) or EXISTS (not set) for the master that
  // serves `slot` (client.h MasterSlots).
  void AppendMarker(std::uint16_t slot, bool set, std::string_view value);

 private:
  void GameKey(std::uint64_t game_id);
  void PlayerKey(std::uint64_t player_id);
  void Append(ReplyKind kind, std::uint64_t game_id, std::uint32_t records = 0);
  void AppendCommand();  // args_ into resp_ and commands_
  int Throttle(GameMemo& memo, std::uint64_t ts_ns, std::uint64_t now_ms) const;
  void Expire(const std::string& k, std::chrono::milliseconds ttl, std::uint64_t game_id);
  void BeginEval(std::string_view script, std::initializer_list<std::string_view> keys);
  void BeginPlayerHash(std::uint64_t player, std::uint64_t game_id, std::uint64_t seat);
  void AppendRating(const hokm::fb::ChangeRecord& r, const PublicState& after);
  void AppendActive(std::uint64_t game_id, std::uint64_t updated_ms);
  void BeginXadd(std::uint64_t game_id, std::uint64_t seq, const PublicState& state);

  const RedisSinkOptions& options_;
  std::uint64_t& entries_;
  std::uint64_t& scripts_;
  RespCommand args_;
  std::string key_, player_key_, set_key_, state_json_, events_json_, published_;
  std::string resp_;
  std::vector<ExpectedReply> expected_;
  std::vector<PlannedCommand> commands_;
  std::vector<std::pair<std::uint64_t, std::int64_t>> shard_players_;  // scratch
};

}  // namespace hokm::sidecar
