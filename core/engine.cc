// engine.cc: applies commands to games in shared memory and publishes their
// change records; see engine.h.
#include "core/engine.h"

#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string_view>

#include "core/records/change_batch.h"
#include "core/records/record_codec.h"
#include "core/rules/rules.h"

namespace hokm {

using core::CommandResult;
using core::CommandType;

namespace {
// The largest batch a command can publish: 8 records of at most ~200 bytes.
constexpr std::size_t kStagingBytes = 4096;
}  // namespace

struct Engine::Shard {
  std::uint32_t index = 0;
  shm::Ring change_ring;
  flatbuffers::FlatBufferBuilder fbb{512};
  core::ChangeBuffer changes;
  core::GameState next{};
  alignas(8) std::byte staging[kStagingBytes];
  std::unique_ptr<shm::CommandPort> port;
  shm::CounterView counters;  // the segment's line of this shard
};

Result<std::unique_ptr<Engine>> Engine::Open(const EngineOptions& options) {
  shm::SegmentOptions so;
  so.name = options.shm_name;
  so.table_capacity = options.capacity;
  so.shards = options.shards;
  so.change_ring_bytes = options.ring_bytes;
  so.command_ring_bytes = options.command_ring_bytes;
  so.client_slots = options.client_slots;
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
  return std::unique_ptr<Engine>(new Engine(std::move(segment).value()));
}

Engine::Engine(shm::Segment segment) : segment_(std::move(segment)) {
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
    shards_.push_back(std::move(shard));
  }
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
    out.result = core::CreateGame(next, out.game_id, room, cmd.seed, cmd.config, shard.changes);
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

std::size_t Engine::ServeOnce(std::uint32_t shard_index, std::size_t max_commands) {
  shm::CommandPort& port = *shards_[shard_index]->port;
  const std::size_t n = port.Poll(
      [&](const shm::CommandRequest& request) {
        const ApplyOutcome o = Apply(shard_index, core::CommandOf(request));
        // Only a client that broke flow control can miss its answer.
        (void)core::Respond(port, request, o.result, o.game_id, o.game_seq, shm::Wake::kLater);
      },
      max_commands);
  // Each parked client is woken once, to all of its answers of this batch.
  port.WakeClients();
  return n;
}

const shm::CommandPort& Engine::port(std::uint32_t shard) const { return *shards_[shard]->port; }

bool Engine::Snapshot(std::uint64_t game_id, core::GameState& out) const {
  return segment_.table().ReadGame(game_id, out) == shm::ReadResult::kOk;
}

Result<core::PlayerView> Engine::PlayerView(std::uint64_t game_id, int seat) const {
  return core::ReadPlayerView(segment_.table(), game_id, seat);
}

}  // namespace hokm
