// game_table.cc: slot allocation (per-shard Treiber stacks) and snapshots.
#include "shm/game_table.h"

#include <algorithm>
#include <vector>

#include <cstring>

#include "shm/clock.h"

namespace hokm::shm {

namespace {

constexpr std::uint64_t kTagUnit = std::uint64_t{1} << 32;
constexpr std::uint64_t kIndexMask = kTagUnit - 1;

// The seqlocked part of a slot, as a reader copies it out.
struct SlotSnapshot {
  std::uint64_t game_id;
  alignas(8) std::byte state[kSlotStateBytes];
};
static_assert(sizeof(SlotSnapshot) == sizeof(std::uint64_t) + kSlotStateBytes);
static_assert(offsetof(SlotSnapshot, state) ==
              offsetof(GameSlot, state) - offsetof(GameSlot, game_id));

}  // namespace

void GameTable::Init(void* memory, std::uint32_t capacity, std::uint32_t shards,
                     std::uint32_t node) {
  auto* header = static_cast<GameTableHeader*>(memory);
  std::memset(static_cast<void*>(header), 0, SlotsOffset(shards));
  header->capacity = capacity;
  header->shards = shards;
  header->slot_bytes = sizeof(GameSlot);
  header->node = node;
}

GameTable::GameTable(void* memory)
    : header_(static_cast<GameTableHeader*>(memory)),
      free_lists_(reinterpret_cast<ShardFreeList*>(static_cast<std::byte*>(memory) +
                                                   sizeof(GameTableHeader))),
      capacity_(header_->capacity),
      shards_(header_->shards),
      node_(header_->node) {
  slots_ = reinterpret_cast<GameSlot*>(static_cast<std::byte*>(memory) + SlotsOffset(shards_));
}

std::optional<GameTable::Allocation> GameTable::Reserve(std::uint32_t shard) {
  ShardFreeList& list = free_lists_[shard];
  auto head_ref = Atomic(list.head);
  std::uint32_t slot = 0;
  bool found = false;
  // Acquire: pairs with the release CAS in Free, so the link we read and the
  // freed slot's contents are those the freeing thread wrote.
  std::uint64_t head = head_ref.load(std::memory_order_acquire);
  while ((head & kIndexMask) != 0) {
    const std::uint32_t top = static_cast<std::uint32_t>(head & kIndexMask) - 1;
    // May be stale if another thread pops `top` meanwhile: the tag makes our
    // CAS fail then.
    const std::uint64_t next = Atomic(slots_[top].next_free).load(std::memory_order_relaxed);
    const std::uint64_t desired = ((head & ~kIndexMask) + kTagUnit) | next;
    // Acquire on success: as above. On failure `head` is reloaded (acquire).
    if (head_ref.compare_exchange_weak(head, desired, std::memory_order_acquire,
                                       std::memory_order_acquire)) {
      slot = top;
      found = true;
      break;
    }
  }
  if (!found) {
    // Never-used slots of this shard: shard, shard + shards, ...
    const std::uint64_t per_shard = (std::uint64_t{capacity_} - shard + shards_ - 1) / shards_;
    auto unused_ref = Atomic(list.next_unused);
    std::uint64_t n = unused_ref.load(std::memory_order_relaxed);
    do {
      if (n >= per_shard) return std::nullopt;
    } while (!unused_ref.compare_exchange_weak(n, n + 1, std::memory_order_relaxed,
                                               std::memory_order_relaxed));
    slot = static_cast<std::uint32_t>(shard + n * shards_);
  }
  // The slot is ours alone now: its last_id came with it (the acquire pop
  // above, or zero for a never-used slot). Written before the game is
  // published, so a writer killed in Publish leaves the slot's memory right.
  auto last = Atomic(slots_[slot].last_id);
  const std::uint64_t floor = Atomic(header_->creation_floor).load(std::memory_order_relaxed);
  const std::uint64_t number =
      std::max({CreationNumberAt(RealtimeNowNs()),
                CreationOf(last.load(std::memory_order_relaxed)) + 1, floor + 1});
  const std::uint64_t game_id = MakeGameId(number, node_, slot);
  last.store(game_id, std::memory_order_relaxed);
  return Allocation{slot, game_id};
}

void GameTable::Publish(const Allocation& allocation, const void* state, std::size_t bytes) {
  SlotSnapshot fresh;
  std::memset(static_cast<void*>(&fresh), 0, sizeof(fresh));
  fresh.game_id = allocation.game_id;
  std::memcpy(fresh.state, state, bytes);
  GameSlot& s = slots_[allocation.slot];
  seqlock::Store(s.sequence, &s.game_id, &fresh, sizeof(fresh));
  Atomic(free_lists_[ShardOfSlot(allocation.slot)].live).fetch_add(1, std::memory_order_relaxed);
}

bool GameTable::Free(std::uint64_t game_id) {
  const std::int64_t found = Find(game_id);
  if (found < 0) return false;
  const auto slot = static_cast<std::uint32_t>(found);
  GameSlot& s = slots_[slot];
  SlotSnapshot empty;
  std::memset(static_cast<void*>(&empty), 0, sizeof(empty));
  seqlock::Store(s.sequence, &s.game_id, &empty, sizeof(empty));
  PushFree(slot);
  return true;
}

void GameTable::PushFree(std::uint32_t slot) {
  GameSlot& s = slots_[slot];
  ShardFreeList& list = free_lists_[ShardOfSlot(slot)];
  Atomic(list.live).fetch_sub(1, std::memory_order_relaxed);
  auto head_ref = Atomic(list.head);
  std::uint64_t head = head_ref.load(std::memory_order_relaxed);
  for (;;) {
    Atomic(s.next_free)
        .store(static_cast<std::uint32_t>(head & kIndexMask), std::memory_order_relaxed);
    const std::uint64_t desired = ((head & ~kIndexMask) + kTagUnit) | (std::uint64_t{slot} + 1);
    // Release: pairs with the acquire loads of the head in Allocate: the link
    // and the slot's final state go with the slot to its next owner.
    if (head_ref.compare_exchange_weak(head, desired, std::memory_order_release,
                                       std::memory_order_relaxed)) {
      return;
    }
  }
}

GameTable::PlaceResult GameTable::PlaceBytes(std::uint64_t game_id, const void* state,
                                             std::size_t bytes) {
  const std::uint32_t slot = SlotOf(game_id);
  if (game_id == 0 || slot >= capacity_) return PlaceResult::kOutOfRange;
  if (GameIdAt(slot) != 0) return PlaceResult::kSlotTaken;
  Publish(Allocation{slot, game_id}, state, bytes);
  const std::uint32_t shard = ShardOfSlot(slot);
  auto unused = Atomic(free_lists_[shard].next_unused);
  const std::uint64_t past = slot / shards_ + 1;  // the slot's index among its shard's, plus 1
  if (unused.load(std::memory_order_relaxed) < past) unused.store(past, std::memory_order_relaxed);
  auto last = Atomic(slots_[slot].last_id);
  if (CreationOf(last.load(std::memory_order_relaxed)) < CreationOf(game_id)) {
    last.store(game_id, std::memory_order_relaxed);
  }
  auto floor = Atomic(header_->creation_floor);
  if (floor.load(std::memory_order_relaxed) < CreationOf(game_id)) {
    floor.store(CreationOf(game_id), std::memory_order_relaxed);
  }
  return PlaceResult::kOk;
}

void GameTable::RebuildFreeLists() {
  for (std::uint32_t shard = 0; shard < shards_; ++shard) {
    ShardFreeList& list = free_lists_[shard];
    const std::uint64_t used = Atomic(list.next_unused).load(std::memory_order_relaxed);
    // Pushed from the highest index down, so Allocate hands out low slots first.
    std::uint64_t head =
        (Atomic(list.head).load(std::memory_order_relaxed) & ~kIndexMask) + kTagUnit;
    for (std::uint64_t n = used; n-- > 0;) {
      const auto slot = static_cast<std::uint32_t>(shard + n * shards_);
      if (GameIdAt(slot) != 0) continue;
      Atomic(slots_[slot].next_free)
          .store(static_cast<std::uint32_t>(head & kIndexMask), std::memory_order_relaxed);
      head = (head & ~kIndexMask) | (std::uint64_t{slot} + 1);
    }
    // Release: pairs with the acquire loads of the head in Reserve (the links).
    Atomic(list.head).store(head, std::memory_order_release);
  }
}

GameTable::Repair GameTable::RepairTornSlots() {
  Repair repair;
  std::vector<bool> journaled(capacity_, false);
  for (std::uint32_t shard = 0; shard < shards_; ++shard) {
    GameSlot& j = slots_[capacity_ + shard];
    const std::uint64_t seq = Atomic(j.sequence).load(std::memory_order_acquire);
    const std::uint32_t target = Atomic(j.reserved).load(std::memory_order_relaxed);
    // An odd journal: its writer died before touching the target slot.
    if (seq == 0 || (seq & 1) != 0 || target >= capacity_) continue;
    GameSlot& t = slots_[target];
    const std::uint64_t t_seq = Atomic(t.sequence).load(std::memory_order_acquire);
    if ((t_seq & 1) == 0) continue;
    // Finish the torn Write with the journal's copy, then close the seqlock.
    auto* out = reinterpret_cast<std::uint64_t*>(t.state);
    const auto* in = reinterpret_cast<const std::uint64_t*>(j.state);
    for (std::size_t i = 0; i < kSlotStateBytes / 8; ++i) {
      std::atomic_ref<std::uint64_t>(out[i]).store(
          std::atomic_ref<std::uint64_t>(const_cast<std::uint64_t&>(in[i]))
              .load(std::memory_order_relaxed),
          std::memory_order_relaxed);
    }
    Atomic(t.sequence).store(t_seq + 1, std::memory_order_release);
    journaled[target] = true;
    ++repair.from_journal;
  }
  for (std::uint32_t slot = 0; slot < capacity_; ++slot) {
    GameSlot& s = slots_[slot];
    const std::uint64_t seq = Atomic(s.sequence).load(std::memory_order_acquire);
    if ((seq & 1) == 0 || journaled[slot]) continue;
    // A torn Allocate or Free: nothing of this game is owed to anyone.
    SlotSnapshot empty;
    std::memset(static_cast<void*>(&empty), 0, sizeof(empty));
    auto* out = reinterpret_cast<std::uint64_t*>(&s.game_id);
    const auto* in = reinterpret_cast<const std::uint64_t*>(&empty);
    for (std::size_t i = 0; i < sizeof(empty) / 8; ++i) {
      std::atomic_ref<std::uint64_t>(out[i]).store(in[i], std::memory_order_relaxed);
    }
    Atomic(s.sequence).store(seq + 1, std::memory_order_release);
    PushFree(slot);
    ++repair.freed;
  }
  return repair;
}

bool GameTable::ReadBytes(std::uint32_t slot, void* out, std::size_t bytes, std::uint64_t* game_id,
                          std::uint64_t* sequence) const {
  const GameSlot& s = slots_[slot];
  SlotSnapshot snapshot;
  // Copies only the id and the user's state: a smaller state reads fewer words.
  const std::size_t words = (sizeof(std::uint64_t) + bytes + 7) / 8 * 8;
  if (!seqlock::Load(s.sequence, &s.game_id, &snapshot, words, 1 << 20, sequence)) {
    return false;
  }
  std::memcpy(out, snapshot.state, bytes);
  if (game_id != nullptr) *game_id = snapshot.game_id;
  return true;
}

std::uint64_t GameTable::Live() const {
  std::uint64_t live = 0;
  for (std::uint32_t i = 0; i < shards_; ++i) live += LiveInShard(i);
  return live;
}

std::uint64_t GameTable::LiveInShard(std::uint32_t shard) const {
  return Atomic(free_lists_[shard].live).load(std::memory_order_relaxed);
}

}  // namespace hokm::shm
