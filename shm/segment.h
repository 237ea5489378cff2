// segment.h: the named shared-memory segment every hokm process maps: a
// header that describes the layout, the game table, a command ring and a
// change ring per shard, and a registry of client slots with their response
// rings (docs/DESIGN.md §2).
//
// Layout (every offset in SegmentHeader; regions start on 4096-byte pages):
//
//   +-------------------------------------------+ 0
//   | SegmentHeader                 (4096)      |  magic, version, node id, sizes,
//   |                                           |  offsets, engine pid, heartbeat
//   +-------------------------------------------+ header.table.offset
//   | GameTable                                 |  see game_table.h
//   +-------------------------------------------+ header.command_rings.offset
//   | shard 0 command ring | shard 1 ... (stride)|  clients -> engine shard
//   +-------------------------------------------+ header.change_rings.offset
//   | shard 0 change ring  | shard 1 ... (stride)|  engine shard -> sidecar
//   +-------------------------------------------+ header.clients.offset
//   | ClientSlot 0 + response ring | 1 ... (stride) |  engine -> client
//   +-------------------------------------------+ header.counters.offset
//   | CounterLines (128 each): engine shard 0.. |  counters.h: one writer per
//   | sidecar shard 0.. | sidecar lines 0..     |  line, read by hokmctl status
//   +-------------------------------------------+ header.total_bytes
//
// Bytes 0..11 (magic, layout_version) keep their place in every version, so
// any build can tell which version a segment has.
//
// Every game id the segment's table issues carries the segment's node id
// (SegmentHeader::node_id, set at creation by hokm-engine --node-id):
//
//   63                         26 25      20 19                     0
//   +-----------------------------+----------+----------------------+
//   | creation number (38 bits)   | node (6) | slot index (20 bits) |
//   +-----------------------------+----------+----------------------+
//
// creation number: 2^35 + 10 ms units since 2024-01-01, above the slot's last;
// see game_id.h and game_table.h.
//
// Thread safety: a Segment object is a mapping owned by one process; the
// views it hands out (GameTable, Ring) follow their own rules. Creation is
// made visible by the release store of the magic, last (pairs with the
// acquire load in Attach). The engine pid is claimed by CAS; the heartbeat
// is a relaxed store any reader may sample.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>

#include "shm/clock.h"
#include "shm/counters.h"
#include "shm/game_table.h"
#include "shm/ring.h"
#include "shm/status.h"

namespace hokm::shm {

inline constexpr std::uint64_t kSegmentMagic = 0x31304D48534B4F48ull;  // "HOKSHM01" little endian
// 2: game ids carry 20 slot bits (was 24) and a wall-clock based creation
// number, so a version-1 segment's ids would be misread.
// 3: per-shard journal slots after the games. 4: every ring's trailer has a
// fifth line, the consumer's futex words (wait_strategy.h). 5: the counters
// region (counters.h) after the clients. 6: the game state in a slot
// changed (GameState::turn_timeout_ms, core/rules/game_state.h),
// so a version-5 segment's games would be misread. 7: game ids carry a
// 6-bit node (SegmentHeader::node_id) and a creation number in 10 ms units
// taken per slot (GameSlot::last_id, the user state 160 bytes instead of
// 168), so a version-6 segment's ids and slots would be misread.
inline constexpr std::uint32_t kLayoutVersion = 7;
inline constexpr const char* kDefaultSegmentName = "hokm";
inline constexpr const char* kSegmentNameEnv = "HOKM_SHM_NAME";
inline constexpr std::size_t kRegionAlignment = 4096;
// Counter lines of the sidecar process beyond its per-shard ones (the
// sidecar names them: sidecar/segment_counters.h).
inline constexpr std::uint32_t kSidecarCounterLines = 4;

// What the engine asks for when it creates a segment.
struct SegmentOptions {
  std::string name = kDefaultSegmentName;  // POSIX shm name, without '/'
  std::uint32_t table_capacity = GameTable::kDefaultCapacity;
  std::uint32_t shards = 1;
  std::uint64_t command_ring_bytes = std::uint64_t{1} << 20;  // per shard, power of two
  std::uint64_t change_ring_bytes = std::uint64_t{1} << 24;   // per shard, power of two
  std::uint32_t client_slots = 64;
  std::uint64_t response_ring_bytes = std::uint64_t{1} << 16;  // per client, power of two
  std::uint32_t mode = 0600;                                   // file mode of /dev/shm/<name>
  // The node id in every game id (0..kMaxNodeId): unique among the engine
  // hosts that share stores (docs/DESIGN.md §9).
  std::uint32_t node_id = 0;
  // Create(): attach to an existing segment of the same layout instead of
  // failing with kAlreadyExists.
  bool reuse_existing = false;
};

// True if a process with this pid exists (kill(pid, 0); EPERM counts as
// alive). 0 and pids beyond pid_t are not alive.
bool ProcessAlive(std::uint64_t pid);

// The segment name to use: `flag_value` if not empty, else $HOKM_SHM_NAME,
// else "hokm".
std::string SegmentNameFrom(const std::string& flag_value);

struct SegmentRegion {
  std::uint64_t offset;  // from the start of the segment
  std::uint64_t bytes;   // whole region
  std::uint64_t stride;  // per element (shard or client); 0 for the table
};
static_assert(std::is_trivially_copyable_v<SegmentRegion>);

// One client process's registration; its response ring follows the slot.
struct alignas(128) ClientSlot {
  std::uint64_t owner_pid;  // 0: free; claimed by CAS (atomic)
  std::uint64_t epoch;      // +1 per registration; in every request (atomic)
  std::uint8_t reserved[128 - 16];
};
static_assert(sizeof(ClientSlot) == 128);
static_assert(std::is_trivially_copyable_v<ClientSlot>);
static_assert(std::is_standard_layout_v<ClientSlot>);

struct SegmentHeader {
  std::uint64_t magic;           // kSegmentMagic; stored last at creation
  std::uint32_t layout_version;  // kLayoutVersion
  std::uint32_t header_bytes;    // sizeof(SegmentHeader)
  std::uint64_t total_bytes;
  std::uint64_t created_unix_ns;
  std::uint32_t table_capacity;
  std::uint32_t shard_count;
  std::uint32_t client_count;
  std::uint32_t node_id;              // in every game id (game_id.h); 0..kMaxNodeId
  std::uint64_t command_ring_bytes;   // data capacity of each command ring
  std::uint64_t change_ring_bytes;    // data capacity of each change ring
  std::uint64_t response_ring_bytes;  // data capacity of each response ring
  SegmentRegion table;
  SegmentRegion command_rings;
  SegmentRegion change_rings;
  SegmentRegion clients;
  SegmentRegion counters;                          // stride sizeof(CounterLine)
  alignas(128) std::uint64_t engine_pid;           // 0: no engine attached (atomic)
  alignas(128) std::uint64_t engine_heartbeat_ns;  // CLOCK_MONOTONIC ns (atomic)
  std::uint8_t reserved[kRegionAlignment - 392];
};
static_assert(std::is_trivially_copyable_v<SegmentHeader>);
static_assert(std::is_standard_layout_v<SegmentHeader>);
static_assert(sizeof(SegmentHeader) == kRegionAlignment);
static_assert(offsetof(SegmentHeader, magic) == 0);
static_assert(offsetof(SegmentHeader, layout_version) == 8);
static_assert(offsetof(SegmentHeader, engine_pid) == 256);
static_assert(offsetof(SegmentHeader, engine_heartbeat_ns) == 384);

// Computes the header (sizes and offsets) a segment with `options` gets.
// Fails with kInvalidArgument naming the bad option.
Result<SegmentHeader> PlanLayout(const SegmentOptions& options);

class Segment {
 public:
  // Creates the segment (mode options.mode). Fails with kAlreadyExists if
  // one of that name exists, unless options.reuse_existing, in which case it
  // attaches to it when the layout matches (see OpenOrCreate).
  static Result<Segment> Create(const SegmentOptions& options);
  // Attaches to an existing segment whose layout equals what `options` asks
  // for (an engine restart: every game and ring carries on), or creates it.
  // A segment of another layout or version is an error, never replaced.
  static Result<Segment> OpenOrCreate(const SegmentOptions& options);
  // Attaches to an existing segment (sidecar, loadgen, tools). kNotFound
  // says how to create it; kVersionMismatch names both versions.
  static Result<Segment> Attach(const std::string& name);
  // Removes the name (mappings stay valid until unmapped). Ok if absent.
  static Status Remove(const std::string& name);

  Segment(Segment&&) noexcept;
  Segment& operator=(Segment&&) noexcept;
  ~Segment();

  const std::string& name() const { return name_; }
  const SegmentHeader& header() const { return *header_; }
  std::byte* base() const { return base_; }
  std::size_t size() const { return size_; }
  std::uint32_t shards() const { return header_->shard_count; }
  std::uint32_t client_slots() const { return header_->client_count; }
  // The node id in every game id this segment issues.
  std::uint32_t node_id() const { return header_->node_id; }

  // Views into the segment; valid while this Segment lives.
  GameTable& table() { return table_; }
  const GameTable& table() const { return table_; }
  // REQUIRES: shard < shards().
  Ring command_ring(std::uint32_t shard) const;
  Ring change_ring(std::uint32_t shard) const;
  // REQUIRES: client < client_slots().
  ClientSlot& client(std::uint32_t client) const;
  Ring response_ring(std::uint32_t client) const;
  // Counter lines (counters.h). REQUIRES: shard < shards(),
  // line < kSidecarCounterLines. Written by the engine's shard thread, by
  // the sidecar's reader per shard, and by the sidecar's threads.
  CounterView engine_counters(std::uint32_t shard) const;
  CounterView sidecar_counters(std::uint32_t shard) const;
  CounterView sidecar_line(std::uint32_t line) const;

  // Makes this process the segment's engine. Fails with kUnavailable if a
  // live engine (another pid) holds it; a dead engine's claim is taken over.
  Status ClaimEngine();
  // Clears the claim if this process holds it.
  void ReleaseEngine();
  pid_t engine_pid() const;
  // The engine calls this periodically; others read the last beat.
  void Heartbeat();
  std::uint64_t engine_heartbeat_ns() const;
  // True if an engine pid is set and that process exists.
  bool EngineAlive() const;

 private:
  struct Mapping;
  Segment(std::string name, std::unique_ptr<Mapping> mapping);
  static Result<Segment> CreateNew(const SegmentOptions& options, const SegmentHeader& plan);
  static Result<Segment> AttachExisting(const std::string& name);

  std::string name_;
  std::unique_ptr<Mapping> mapping_;
  std::byte* base_ = nullptr;
  std::size_t size_ = 0;
  SegmentHeader* header_ = nullptr;
  GameTable table_;
};

}  // namespace hokm::shm
