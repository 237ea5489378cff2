// engine.h: hokm::Engine, the game engine over the shared-memory segment.
//
// Every active game lives in a slot of the segment's game table. A shard is
// a set of slots with exactly one writer thread at a time: Apply() runs the
// rules on a game, publishes the change records of an accepted command on
// the shard's change ring (one ring record per command, stamped ts_ns), then
// publishes the new state through the slot's sequence lock.
//
// Embedding: a frontend opens the Engine and calls Apply from the thread
// that owns the shard. hokm-engine does the same for commands that other
// processes send through the segment's command rings (Serve).
//
// Thread safety: Apply(shard, ...) and ServeOnce(shard) must only be called
// by shard's owner thread; different shards may run in parallel. Snapshot,
// PlayerView and reading the counters may be done from any thread.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <flatbuffers/flatbuffers.h>

#include "core/command_wire.h"
#include "core/player_view.h"
#include "core/records/change.h"
#include "core/rules/command.h"
#include "core/rules/game_state.h"
#include "shm/command_channel.h"
#include "shm/segment.h"
#include "shm/status.h"

namespace hokm {

struct EngineOptions {
  std::string shm_name = shm::kDefaultSegmentName;
  std::uint32_t capacity = shm::GameTable::kDefaultCapacity;  // games
  std::uint32_t shards = 1;
  std::uint64_t ring_bytes = std::uint64_t{64} << 20;  // change ring per shard, power of two
  std::uint64_t command_ring_bytes = std::uint64_t{1} << 20;
  std::uint32_t client_slots = 64;
  // The node id in every game id (0..shm::kMaxNodeId, shm/game_id.h): each
  // engine host that shares the stores with others needs its own. A
  // re-attached segment must have been created with the same one.
  std::uint32_t node_id = 0;
  // Re-attach to an existing segment of the same layout (engine restart).
  bool reuse_existing = true;
  // Turn deadlines: the turn_timeout_ms of a game whose create command
  // leaves it 0 (0: no deadline). See "Turn deadlines" below.
  std::uint32_t default_turn_timeout_ms = 0;
  // The clock of turn deadlines, ns; empty: CLOCK_MONOTONIC
  // (shm::MonotonicNowNs). Tests inject their own and move it by hand.
  std::function<std::uint64_t()> monotonic_ns;
};

// What one command did.
struct ApplyOutcome {
  core::CommandResult result = core::CommandResult::kOk;
  std::uint64_t game_id = 0;                // the game (a new one for kCreateGame)
  std::uint32_t game_seq = 0;               // last record's game_seq after the command
  std::uint8_t records = 0;                 // change records published
  core::Phase phase = core::Phase::kEmpty;  // the game's phase afterwards
};

// What Engine::RestoreGame did with one game.
enum class RestoreResult : std::uint8_t {
  kRestored = 0,
  kNoRecords,       // nothing to replay
  kReplayDiffers,   // the rules do not reproduce the stored records exactly
  kEnded,           // the records end the game (finished or abandoned): nothing to restore
  kSlotOutOfRange,  // the id's slot is not below this segment's capacity
  kSlotTaken,       // another game holds the id's slot
};
const char* RestoreResultName(RestoreResult result);

struct RestoreOutcome {
  RestoreResult result = RestoreResult::kRestored;
  std::uint32_t game_seq = 0;  // the restored game's last seq (the next record is +1)
  std::string why;             // kReplayDiffers: the first difference, as text
};

// The words of a shard's engine counter line in the segment
// (shm/counters.h): written by the shard's thread, read by anyone, kept
// with the games (they count since the segment was created, across engine
// restarts). hokm-engine's /metrics and `hokmctl status` read them.
struct EngineCounter {
  enum : std::size_t {
    kCommands,
    kAccepted,
    kRejected,  // rule errors and unknown games
    kBusy,      // change ring full
    kRecords,   // change records published
    kGamesCreated,
    kGamesEnded,
    kTurnTimeouts,  // moves the engine made for a seat whose deadline passed
    kCount,
  };
  std::size_t word;
  const char* name;  // hokm_engine_<name>_total, hokmctl's key
};
inline constexpr EngineCounter kEngineCounters[] = {
    {EngineCounter::kCommands, "commands"},      {EngineCounter::kAccepted, "accepted"},
    {EngineCounter::kRejected, "rejected"},      {EngineCounter::kBusy, "busy"},
    {EngineCounter::kRecords, "records"},        {EngineCounter::kGamesCreated, "games_created"},
    {EngineCounter::kGamesEnded, "games_ended"}, {EngineCounter::kTurnTimeouts, "turn_timeouts"},
};
static_assert(EngineCounter::kCount <= shm::CounterLine::kWords);

static_assert(shm::SlotState<core::GameState>, "a game state must fit a table slot");

class Engine {
 public:
  // Creates the segment, or re-attaches to one of the same layout, and
  // claims it as its engine (fails if another live engine holds it).
  static Result<std::unique_ptr<Engine>> Open(const EngineOptions& options);
  ~Engine();  // releases the engine claim; the segment stays
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Applies one command to its game. kCreateGame makes a game in `shard`;
  // every other command goes to the game's own shard, which must be `shard`
  // (else kInvalidCommand), as does a command whose bools hold neither 0
  // nor 1 (bytes from the command ring). On any result but kOk nothing changed and
  // nothing was published; kBusy means the change ring is full: retry later.
  // A game's slot is freed when it finishes or is abandoned (its final state
  // is in its records).
  // REQUIRES: the calling thread owns `shard` (< shards()).
  ApplyOutcome Apply(std::uint32_t shard, const core::Command& cmd);

  // Restore after a lost segment (docs/DESIGN.md §6, "machine lost"):
  // replays `records`, every stored record of game `game_id` in seq order
  // (from PostgreSQL: sidecar/engine_restore.h), through the rules; if the
  // replay reproduces every stored record exactly and the game has not
  // ended, puts the rebuilt state in the game's own slot (the id names it:
  // shm/game_table.h) under its own id, so the game's next record is
  // game_seq + 1 and new games get ids above it. Otherwise nothing changes.
  // REQUIRES: no shard serves or applies commands yet; every record's
  // game_id is `game_id`. Call FinishRestore after the last game.
  RestoreOutcome RestoreGame(std::uint64_t game_id, std::span<const core::Change> records);
  // Makes the slots no restored game took allocatable again and arms the
  // restored games' turn deadlines (a full timeout each, as after a
  // restart). REQUIRES: as RestoreGame; before the first Apply or ServeOnce.
  void FinishRestore();

  // Serves the shard's command ring:  // Serves the shard's command ring: applies up to
  // max_commands queued commands from other processes and answers each on its client's response
  // ring. Returns how many it handled. REQUIRES: as Apply.
  std::size_t ServeOnce(std::uint32_t shard, std::size_t max_commands = 256);
  // Turn deadlines. A game created with turn_timeout_ms T > 0 gives each
  // turn (a card to play, or trump to name) T ms from the moment it begins:
  // when it passes, the engine plays core::TimeoutCommand for that seat
  // (the lowest legal card, or the hakem's strongest suit) exactly as a
  // client's command, and the move's record carries on_timeout. A move in
  // time starts the next turn's clock; a command that does not change whose
  // turn it is (a reconnect) leaves it running. Deadlines live in a
  // per-shard heap in this process (core/deadline_heap.h), not in the
  // segment: a restarted engine gives every pending turn a fresh T.
  //
  // ExpireDeadlines plays every move of the shard whose deadline is at or
  // before the clock's now and returns how many; with none due it reads
  // the clock once (nothing when the shard has no deadline at all). A full
  // change ring (kBusy) stops it: the move is retried on the next call.
  // ServeOnce calls it first. REQUIRES: as Apply.
  std::size_t ExpireDeadlines(std::uint32_t shard);
  // The shard's earliest pending deadline (the clock's scale), 0 if none: a
  // parked shard thread must look again by then. REQUIRES: as Apply.
  std::uint64_t NextDeadlineNs(std::uint32_t shard) const;

  // The shard's end of its command ring: a shard thread waits for commands
  // with a RingWaiter on port(shard).ring() and port(shard).reader().
  // REQUIRES: as Apply for anything but ring().
  const shm::CommandPort& port(std::uint32_t shard) const;

  // A consistent copy of a game's state. Any thread.
  bool Snapshot(std::uint64_t game_id, core::GameState& out) const;
  std::uint32_t ShardOf(std::uint64_t game_id) const { return segment_.table().ShardOf(game_id); }

  // What `seat`'s player sees of a game now (a reconnecting player's
  // screen): the public state and that seat's own hand, no other seat's
  // cards. Errors as core::ReadPlayerView's (a bad seat, an unknown game),
  // which computes it: a client process of hokm-engine calls that on its
  // own mapping of the segment and gets the same view. Any thread.
  Result<core::PlayerView> PlayerView(std::uint64_t game_id, int seat) const;

  std::uint32_t shards() const { return segment_.shards(); }
  shm::Segment& segment() { return segment_; }
  const shm::Segment& segment() const { return segment_; }
  // The shard's counter line (EngineCounter words).
  shm::CounterView counters(std::uint32_t shard) const { return segment_.engine_counters(shard); }

 private:
  struct Shard;
  Engine(shm::Segment segment, const EngineOptions& options);
  bool Publish(Shard& shard, const core::ChangeBuffer& changes);
  // Apply; on_timeout: the engine's own move for a seat out of time.
  ApplyOutcome Apply(std::uint32_t shard, const core::Command& cmd, bool on_timeout);
  // Turn deadlines: the clock; the timeout a create command asks for;
  // the game's timer after an accepted command (before its slot is
  // written); every live game's timer (at start-up).
  std::uint64_t DeadlineClockNs() const;
  std::uint32_t TurnTimeoutFor(std::uint32_t requested) const;
  void UpdateDeadline(Shard& shard, std::uint32_t slot, const core::GameState& next, bool create);
  void ArmLiveGames();

  shm::Segment segment_;
  std::vector<std::unique_ptr<Shard>> shards_;
  std::uint32_t default_turn_timeout_ms_ = 0;
  std::function<std::uint64_t()> monotonic_ns_;
};

// CLOCK_REALTIME in nanoseconds: the ts_ns of change records (shm/clock.h).
using shm::RealtimeNowNs;

}  // namespace hokm
