// redis_sink.h: idempotent, pipelined write-through of change records to
// Redis: the hot state of docs/DESIGN.md §5.
//
// The unit of delivery is the command (docs/DESIGN.md §5): a command's records
// reach Redis together, and a game's commands in one delivery batch go in
// as ONE stream entry. Keys (sidecar/redis/keys.h; every key has a hash tag,
// and no command or script touches two slots, so a Redis Cluster takes them:
// client.h routes each command to its slot's master):
//
//   hokm:g:{ID}          stream  the game: one entry per game per batch, ID <last seq>-0,
//                                fields `state` (the public state after the entry, JSON,
//                                sidecar/public_state.h) and `events` (a JSON array of the
//                                entry's records, {"seq":..,"type":"..",fields}; a CardsDealt
//                                gives its count, not its cards). XADD MAXLEN ~ stream_maxlen.
//                                TTL 4 h, refreshed; 15 min once the game ended.
//   hokm:p:{PLAYER}      hash    game seat connected last_seen; TTL 30 min
//   hokm:active:{S}      zset    game -> updated_ms of live games, S = game % 16;
//                                removed at the end
//   hokm:lb:{S}          zset    player -> rating (sidecar/rating.h), S = player % 16
//   hokm:lb:{S}:rated    zset    game -> ended ms: the games whose result reached shard S,
//                                so a replay cannot count one twice (one EVAL per shard
//                                of the game's players, lua/rate_game.lua); trimmed after 7 days
//   hokm:marker:{T}      string  one per master (T: a tag of a slot it serves); see below
//   hokm:events          pub/sub one message per batch naming the games it changed:
//                                {"games":[[ID,last_seq],...]}
//
// What readers do (README "Reading the stores"):
//   current state      XREVRANGE hokm:g:{ID} + - COUNT 1        (the `state` field)
//   events after seq N XRANGE hokm:g:{ID} N+1 +                 (entries whose last seq > N;
//                                                                skip events with seq <= N)
//   each change        XREAD BLOCK 0 STREAMS hokm:g:{ID} $ (one game), or SUBSCRIBE
//                      hokm:events (every game, one message per batch)
//
// Why one stream and no hash: a card play is one command, so one XADD per
// game per batch is all a card play costs (the hash, the per-record XADD
// and the per-record PUBLISH of the former layout were several commands
// per card play; bench/README.md has the figures of both).
//
// Idempotency: the entry ID is the last game_seq it holds, and XADD refuses
// an ID at or below the stream's top, so a game's stream never goes
// backwards and one command both checks and appends. The sink also knows
// the stored seq of every game it writes (from its own writes, or for a
// game it has not written on this connection, from one probe: XREVRANGE
// ... COUNT 1, all such games of a batch in one round trip; the probe
// also gives it the stored state the next entry builds on) and does not
// send records at or below it. A game's side effects (its players'
// hashes, the leaderboard, hokm:active) are sent before its XADD in the
// same pipeline: a pipeline cut short is redone whole by the next Write,
// and those effects are idempotent.
//
// Losing Redis (issue 12): Redis that comes back empty (restarted without
// persistence, flushed, failed over to an empty replica) would leave every
// live game's stream to start mid-game, without room, target or seats. The
// sink keeps a marker key on every master, hokm:marker:{T}, and checks them on every connect and
// at least every marker_check_interval; it also checks it at once when a
// probe finds no stream for a game whose records do not start at seq 1. A
// missing marker means Redis lost data: the sink rewrites every live game
// from Options::rebuild_source (the engine's game table, read without
// pausing the engine) before it writes anything else, then sets the marker (unless
// it is the sink's first check and Options::records_from_the_start: a new
// Redis under a new segment gets every record from seq 1). Each
// live game gets one stream entry, ID <seq>-0, whose `state` is the
// engine's and whose `events` is [] with a field `restored` = 1: the
// events before it are not in Redis any more (PostgreSQL has them,
// game_moves). Its seated players' hashes (game, seat) and hokm:active
// come back too. Records at or below the restored seq that arrive later
// are skipped as stored. A marker that is there while a game's stream is
// not (its key expired, or was deleted) costs that game the same repair,
// alone; so does a stream whose top is below the batch's first record
// minus one (records a master acknowledged but never passed to the replica
// that took over from it). A cluster whose masters changed since the
// sink's last connect (a failover) gets the whole rebuild at once, for
// the games such a loss cut short that the sink will not see again. From PostgreSQL come the games
// that ended within finished_game_ttl, the latest 2,000 (a restore entry with their final state,
// the TTL they had left, and for finished ones the rated marker; older ones are read from
// PostgreSQL: game_sessions, game_moves) and hokm:lb:{S} (players.rating); ratings of games that
// ended within PostgreSQL's sync lag before the loss are missing from it until PostgreSQL has them
// and the next rebuild.
//
// TTLs (the game's stream and its seated players) are refreshed at most
// every ttl_refresh_interval of wall clock, so a live game's keys outlive
// its last record by at least game_ttl - ttl_refresh_interval; hokm:active
// is updated at most every active_refresh_interval of record time. Both
// happen at once when a game ends.
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
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "shm/status.h"
#include "sidecar/public_state.h"
#include "sidecar/record_batch.h"
#include "sidecar/sink_stats.h"
#include "sidecar/url.h"

namespace hokm::sidecar {

// A game as the rebuild after a loss writes it.
struct RebuiltGame {
  std::uint64_t game_id = 0;
  PublicState state;           // updated_ms: 0 (the sink stamps the time it writes it)
  std::uint64_t ended_ms = 0;  // games that ended: when (wall clock)
};
struct PlayerRating {
  std::uint64_t player_id = 0;
  std::int64_t rating = 0;
};

// Where the rebuild reads what Redis lost (sidecar/rebuild_source.h: the
// segment's game table and PostgreSQL).
class RebuildSource {
 public:
  virtual ~RebuildSource() = default;
  // Appends every live game now, each one a consistent snapshot.
  virtual void LiveGames(std::vector<RebuiltGame>& out) const = 0;
  // The game if it is live now.
  virtual std::optional<PublicState> FindLive(std::uint64_t game_id) const = 0;
  // Appends the games that ended within `within` (final state, ended_ms),
  // or only the game `only` if it did. Unavailable when they cannot be
  // read: the rebuild goes on without them.
  virtual Status EndedGames(std::chrono::milliseconds within, std::optional<std::uint64_t> only,
                            std::vector<RebuiltGame>& out) const = 0;
  virtual Status Ratings(std::vector<PlayerRating>& out) const = 0;
};

struct RedisSinkOptions {
  std::chrono::milliseconds connect_timeout{2000};
  std::chrono::milliseconds io_timeout{5000};
  std::uint32_t max_commands_in_flight = 4096;  // commands per pipeline window
  std::uint32_t stream_maxlen = 1000;           // entries; a whole game is ~600 commands
  std::chrono::milliseconds game_ttl = std::chrono::hours(4);
  std::chrono::milliseconds finished_game_ttl = std::chrono::minutes(15);
  std::chrono::milliseconds player_ttl = std::chrono::minutes(30);
  std::chrono::milliseconds rated_marker_ttl = std::chrono::hours(24 * 7);
  std::chrono::milliseconds ttl_refresh_interval = std::chrono::minutes(10);
  std::chrono::milliseconds active_refresh_interval = std::chrono::seconds(10);
  bool publish_events = true;  // the per-batch message on hokm:events
  // Rebuild after a loss (above); null: a lost Redis is counted, not rebuilt.
  std::shared_ptr<const RebuildSource> rebuild_source;
  // Every record of every live game is still ahead of this sink (nothing
  // was ever committed out of the change rings): a marker missing at the
  // first check is a new Redis, not a loss, and is only set.
  bool records_from_the_start = false;
  std::chrono::milliseconds marker_check_interval{1000};
  // false: this sink neither checks nor sets hokm:marker (a tool's sink,
  // hokmctl's: the sidecar's sink owns finding out that Redis lost data;
  // a tool setting the marker without a rebuild would hide the loss).
  bool check_marker = true;
  std::string client_name = "hokm-sidecar";
};

// What RedisSink::Rebuild wrote.
struct RebuildCounts {
  std::uint64_t live_games = 0;   // from RebuildSource::LiveGames / FindLive
  std::uint64_t ended_games = 0;  // ended within finished_game_ttl (EndedGames)
  std::uint64_t players = 0;      // leaderboard entries (Ratings)
  bool ended_read = true;         // false: EndedGames or Ratings failed (the source says why)
};

// Counters since Connect; a plain copy for /metrics. batches and
// failed_batches count Write calls; round_trips the pipeline windows
// flushed and drained.
struct RedisSinkStats : SinkStats {
  std::uint64_t records_applied = 0;    // game_seq above the stored seq
  std::uint64_t records_duplicate = 0;  // at or below the stored seq: skipped
  std::uint64_t records_rejected = 0;   // failed VerifyRecord/CheckRecord: skipped
  std::uint64_t entries = 0;            // stream entries added (XADD)
  std::uint64_t commands = 0;           // every command sent, probes and XADDs included
  std::uint64_t scripts = 0;            // EVALs (a player leaving, a game's rating)
  std::uint64_t probes = 0;             // games whose stored seq was read back
  std::uint64_t rebuilds = 0;         // marker missing (a loss, or a new Redis) or masters changed
  std::uint64_t rebuilt_games = 0;    // games rewritten: after a loss, or alone (see above)
  std::uint64_t last_rebuild_us = 0;  // the last rebuild of every game
};

class RedisSink {
 public:
  using Options = RedisSinkOptions;

  // Connects (AUTH and SELECT as the URL says). Unavailable when Redis
  // cannot be reached.
  static Result<RedisSink> Connect(const RedisUrl& url, const Options& options = {});

  RedisSink(RedisSink&&) noexcept;
  RedisSink& operator=(RedisSink&&) noexcept;
  ~RedisSink();

  // Applies the records; Ok only once every reply arrived and none was an
  // error. Records failing CheckRecord are skipped (and counted). On
  // Unavailable (connection lost, timeout, Redis out of memory or busy) the
  // connection is dropped when it is the cause, and the next call
  // reconnects; some records may have been applied, which is harmless: a
  // retry skips them by game_seq. After a failed window no further window
  // is sent.
  // REQUIRES: each game's records appear in game_seq order.
  Status Write(std::span<const RecordRef> records);

  // Rewrites now, from Options::rebuild_source, what the rebuild after a
  // loss rewrites (above): every live game, the games that ended within
  // finished_game_ttl and the leaderboard, then sets hokm:marker when
  // set_marker. With `game`: that game alone, live, else ended within
  // finished_game_ttl; no leaderboard, no marker. A stream already at or
  // past the state written keeps what it has (XADD refuses the entry).
  // hokmctl rebuild-redis runs it; the sink runs the same code by itself
  // when it finds the marker missing. InvalidArgument without a source.
  Result<RebuildCounts> Rebuild(std::optional<std::uint64_t> game, bool set_marker);

  // PING; reconnects first when the connection was dropped.
  bool Ping();

  RedisSinkStats stats() const;
  const RedisUrl& url() const;

 private:
  struct Impl;
  explicit RedisSink(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace hokm::sidecar
