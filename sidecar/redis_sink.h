// redis_sink.h: idempotent, pipelined write-through of change records to
// Redis: the hot state of DESIGN §5.
//
// Keys (the {ID} hash tag keeps one game's keys on one Cluster slot):
//
//   hokm:g:{ID}          hash    phase room target s0..s3 (player per seat, 0 = empty)
//                                hakem trump turn leader t0..t3 (the card each seat
//                                has on the table, '' = none) trick_no tricks_a
//                                tricks_b hand points_a points_b winner seq updated_ms
//                                TTL 4 h, refreshed; 15 min once the game ended
//   hokm:g:{ID}:moves    stream  one entry per record: ID <game_seq>-0 (a reconnecting
//                                client reads on with XRANGE key (<seq> +), field e =
//                                the event JSON; XADD MAXLEN ~ stream_maxlen; TTL as
//                                the hash
//   hokm:g:{ID}:rated    string  set once the game's result reached the leaderboard,
//                                so a replay after the hash expired cannot count it
//                                twice; TTL 7 days
//   hokm:p:{PLAYER}      hash    game seat connected last_seen; TTL 30 min
//   hokm:active          zset    game -> updated_ms of live games; removed at the end
//   hokm:lb:global       zset    player -> rating (sidecar/rating.h)
//   hokm:events:{ID}     pub/sub the event JSON of each applied record
//
// phase: waiting, choosing_trump, playing, finished, abandoned. Times are
// the records' ts in ms. Cards and suits are numbers as in schemas/hokm.fbs.
//
// Two paths, chosen per game for each run of its records in a batch:
//
//  * Direct (the steady state): the sink knows the game's stored game_seq
//    and the records only touch the game's own keys, the joining player's
//    hash and hokm:active (creation, joins, hakem, trump, deals, card
//    plays, tricks, hand scores, abandonment). It pipelines plain
//    commands: one HSET of the fields the run sets (computed here, once per
//    game per batch), then per record XADD with ID <game_seq>-0 and
//    PUBLISH, then the TTLs and hokm:active. A card play costs two
//    commands plus its share of the HSET; no Lua runs. The sink knows a
//    game's stored seq from its own writes, or, for a game it has not
//    written on this connection, from a probe: XREVRANGE of the move
//    stream, COUNT 1, all such games of a batch in one round trip (a new
//    game has none). Records at or below it are dropped as duplicates.
//  * Guarded: the records with effects beyond the game (a player leaving,
//    connection changes, the end with its rating), a game's first TTL
//    refresh after the sink started (it reads the seats back), and every
//    record when direct_path is off. One Lua script, loaded once (SCRIPT
//    LOAD) and called with EVALSHA (reloaded on NOSCRIPT), packs the runs
//    of several games in one call. The move stream is the idempotency
//    guard: XADD with ID <game_seq>-0 fails for a game_seq at or below the
//    stream's last one, so one command both checks and appends; the hash
//    is written only when some record went in. A call that skipped nothing
//    confirms its games.
//
// Either way the records go in at most once: the direct path never sends a
// record the sink does not know to be new, and writes the hash before the
// stream, so a pipeline cut short leaves at worst the stream behind the
// hash, which the guarded replay repairs (it adds the missing entries and
// writes the same fields again). The sink throttles the rest per game:
// TTLs (game, stream, seated players) are refreshed at most every
// ttl_refresh_interval, so a live game's keys outlive its last record by
// at least game_ttl - ttl_refresh_interval; hokm:active is updated at most
// every active_refresh_interval of record time, so its score may lag by
// that much (both with 1 s resolution). Both happen at once when a game
// ends; a record arriving after the end leaves both alone.
//
// Thread safety: none; Write/Ping belong to one thread (the sidecar's
// delivery thread). stats() may be called from any thread.
//
// REQUIRES: SIGPIPE is ignored in the process (hiredis writes with write(2);
// a peer that closed the socket would otherwise kill the process).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "shm/status.h"
#include "sidecar/record_batch.h"
#include "sidecar/url.h"

namespace hokm::sidecar {

struct RedisSinkOptions {
  // How guarded records become EVALSHA calls (all keep each game's records in order):
  //   kPerRecord  one call per record
  //   kPerGame    one call per game per batch (split at max_records_per_call)
  //   kPacked     records sorted by game and packed max_records_per_call to
  //               a call, several games per call (fewest calls; the default,
  //               see sidecar/README.md for the measurements)
  enum class Grouping : std::uint8_t { kPerRecord, kPerGame, kPacked };

  std::chrono::milliseconds connect_timeout{2000};
  std::chrono::milliseconds io_timeout{5000};
  Grouping grouping = Grouping::kPacked;
  std::uint32_t max_records_per_call = 256;
  std::uint32_t max_calls_in_flight = 64;  // EVALSHA per pipeline window (one round trip each)
  std::uint32_t max_commands_in_flight = 4096;  // commands per pipeline window
  bool direct_path = true;  // false: every record takes the guarded path (for comparison)
  std::uint32_t stream_maxlen = 1000;      // a full game is ~1,000 records
  std::chrono::milliseconds game_ttl = std::chrono::hours(4);
  std::chrono::milliseconds finished_game_ttl = std::chrono::minutes(15);
  std::chrono::milliseconds player_ttl = std::chrono::minutes(30);
  std::chrono::milliseconds rated_marker_ttl = std::chrono::hours(24 * 7);
  std::chrono::milliseconds ttl_refresh_interval = std::chrono::minutes(10);
  std::chrono::milliseconds active_refresh_interval = std::chrono::seconds(10);
  bool publish_events = true;
  std::string client_name = "hokm-sidecar";
};

// Counters since Connect; a plain copy for /metrics.
struct RedisSinkStats {
  std::uint64_t batches = 0;            // Write calls that succeeded
  std::uint64_t failed_batches = 0;     // Write calls that returned an error
  std::uint64_t records_applied = 0;    // game_seq above the stored seq
  std::uint64_t records_duplicate = 0;  // at or below the stored seq: skipped
  std::uint64_t records_rejected = 0;   // failed VerifyRecord/CheckRecord: skipped
  std::uint64_t evalsha_calls = 0;
  std::uint64_t direct_commands = 0;  // plain commands of the direct path
  std::uint64_t direct_records = 0;   // records that took the direct path
  std::uint64_t round_trips = 0;  // pipeline windows flushed and drained
  std::uint64_t script_loads = 0;
  std::uint64_t reconnects = 0;
  std::uint64_t last_batch_us = 0;
  std::uint64_t max_batch_us = 0;
  std::uint64_t total_batch_us = 0;
};

class RedisSink {
 public:
  using Options = RedisSinkOptions;

  // Connects (AUTH and SELECT as the URL says) and loads the script.
  // Unavailable when Redis cannot be reached.
  static Result<RedisSink> Connect(const RedisUrl& url, const Options& options = {});

  RedisSink(RedisSink&&) noexcept;
  RedisSink& operator=(RedisSink&&) noexcept;
  ~RedisSink();

  // Applies the records; Ok only once every reply arrived and none was an
  // error. Records failing CheckRecord are skipped (and counted). On
  // Unavailable (connection lost, timeout, Redis out of memory or busy) the
  // connection is dropped when it is the cause, and the next call
  // reconnects; some records may have been applied, which is harmless: a
  // retry skips them by game_seq. After a failed EVALSHA no further calls
  // are sent.
  // REQUIRES: each game's records appear in game_seq order.
  Status Write(std::span<const RecordRef> records);

  // PING; reconnects first when the connection was dropped.
  bool Ping();

  RedisSinkStats stats() const;
  const std::string& script_sha() const;
  const RedisUrl& url() const;

  // The Lua source, for tests and for reading.
  static std::string_view ScriptSource();

 private:
  struct Impl;
  explicit RedisSink(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace hokm::sidecar
