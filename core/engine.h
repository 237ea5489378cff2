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
#include <memory>
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
  // Re-attach to an existing segment of the same layout (engine restart).
  bool reuse_existing = true;
};

// What one command did.
struct ApplyOutcome {
  core::CommandResult result = core::CommandResult::kOk;
  std::uint64_t game_id = 0;                // the game (a new one for kCreateGame)
  std::uint32_t game_seq = 0;               // last record's game_seq after the command
  std::uint8_t records = 0;                 // change records published
  core::Phase phase = core::Phase::kEmpty;  // the game's phase afterwards
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
    kCount,
  };
  std::size_t word;
  const char* name;  // hokm_engine_<name>_total, hokmctl's key
};
inline constexpr EngineCounter kEngineCounters[] = {
    {EngineCounter::kCommands, "commands"},      {EngineCounter::kAccepted, "accepted"},
    {EngineCounter::kRejected, "rejected"},      {EngineCounter::kBusy, "busy"},
    {EngineCounter::kRecords, "records"},        {EngineCounter::kGamesCreated, "games_created"},
    {EngineCounter::kGamesEnded, "games_ended"},
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

  // Serves the shard's command ring: applies up to max_commands queued
  // commands from other processes and answers each on its client's response
  // ring. Returns how many it handled. REQUIRES: as Apply.
  std::size_t ServeOnce(std::uint32_t shard, std::size_t max_commands = 256);
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
  Engine(shm::Segment segment);
  bool Publish(Shard& shard, const core::ChangeBuffer& changes);

  shm::Segment segment_;
  std::vector<std::unique_ptr<Shard>> shards_;
};

// CLOCK_REALTIME in nanoseconds: the ts_ns of change records (shm/clock.h).
using shm::RealtimeNowNs;

}  // namespace hokm
