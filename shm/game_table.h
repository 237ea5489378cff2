// game_table.h: the fixed-capacity table of game slots in shared memory:
// lock-free allocation of slots, O(1) lookup by game id, and per-slot
// sequence locks so that one writer (the game's shard thread) publishes
// states that any reader can snapshot without blocking it (docs/DESIGN.md §1, §2).
//
// The table is mechanism only: a game's state is kSlotStateBytes opaque
// bytes to it. Its user picks the state type (trivially copyable, at most
// kSlotStateBytes, a whole number of 8-byte words) and passes it to the
// typed accessors (Read, ReadGame, Write, WriteJournal, Unsafe, Allocate's
// initial state); hokm's is core::GameState (core/engine.h).
//
// Memory (position-independent, zero-filled when created):
//
//   +--------------------------------------+ 0
//   | GameTableHeader          (128 bytes) |  capacity, shards, node
//   | ShardFreeList x shards   (128 each)  |  tagged free-stack head, bump index
//   +--------------------------------------+ SlotsOffset(shards), 128-aligned
//   | GameSlot x capacity       (192 each) |
//   | journal GameSlot x shards (192 each) |  last state each shard's writer began
//   +--------------------------------------+
//
// Game id (64 bits; shm/game_id.h builds and takes ids apart):
//
//   63                         26 25      20 19                     0
//   +-----------------------------+----------+----------------------+
//   | creation number (38 bits)   | node (6) | slot index (20 bits) |
//   +-----------------------------+----------+----------------------+
//
// The node is the table's (GameTableHeader::node, set by Init). A slot's
// last_id word keeps the largest id the slot ever held, so the next game in
// it gets creation number max(now in 10 ms units, last + 1, floor + 1): ids
// grow with time and never repeat within a node, however fast slots are
// reused. The floor is the largest creation number Place put back (a
// restored table's new ids stay above every restored one).
//
// Free-stack head (one per shard, a Treiber stack of slot indices):
//
//   63                   32 31                                    0
//   +----------------------+--------------------------------------+
//   | tag: +1 per change   | top slot index + 1 (0: stack empty)  |
//   +----------------------+--------------------------------------+
//
// Slots of shard s are s, s + shards, s + 2*shards, ... A shard hands out
// slots from its free stack, else the next never-used one (so a new table
// touches no slot memory until it is used).
//
// Thread safety: Allocate and Free are lock-free and may be called from any
// threads and processes at once (the tag in the stack head defeats ABA).
// The caller of Allocate becomes the slot's single writer (Write, Free) until
// it hands the game on with a release/acquire pair (e.g. through a ring).
// A slot's last_id is read and written only by whoever holds the slot
// between its pop from the free stack (or the bump of the never-used index)
// and its game's Free; the stack's release push / acquire pop hand it on.
// Read, ReadGame and Find may be called by anyone at any time; they never
// block the writer. Unsafe(slot) is for the slot's writer only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>
#include <optional>
#include <type_traits>

#include "shm/game_id.h"
#include "shm/ring.h"
#include "shm/seqlock.h"

namespace hokm::shm {

inline constexpr std::uint32_t kMaxTableCapacity = std::uint32_t{1} << kSlotIndexBits;

struct alignas(128) GameTableHeader {
  std::uint32_t capacity;
  std::uint32_t shards;
  std::uint32_t slot_bytes;      // sizeof(GameSlot) when formatted
  std::uint32_t node;            // the node id in every game id (0..kMaxNodeId)
  std::uint64_t creation_floor;  // new ids' creation numbers are above it (Place; atomic)
  std::uint8_t reserved[128 - 24];
};
static_assert(sizeof(GameTableHeader) == 128);
static_assert(std::is_trivially_copyable_v<GameTableHeader>);
static_assert(std::is_standard_layout_v<GameTableHeader>);

struct alignas(128) ShardFreeList {
  std::uint64_t head;         // tagged top of the free stack (atomic)
  std::uint64_t next_unused;  // how many of this shard's slots were ever handed out (atomic)
  std::uint64_t live;         // games allocated now (atomic, statistics)
  std::uint8_t reserved[128 - 24];
};
static_assert(sizeof(ShardFreeList) == 128);
static_assert(std::is_trivially_copyable_v<ShardFreeList>);

// The bytes of state a slot holds for its game.
inline constexpr std::size_t kSlotStateBytes = 160;

// One game. The sequence lock guards game_id and state together; last_id
// is the slot's allocator's own word, outside the seqlock (no reader needs
// it): the largest game id the slot ever held (0: never used), written by
// whoever allocates or places a game in the slot.
//
//   0        8          12        16        24                 184       192
//   +--------+----------+---------+---------+------------------+---------+
//   |sequence|next_free |reserved | game_id | state (160 bytes)| last_id |
//   +--------+----------+---------+---------+------------------+---------+
struct alignas(64) GameSlot {
  std::uint64_t sequence;   // seqlock word: odd while a write is in progress
  std::uint32_t next_free;  // free-stack link: slot index + 1, 0 = end (atomic)
  std::uint32_t reserved;   // journal slots: the slot being written (WriteJournal)
  std::uint64_t game_id;    // 0: the slot is free
  alignas(8) std::byte state[kSlotStateBytes];  // the user's state type, zero-padded
  std::uint64_t last_id;                        // (atomic) see above
};
static_assert(std::is_trivially_copyable_v<GameSlot>);
static_assert(std::is_standard_layout_v<GameSlot>);
static_assert(sizeof(GameSlot) == 192, "docs/DESIGN.md §2: at most 256 bytes per active game");
static_assert(offsetof(GameSlot, state) == offsetof(GameSlot, game_id) + 8);
static_assert(offsetof(GameSlot, last_id) == offsetof(GameSlot, state) + kSlotStateBytes);

// A type the table can hold as a game's state.
template <typename State>
concept SlotState = std::is_trivially_copyable_v<State> && sizeof(State) <= kSlotStateBytes &&
                    sizeof(State) % 8 == 0 && alignof(State) <= 8;  // the seqlock moves whole words

// What a reader gets from ReadGame.
enum class [[nodiscard]] ReadResult : std::uint8_t{
    kOk = 0,
    kNoSuchGame,  // unknown, freed or stale id
    kBusy,        // the writer kept the slot mid-write for every attempt
};

class GameTable {
 public:
  static constexpr std::uint32_t kDefaultCapacity = 100'000;

  struct Allocation {
    std::uint32_t slot;
    std::uint64_t game_id;
  };

  static constexpr std::size_t SlotsOffset(std::uint32_t shards) {
    return sizeof(GameTableHeader) + std::size_t{shards} * sizeof(ShardFreeList);
  }
  // Bytes a table of `capacity` games over `shards` shards needs.
  // After the `capacity` game slots come `shards` journal slots (see
  // WriteJournal).
  static constexpr std::size_t RequiredBytes(std::uint32_t capacity, std::uint32_t shards) {
    return SlotsOffset(shards) + (std::size_t{capacity} + shards) * sizeof(GameSlot);
  }
  static constexpr bool IsValidShape(std::uint32_t capacity, std::uint32_t shards) {
    return capacity >= 1 && capacity <= kMaxTableCapacity && shards >= 1 && shards <= capacity;
  }
  // Formats a table in zero-filled memory (RequiredBytes, 128-byte aligned)
  // whose game ids carry `node`.
  // REQUIRES: IsValidShape(capacity, shards); node <= kMaxNodeId; no one
  // uses the memory.
  static void Init(void* memory, std::uint32_t capacity, std::uint32_t shards,
                   std::uint32_t node = 0);

  GameTable() = default;
  // A view of a formatted table; `memory` must stay mapped while in use.
  explicit GameTable(void* memory);

  std::uint32_t capacity() const { return capacity_; }
  std::uint32_t shards() const { return shards_; }
  std::uint32_t node() const { return node_; }
  static constexpr std::uint32_t SlotOf(std::uint64_t game_id) { return SlotOfId(game_id); }
  std::uint32_t ShardOfSlot(std::uint32_t slot) const { return slot % shards_; }
  std::uint32_t ShardOf(std::uint64_t game_id) const { return ShardOfSlot(SlotOf(game_id)); }

  // Takes a free slot of `shard` and gives it a new game id (node(), the
  // slot, and a creation number above every earlier one of the slot, see
  // the diagram above); the slot holds zero state bytes with game_id set.
  // std::nullopt: the shard has no free slot. The caller becomes the slot's
  // writer. REQUIRES: shard < shards().
  std::optional<Allocation> Allocate(std::uint32_t shard = 0) {
    const std::byte none[8] = {};
    return Allocate(shard, none, 0);
  }
  // As above, but the slot's first state is make_state(game_id) (a
  // SlotState), published together with the id.
  template <typename MakeState>
  std::optional<Allocation> Allocate(std::uint32_t shard, MakeState&& make_state) {
    std::optional<Allocation> a = Reserve(shard);
    if (!a) return a;
    const auto state = make_state(a->game_id);
    static_assert(SlotState<std::remove_cvref_t<decltype(state)>>);
    Publish(*a, &state, sizeof(state));
    return a;
  }
  // Frees the game's slot (its state becomes zero, phase kEmpty). Returns
  // false if the id is not live. REQUIRES: the caller is the slot's writer.
  bool Free(std::uint64_t game_id);

  // The slot holding `game_id`, or -1 if the id is unknown, freed or stale.
  // Exact for the slot's writer; for others a hint that ReadGame confirms.
  std::int64_t Find(std::uint64_t game_id) const {
    const std::uint32_t slot = SlotOf(game_id);
    if (game_id == 0 || slot >= capacity_) return -1;
    GameSlot& s = slots_[slot];
    return Atomic(s.game_id).load(std::memory_order_relaxed) == game_id ? std::int64_t{slot} : -1;
  }

  // A consistent snapshot of the slot's state (phase kEmpty when free) and,
  // if asked, the game id it belongs to (0: free) and its sequence. False
  // only if the writer kept the slot mid-write for every attempt.
  // REQUIRES: slot < capacity().
  template <SlotState State>
  [[nodiscard]] bool Read(std::uint32_t slot, State& out, std::uint64_t* game_id = nullptr,
                          std::uint64_t* sequence = nullptr) const {
    return ReadBytes(slot, &out, sizeof(State), game_id, sequence);
  }
  // A consistent snapshot of the game `game_id`.
  template <SlotState State>
  ReadResult ReadGame(std::uint64_t game_id, State& out, std::uint64_t* sequence = nullptr) const {
    const std::uint32_t slot = SlotOf(game_id);
    if (game_id == 0 || slot >= capacity_) return ReadResult::kNoSuchGame;
    std::uint64_t held = 0;
    if (!Read(slot, out, &held, sequence)) return ReadResult::kBusy;
    return held == game_id ? ReadResult::kOk : ReadResult::kNoSuchGame;
  }

  // Publishes a new state of the slot's game. REQUIRES: the caller is the
  // slot's writer; the slot is allocated.
  template <SlotState State>
  void Write(std::uint32_t slot, const State& state) {
    GameSlot& s = slots_[slot];
    seqlock::Store(s.sequence, s.state, &state, sizeof(State));
  }
  // Crash safety of Write. A writer killed inside Write leaves that slot's
  // sequence odd, its state half old, half new. So the shard's writer first
  // records the new state in the shard's journal slot (WriteJournal), then
  // Writes the game's slot. The next writer, before anything else, calls
  // RepairTornSlots: a slot left odd that its shard's journal names gets the
  // journal's state; any other slot left odd (a torn Allocate or Free: the
  // game had no published records yet, or all of them) is freed. Returns the
  // number of slots repaired and freed.
  // REQUIRES: the caller is shard's writer (WriteJournal); no writer of any
  // shard runs (RepairTornSlots).
  template <SlotState State>
  void WriteJournal(std::uint32_t shard, std::uint32_t slot, const State& state) {
    GameSlot& j = slots_[capacity_ + shard];
    Atomic(j.reserved).store(slot, std::memory_order_relaxed);
    seqlock::Store(j.sequence, j.state, &state, sizeof(State));
  }
  struct Repair {
    std::uint32_t from_journal = 0;
    std::uint32_t freed = 0;
  };
  Repair RepairTornSlots();

  // Restore (an engine brought back from its stored records on a new or
  // emptied table): puts a game back under its own id, in the slot the id
  // names, with `state`. The table's creation floor is raised to the id's
  // creation number and the slot's last_id to the id, so every id Allocate
  // hands out afterwards is above it; the
  // shard's never-used index moves past the slot. The id may carry another
  // node than the table's (its games stay theirs; new ones get node()). Allocate may hand out a
  // placed slot again until RebuildFreeLists runs.
  // REQUIRES: nothing allocates, frees or writes in the table until
  // RebuildFreeLists returns (the engine has not started serving).
  enum class PlaceResult : std::uint8_t {
    kOk = 0,
    kOutOfRange,  // the id's slot index is not below capacity() (or the id is 0)
    kSlotTaken,   // another game holds the slot
  };
  template <SlotState State>
  PlaceResult Place(std::uint64_t game_id, const State& state) {
    return PlaceBytes(game_id, &state, sizeof(State));
  }
  // After the last Place: rebuilds every shard's free stack from the slots
  // that are free below its never-used index, so Allocate hands out no
  // placed slot. O(capacity). REQUIRES: as Place.
  void RebuildFreeLists();

  // The writer's own view of its slot: plain reads, no copy.
  // REQUIRES: the caller is the slot's writer (anyone else uses Read).
  template <SlotState State>
  const State& Unsafe(std::uint32_t slot) const {
    return *std::launder(reinterpret_cast<const State*>(slots_[slot].state));
  }

  // The id the slot holds now (0: free), without the seqlock.
  std::uint64_t GameIdAt(std::uint32_t slot) const {
    return Atomic(slots_[slot].game_id).load(std::memory_order_relaxed);
  }
  // Even when idle, odd during a write; grows by 2 per write. Acquire:
  // pairs with the final release store of seqlock::Store.
  std::uint64_t Sequence(std::uint32_t slot) const {
    return Atomic(slots_[slot].sequence).load(std::memory_order_acquire);
  }
  // Games allocated now (sum over shards; approximate while changing).
  std::uint64_t Live() const;
  // Games allocated now in one shard. REQUIRES: shard < shards().
  std::uint64_t LiveInShard(std::uint32_t shard) const;

  // For tests and tools.
  GameSlot* slots() const { return slots_; }

 private:
  // Allocate's halves: take a slot and an id; publish the id and the first
  // `bytes` of state (the rest zero) under the slot's seqlock.
  std::optional<Allocation> Reserve(std::uint32_t shard);
  void Publish(const Allocation& allocation, const void* state, std::size_t bytes);
  std::optional<Allocation> Allocate(std::uint32_t shard, const void* state, std::size_t bytes) {
    std::optional<Allocation> a = Reserve(shard);
    if (a) Publish(*a, state, bytes);
    return a;
  }
  bool ReadBytes(std::uint32_t slot, void* out, std::size_t bytes, std::uint64_t* game_id,
                 std::uint64_t* sequence) const;
  void PushFree(std::uint32_t slot);
  PlaceResult PlaceBytes(std::uint64_t game_id, const void* state, std::size_t bytes);

  GameTableHeader* header_ = nullptr;
  ShardFreeList* free_lists_ = nullptr;
  GameSlot* slots_ = nullptr;
  std::uint32_t capacity_ = 0;
  std::uint32_t shards_ = 1;
  std::uint32_t node_ = 0;
};

}  // namespace hokm::shm
