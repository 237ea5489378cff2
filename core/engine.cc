// engine.cc: applies commands to games in shared memory and publishes their
// change records; see engine.h.
#include "core/engine.h"

#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string_view>

#include "core/deadline_heap.h"
#include "core/records/change_batch.h"
#include "core/records/record_codec.h"
#include "core/records/replay.h"
#include "core/rules/bots.h"
#include "core/rules/rules.h"

namespace hokm {

using core::CommandResult;
using core::CommandType;

namespace {
// The largest batch a command can publish: 8 records of at most ~200 bytes.
constexpr std::size_t kStagingBytes = 4096;

// Which turn a game waits for: changes with every move (a card adds to the
// trick or closes it; trump and a hand's end change the phase or hand), not
// with commands that leave the turn where it was (a reconnect).
std::uint32_t TurnKey(const core::GameState& s) {
  return std::uint32_t{s.hand_no} << 16 | std::uint32_t{s.trick_no} << 8 |
         std::uint32_t{s.trick_size} << 4 | static_cast<std::uint32_t>(s.phase);
}
}  // namespace

struct Engine::Shard {
  std::uint32_t index = 0;
  shm::Ring change_ring;
  flatbuffers::FlatBufferBuilder fbb{512};
  core::ChangeBuffer changes;
  core::GameState next{};
  alignas(8) std::byte staging[kStagingBytes];
  std::unique_ptr<shm::CommandPort> port;
  shm::CounterView counters;     // the segment's line of this shard
  core::DeadlineHeap deadlines;  // games of this shard with a turn deadline
};

Result<std::unique_ptr<Engine>> Engine::Open(const EngineOptions& options) {
  shm::SegmentOptions so;
  so.name = options.shm_name;
  so.table_capacity = options.capacity;
  so.shards = options.shards;
  so.change_ring_bytes = options.ring_bytes;
  so.command_ring_bytes = options.command_ring_bytes;
  so.client_slots = options.client_slots;
  so.node_id = options.node_id;
  auto segment = options.reuse_existing ? shm::Segment::OpenOrCreate(so) : shm::Segment::Create(so);
  if (!segment.ok()) return segment.status();
  if (Status s = segment->ClaimEngine(); !s.ok()) return s;
  // A previous engine may have been killed inside a slot write.
  const shm::GameTable::Repair repair = segment->table().RepairTornSlots();
  if (repair.from_journal + repair.freed != 0) {
    std::fprintf(stderr,
                 "hokm-engine: repaired %u slot(s) from the journal, freed %u torn slot(s)\n",
                 repair.from_journal, repair.freed);
  }
  return std::unique_ptr<Engine>(new Engine(std::move(segment).value(), options));
}

Engine::Engine(shm::Segment segment, const EngineOptions& options)
    : segment_(std::move(segment)),
      default_turn_timeout_ms_(options.default_turn_timeout_ms),
      monotonic_ns_(options.monotonic_ns) {
  // Map every page writable now, not on the hot path: a first touch is a
  // page fault of a microsecond or more, once per 4 KiB of ring and table.
  // Adding 0 atomically changes nothing even if another process writes the
  // word meanwhile.
  for (std::size_t at = 0; at < segment_.size(); at += 4096) {
    std::atomic_ref<std::uint64_t>(*reinterpret_cast<std::uint64_t*>(segment_.base() + at))
        .fetch_add(0, std::memory_order_relaxed);
  }
  for (std::uint32_t i = 0; i < segment_.shards(); ++i) {
    auto shard = std::make_unique<Shard>();
    shard->index = i;
    shard->change_ring = segment_.change_ring(i);
    shard->port = std::make_unique<shm::CommandPort>(segment_, i);
    shard->counters = segment_.engine_counters(i);
    const std::uint32_t shard_slots =
        (segment_.table().capacity() + segment_.shards() - 1) / segment_.shards();
    shard->deadlines = core::DeadlineHeap(shard_slots);
    shards_.push_back(std::move(shard));
  }
  ArmLiveGames();
  segment_.Heartbeat();
}

Engine::~Engine() { segment_.ReleaseEngine(); }

bool Engine::Publish(Shard& shard, const core::ChangeBuffer& changes) {
  const std::uint64_t ts_ns = RealtimeNowNs();
  std::size_t length = 0;
  for (const core::Change& c : changes) {
    core::EncodeRecord(c, ts_ns, shard.fbb);
    length = core::AppendFrame(shard.staging, length, shard.fbb.GetBufferPointer(),
                               static_cast<std::uint32_t>(shard.fbb.GetSize()));
  }
  // The shard thread is its change ring's only producer: no CAS needed.
  return shard.change_ring.TryWriteExclusive(core::kChangeBatchType, shard.staging, length) ==
         shm::WriteResult::kOk;
}

ApplyOutcome Engine::Apply(std::uint32_t shard_index, const core::Command& cmd) {
  return Apply(shard_index, cmd, /*on_timeout=*/false);
}

ApplyOutcome Engine::Apply(std::uint32_t shard_index, const core::Command& cmd, bool on_timeout) {
  Shard& shard = *shards_[shard_index];
  const shm::CounterView counters = shard.counters;
  shm::GameTable& table = segment_.table();
  counters.Add(EngineCounter::kCommands, 1);
  ApplyOutcome out;
  // Commands from the command ring carry any bytes another process wrote.
  if (!core::BoolsAreValid(cmd)) {
    counters.Add(EngineCounter::kRejected, 1);
    out.result = CommandResult::kInvalidCommand;
    return out;
  }
  shard.changes.Clear();
  core::GameState& next = shard.next;
  std::uint32_t slot;
  const bool create = cmd.type == CommandType::kCreateGame;

  if (create) {
    auto allocation = table.Allocate(shard_index, [](std::uint64_t game_id) {
      core::GameState blank{};  // what readers see until CreateGame is published
      blank.game_id = game_id;
      for (auto& card : blank.trick) card = core::kNoCard;
      blank.trump = core::Suit::kNone;
      return blank;
    });
    if (!allocation) {
      counters.Add(EngineCounter::kRejected, 1);
      out.result = CommandResult::kTableFull;
      return out;
    }
    slot = allocation->slot;
    out.game_id = allocation->game_id;
    next = core::GameState{};
    const std::string_view room(cmd.room, strnlen(cmd.room, core::kRoomCodeLen));
    out.result = core::CreateGame(next, out.game_id, room, cmd.seed, cmd.config, shard.changes,
                                  TurnTimeoutFor(cmd.turn_timeout_ms));
    if (out.result != CommandResult::kOk) (void)table.Free(out.game_id);
  } else {
    out.game_id = cmd.game_id;
    const std::int64_t found = table.Find(cmd.game_id);
    if (found < 0) {
      out.result = CommandResult::kNoSuchGame;
    } else if (table.ShardOfSlot(static_cast<std::uint32_t>(found)) != shard_index) {
      out.result = CommandResult::kInvalidCommand;
    } else {
      slot = static_cast<std::uint32_t>(found);
      next = table.Unsafe<core::GameState>(slot);
      out.result = core::Apply(next, cmd, shard.changes);
    }
  }
  if (out.result != CommandResult::kOk) {
    counters.Add(EngineCounter::kRejected, 1);
    return out;
  }
  if (on_timeout) shard.changes.items[0].on_timeout = true;  // the move's own record

  // Records first, then the state: a crash between the two leaves the old
  // state with its records already published; the retried command yields the
  // identical records (the rules are deterministic), which every sink drops
  // as duplicates of (game_id, game_seq).
  if (!Publish(shard, shard.changes)) {
    if (create) (void)table.Free(out.game_id);
    counters.Add(EngineCounter::kBusy, 1);
    out.result = CommandResult::kBusy;
    return out;
  }
  if (next.turn_timeout_ms != 0) UpdateDeadline(shard, slot, next, create);
  // Journal first: a restarted engine finishes a Write this one was killed in.
  table.WriteJournal(shard_index, slot, next);
  table.Write(slot, next);
  out.game_seq = next.seq;
  out.records = static_cast<std::uint8_t>(shard.changes.count);
  out.phase = next.phase;
  counters.Add(EngineCounter::kAccepted, 1);
  counters.Add(EngineCounter::kRecords, out.records);
  if (create) counters.Add(EngineCounter::kGamesCreated, 1);
  if (next.phase == core::Phase::kFinished || next.phase == core::Phase::kAbandoned) {
    (void)table.Free(out.game_id);
    counters.Add(EngineCounter::kGamesEnded, 1);
  }
  return out;
}

const char* RestoreResultName(RestoreResult result) {
  switch (result) {
    case RestoreResult::kRestored:
      return "restored";
    case RestoreResult::kNoRecords:
      return "no records";
    case RestoreResult::kReplayDiffers:
      return "replay differs from the stored records";
    case RestoreResult::kEnded:
      return "the records end the game";
    case RestoreResult::kSlotOutOfRange:
      return "slot beyond the segment's capacity";
    case RestoreResult::kSlotTaken:
      return "slot held by another game";
  }
  return "unknown";
}

RestoreOutcome Engine::RestoreGame(std::uint64_t game_id, std::span<const core::Change> records) {
  RestoreOutcome out;
  if (records.empty()) {
    out.result = RestoreResult::kNoRecords;
    return out;
  }
  core::ReplayOptions options;
  options.max_differences = 1;
  const core::ReplayResult replay = core::ReplayRecords(records, options);
  out.game_seq = replay.state.seq;
  // Exactly: every stored record regenerated, equal, nothing else, and the
  // state's last seq is the last stored record's (a game restored half
  // right would continue a history that never was).
  if (!replay.identical() || replay.state.game_id != game_id ||
      replay.state.seq != records.back().game_seq) {
    out.result = RestoreResult::kReplayDiffers;
    if (!replay.differences.empty()) {
      const core::ReplayDifference& d = replay.differences.front();
      out.why = "seq " + std::to_string(d.seq) + " " + d.field + ": stored " + d.stored +
                ", replayed " + d.replayed;
    } else {
      out.why = "replayed to seq " + std::to_string(replay.state.seq) + " of game " +
                std::to_string(replay.state.game_id) + ", stored to seq " +
                std::to_string(records.back().game_seq);
    }
    return out;
  }
  const core::Phase phase = replay.state.phase;
  if (phase == core::Phase::kFinished || phase == core::Phase::kAbandoned ||
      phase == core::Phase::kEmpty) {
    out.result = RestoreResult::kEnded;
    return out;
  }
  switch (segment_.table().Place(game_id, replay.state)) {
    case shm::GameTable::PlaceResult::kOk:
      break;
    case shm::GameTable::PlaceResult::kOutOfRange:
      out.result = RestoreResult::kSlotOutOfRange;
      return out;
    case shm::GameTable::PlaceResult::kSlotTaken:
      out.result = RestoreResult::kSlotTaken;
      out.why =
          "game " + std::to_string(segment_.table().GameIdAt(shm::GameTable::SlotOf(game_id)));
      return out;
  }
  return out;
}

void Engine::FinishRestore() {
  segment_.table().RebuildFreeLists();
  ArmLiveGames();  // a restored game's pending turn gets a full timeout, as after a restart
}

std::size_t Engine::ServeOnce(std::uint32_t shard_index, std::size_t max_commands) {
  shm::CommandPort& port = *shards_[shard_index]->port;
  const std::size_t expired = ExpireDeadlines(shard_index);
  const std::size_t n = port.Poll(
      [&](const shm::CommandRequest& request) {
        const ApplyOutcome o = Apply(shard_index, core::CommandOf(request));
        // Only a client that broke flow control can miss its answer.
        (void)core::Respond(port, request, o.result, o.game_id, o.game_seq, shm::Wake::kLater);
      },
      max_commands);
  // Each parked client is woken once, to all of its answers of this batch.
  port.WakeClients();
  return n + expired;
}

const shm::CommandPort& Engine::port(std::uint32_t shard) const { return *shards_[shard]->port; }

bool Engine::Snapshot(std::uint64_t game_id, core::GameState& out) const {
  return segment_.table().ReadGame(game_id, out) == shm::ReadResult::kOk;
}

std::uint64_t Engine::DeadlineClockNs() const {
  return monotonic_ns_ ? monotonic_ns_() : shm::MonotonicNowNs();
}

std::uint32_t Engine::TurnTimeoutFor(std::uint32_t requested) const {
  if (requested == core::kNoTurnTimeout) return 0;
  return requested != 0 ? requested : default_turn_timeout_ms_;
}

void Engine::UpdateDeadline(Shard& shard, std::uint32_t slot, const core::GameState& next,
                            bool create) {
  const std::uint32_t key = slot / segment_.shards();
  if (core::SeatToAct(next) < 0) {  // nobody to wait for: seats free, or the game over
    shard.deadlines.Erase(key);
    return;
  }
  const std::uint32_t turn = TurnKey(next);
  // The slot still holds the state before this command.
  if (!create && shard.deadlines.Contains(key) &&
      TurnKey(segment_.table().Unsafe<core::GameState>(slot)) == turn) {
    return;  // the same turn: its clock runs on
  }
  shard.deadlines.Set({DeadlineClockNs() + std::uint64_t{next.turn_timeout_ms} * 1'000'000,
                       next.game_id, turn, key});
}

void Engine::ArmLiveGames() {
  shm::GameTable& table = segment_.table();
  const std::uint64_t now = DeadlineClockNs();
  for (std::uint32_t slot = 0; slot < table.capacity(); ++slot) {
    if (table.GameIdAt(slot) == 0) continue;
    const core::GameState& s = table.Unsafe<core::GameState>(slot);
    if (s.turn_timeout_ms == 0 || core::SeatToAct(s) < 0) continue;
    Shard& shard = *shards_[table.ShardOfSlot(slot)];
    shard.deadlines.Set({now + std::uint64_t{s.turn_timeout_ms} * 1'000'000, s.game_id, TurnKey(s),
                         slot / segment_.shards()});
  }
}

std::size_t Engine::ExpireDeadlines(std::uint32_t shard_index) {
  Shard& shard = *shards_[shard_index];
  core::DeadlineHeap& deadlines = shard.deadlines;
  if (deadlines.empty()) return 0;
  const std::uint64_t now = DeadlineClockNs();
  const shm::GameTable& table = segment_.table();
  std::size_t played = 0;
  while (!deadlines.empty() && deadlines.top().deadline_ns <= now) {
    const core::TurnTimer timer = deadlines.top();
    const std::int64_t found = table.Find(timer.game_id);
    const core::GameState* s =
        found >= 0 ? &table.Unsafe<core::GameState>(static_cast<std::uint32_t>(found)) : nullptr;
    // UpdateDeadline keeps every timer current; this only guards against
    // a timer that outlived its game or turn.
    if (s == nullptr || core::SeatToAct(*s) < 0 || TurnKey(*s) != timer.turn_key) {
      deadlines.Erase(timer.key);
      continue;
    }
    const ApplyOutcome o = Apply(shard_index, core::TimeoutCommand(*s), /*on_timeout=*/true);
    if (o.result == CommandResult::kBusy) break;  // the timer stays: retried on the next call
    if (o.result != CommandResult::kOk) {
      deadlines.Erase(timer.key);  // cannot happen (the move is legal); never loop on it
      continue;
    }
    shard.counters.Add(EngineCounter::kTurnTimeouts, 1);
    ++played;
  }
  return played;
}

std::uint64_t Engine::NextDeadlineNs(std::uint32_t shard) const {
  const core::DeadlineHeap& deadlines = shards_[shard]->deadlines;
  return deadlines.empty() ? 0 : deadlines.top().deadline_ns;
}

Result<core::PlayerView> Engine::PlayerView(std::uint64_t game_id, int seat) const {
  return core::ReadPlayerView(segment_.table(), game_id, seat);
}

}  // namespace hokm
