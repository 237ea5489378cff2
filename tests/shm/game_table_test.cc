// game_table_test.cc: slot allocation, id lookup, stale ids, and seqlock
// snapshots that are never torn while the writer keeps writing.
#include "shm/game_table.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <memory>
#include <set>
#include <thread>
#include <vector>

#include "core/rules/game_state.h"  // a real state type to store (the table takes any)
#include "shm/clock.h"
#include "tests/shm/test_util.h"

namespace hokm::shm {
namespace {

using testing::Deadline;
using namespace std::chrono_literals;

class GameTableTest : public ::testing::Test {
 protected:
  struct FreeDeleter {
    void operator()(std::byte* p) const { std::free(p); }
  };
  using Memory = std::unique_ptr<std::byte, FreeDeleter>;
  static GameTable MakeIn(Memory& memory, std::uint32_t capacity, std::uint32_t shards,
                          std::uint32_t node) {
    const std::size_t bytes = GameTable::RequiredBytes(capacity, shards);
    memory.reset(static_cast<std::byte*>(std::aligned_alloc(128, (bytes + 127) / 128 * 128)));
    std::memset(memory.get(), 0, bytes);
    GameTable::Init(memory.get(), capacity, shards, node);
    return GameTable(memory.get());
  }
  void Make(std::uint32_t capacity, std::uint32_t shards, std::uint32_t node = 0) {
    table_ = MakeIn(memory_, capacity, shards, node);
  }
  Memory memory_;
  GameTable table_;
  Memory other_memory_;  // a second table, for tests of two nodes
  GameTable other_;
};

TEST_F(GameTableTest, SlotFitsTheBudget) {
  EXPECT_LE(sizeof(GameSlot), 256u);
  EXPECT_EQ(sizeof(GameSlot) % 64, 0u);
  // 1,000,000 games plus one journal slot for the one shard.
  EXPECT_EQ(GameTable::RequiredBytes(1'000'000, 1), 256u + 1'000'001u * sizeof(GameSlot));
}

TEST_F(GameTableTest, AllocateGivesGrowingIdsThatFindTheirSlot) {
  Make(100, 1);
  std::uint64_t last = 0;
  for (int i = 0; i < 10; ++i) {
    // The first state is the user's, published with the id.
    auto a = table_.Allocate(0, [](std::uint64_t id) {
      core::GameState first{};
      first.game_id = id;
      return first;
    });
    ASSERT_TRUE(a.has_value());
    EXPECT_GT(a->game_id, last);
    last = a->game_id;
    EXPECT_EQ(GameTable::SlotOf(a->game_id), a->slot);
    EXPECT_EQ(table_.Find(a->game_id), static_cast<std::int64_t>(a->slot));
    core::GameState s;
    ASSERT_EQ(table_.ReadGame(a->game_id, s), ReadResult::kOk);
    EXPECT_EQ(s.game_id, a->game_id);
    EXPECT_EQ(s.phase, core::Phase::kEmpty);
  }
  EXPECT_EQ(table_.Live(), 10u);
}

TEST_F(GameTableTest, StaleIdIsNotFoundAfterFreeAndReuse) {
  Make(4, 1);
  auto a = table_.Allocate();
  ASSERT_TRUE(a.has_value());
  ASSERT_TRUE(table_.Free(a->game_id));
  EXPECT_FALSE(table_.Free(a->game_id));  // twice: no
  EXPECT_EQ(table_.Find(a->game_id), -1);
  auto b = table_.Allocate();
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(b->slot, a->slot);  // the freed slot is reused first
  EXPECT_NE(b->game_id, a->game_id);
  EXPECT_EQ(table_.Find(a->game_id), -1);
  core::GameState s;
  EXPECT_EQ(table_.ReadGame(a->game_id, s), ReadResult::kNoSuchGame);
  EXPECT_EQ(table_.ReadGame(b->game_id, s), ReadResult::kOk);
  EXPECT_EQ(table_.Find(0), -1);
  EXPECT_EQ(table_.Find((std::uint64_t{7} << kSlotIndexBits) | 4), -1);  // slot beyond capacity
}

TEST_F(GameTableTest, FullTableRefusesAndRecoversAfterFree) {
  Make(3, 1);
  std::vector<GameTable::Allocation> got;
  for (int i = 0; i < 3; ++i) got.push_back(*table_.Allocate());
  EXPECT_FALSE(table_.Allocate().has_value());
  ASSERT_TRUE(table_.Free(got[1].game_id));
  auto again = table_.Allocate();
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->slot, got[1].slot);
}

TEST_F(GameTableTest, ShardsOwnSlotsModuloShardCount) {
  Make(10, 3);
  for (std::uint32_t shard = 0; shard < 3; ++shard) {
    int n = 0;
    while (auto a = table_.Allocate(shard)) {
      EXPECT_EQ(a->slot % 3, shard);
      EXPECT_EQ(table_.ShardOf(a->game_id), shard);
      ASSERT_LT(++n, 10);
    }
    EXPECT_EQ(n, shard == 0 ? 4 : 3);  // slots 0,3,6,9 / 1,4,7 / 2,5,8
  }
}

TEST_F(GameTableTest, WriteIsSeenByReadAndUnsafe) {
  Make(8, 1);
  auto a = *table_.Allocate();
  core::GameState s = table_.Unsafe<core::GameState>(a.slot);
  s.phase = core::Phase::kPlaying;
  s.seq = 42;
  s.points[1] = 5;
  const std::uint64_t before = table_.Sequence(a.slot);
  table_.Write(a.slot, s);
  EXPECT_EQ(table_.Sequence(a.slot), before + 2);
  EXPECT_EQ(table_.Unsafe<core::GameState>(a.slot).seq, 42u);
  core::GameState out;
  std::uint64_t id = 0;
  ASSERT_TRUE(table_.Read(a.slot, out, &id));
  EXPECT_EQ(id, a.game_id);
  EXPECT_EQ(std::memcmp(&out, &s, sizeof(s)), 0);
}

TEST_F(GameTableTest, ConcurrentAllocateAndFreeNeverHandsASlotOutTwice) {
  constexpr std::uint32_t kCapacity = 256;
  constexpr int kThreads = 4;
  constexpr int kRounds = 20'000;
  Make(kCapacity, 1);
  std::vector<std::atomic<int>> owner(kCapacity);
  for (auto& o : owner) o.store(-1);
  std::atomic<int> errors{0};
  Deadline deadline(120s);
  std::vector<std::vector<std::uint64_t>> issued(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::vector<GameTable::Allocation> held;
      for (int round = 0; round < kRounds && !deadline.Expired(); ++round) {
        if (held.size() < 40 && (round % 3 != 2 || held.empty())) {
          auto a = table_.Allocate();
          if (!a) continue;  // momentarily full: fine
          int expected = -1;
          if (!owner[a->slot].compare_exchange_strong(expected, t)) errors.fetch_add(1);
          if (table_.Find(a->game_id) != static_cast<std::int64_t>(a->slot)) errors.fetch_add(1);
          issued[t].push_back(a->game_id);
          core::GameState s = table_.Unsafe<core::GameState>(a->slot);
          s.seed = a->game_id;
          table_.Write(a->slot, s);
          held.push_back(*a);
        } else {
          auto a = held.back();
          held.pop_back();
          if (table_.Unsafe<core::GameState>(a.slot).seed != a.game_id) errors.fetch_add(1);
          owner[a.slot].store(-1);
          if (!table_.Free(a.game_id)) errors.fetch_add(1);
          if (table_.Find(a.game_id) != -1) errors.fetch_add(1);
        }
      }
      for (auto& a : held) {
        owner[a.slot].store(-1);
        if (!table_.Free(a.game_id)) errors.fetch_add(1);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_FALSE(deadline.Expired());
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(table_.Live(), 0u);
  // Tens of thousands of games in 256 slots within a few ticks of the
  // clock: never one id twice.
  std::set<std::uint64_t> ids;
  std::size_t total = 0;
  for (const auto& v : issued) {
    total += v.size();
    ids.insert(v.begin(), v.end());
  }
  EXPECT_EQ(ids.size(), total) << "an id was issued twice";
  // Everything came back: the whole table can be allocated again, once.
  std::set<std::uint32_t> slots;
  while (auto a = table_.Allocate()) {
    ASSERT_TRUE(slots.insert(a->slot).second);
    ASSERT_LE(slots.size(), kCapacity);
  }
  EXPECT_EQ(slots.size(), kCapacity);
}

// Every field derived from one counter, so a mix of two writes shows.
core::GameState StateFromCounter(std::uint64_t k, std::uint64_t game_id) {
  core::GameState s;
  std::memset(static_cast<void*>(&s), 0, sizeof(s));
  s.game_id = game_id;
  s.seed = k;
  s.rng = k * 3;
  for (int i = 0; i < core::kSeats; ++i) {
    s.player_ids[i] = k + i;
    s.hands[i] = k ^ (0x1111ull << i);
    s.pending[i] = ~k + i;
    s.trick[i] = static_cast<core::Card>((k + i) % 52);
  }
  s.seq = static_cast<std::uint32_t>(k);
  s.hand_no = static_cast<std::uint16_t>(k);
  for (int i = 0; i < core::kRoomCodeLen; ++i) s.room[i] = static_cast<char>('a' + (k + i) % 26);
  s.phase = static_cast<core::Phase>(k % 6);
  s.hakem = static_cast<std::uint8_t>(k % 4);
  s.turn = static_cast<std::uint8_t>((k + 1) % 4);
  s.leader = static_cast<std::uint8_t>((k + 2) % 4);
  s.trick_no = static_cast<std::uint8_t>(k % 13);
  s.trick_size = static_cast<std::uint8_t>(k % 5);
  s.tricks[0] = static_cast<std::uint8_t>(k);
  s.tricks[1] = static_cast<std::uint8_t>(k >> 8);
  s.points[0] = static_cast<std::uint8_t>(k >> 16);
  s.points[1] = static_cast<std::uint8_t>(k >> 24);
  s.winner_team = static_cast<std::uint8_t>(k & 1);
  return s;
}

TEST_F(GameTableTest, ReaderHammeringAChangingSlotNeverSeesATornState) {
  Make(4, 1);
  const auto a = *table_.Allocate();
  constexpr std::uint64_t kWrites = 300'000;
  std::atomic<bool> done{false};
  std::atomic<std::uint64_t> torn{0};
  std::atomic<std::uint64_t> reads{0};
  std::atomic<std::uint64_t> distinct{0};
  Deadline deadline(120s);
  std::vector<std::thread> readers;
  for (int r = 0; r < 2; ++r) {
    readers.emplace_back([&] {
      std::uint64_t last = ~std::uint64_t{0};
      std::uint64_t n = 0;
      while (!done.load(std::memory_order_acquire) && !deadline.Expired()) {
        core::GameState s;
        const ReadResult result = table_.ReadGame(a.game_id, s);
        // kBusy: a writer writing back to back outran every attempt (it can
        // under a sanitizer); that is a refusal, never a torn state.
        if (result == ReadResult::kBusy) continue;
        ASSERT_EQ(result, ReadResult::kOk);
        ++n;
        if (s.seed == 0 && s.rng == 0) continue;  // before the first write
        const core::GameState expected = StateFromCounter(s.seed, a.game_id);
        if (std::memcmp(&s, &expected, sizeof(s)) != 0) torn.fetch_add(1);
        if (s.seed != last) {
          distinct.fetch_add(1);
          last = s.seed;
        }
      }
      reads.fetch_add(n);
    });
  }
  for (std::uint64_t k = 1; k <= kWrites && !deadline.Expired(); ++k) {
    table_.Write(a.slot, StateFromCounter(k, a.game_id));
  }
  done.store(true, std::memory_order_release);
  for (auto& t : readers) t.join();
  EXPECT_FALSE(deadline.Expired());
  EXPECT_EQ(torn.load(), 0u);
  EXPECT_GT(reads.load(), 0u);
  EXPECT_GT(distinct.load(), 1u);
  EXPECT_EQ(table_.Sequence(a.slot) % 2, 0u);
  core::GameState last;
  ASSERT_TRUE(table_.Read(a.slot, last));
  EXPECT_EQ(last.seed, kWrites);
}

TEST_F(GameTableTest, ReadGivesUpOnASlotLeftMidWrite) {
  Make(2, 1);
  auto a = *table_.Allocate();
  table_.slots()[a.slot].sequence += 1;  // as if the writer died mid-write
  core::GameState s;
  EXPECT_EQ(table_.ReadGame(a.game_id, s), ReadResult::kBusy);
}

// A writer killed inside Write: the slot's sequence is odd and its words
// half old, half new. The journal written before it completes the write.
TEST_F(GameTableTest, TornWriteIsFinishedFromTheShardJournal) {
  Make(16, 2);
  auto a = table_.Allocate(1);
  ASSERT_TRUE(a.has_value());
  core::GameState before{}, after{};
  before.game_id = after.game_id = a->game_id;
  before.seq = 5;
  after.seq = 6;
  after.points[0] = 3;
  table_.Write(a->slot, before);
  table_.WriteJournal(1, a->slot, after);
  // Tear it: sequence odd, only the first word of `after` stored.
  GameSlot& slot = table_.slots()[a->slot];
  slot.sequence += 1;
  std::memcpy(static_cast<void*>(slot.state), &after, 8);
  core::GameState read{};
  EXPECT_EQ(table_.ReadGame(a->game_id, read), ReadResult::kBusy);

  const GameTable::Repair repair = table_.RepairTornSlots();
  EXPECT_EQ(repair.from_journal, 1u);
  EXPECT_EQ(repair.freed, 0u);
  ASSERT_EQ(table_.ReadGame(a->game_id, read), ReadResult::kOk);
  EXPECT_EQ(read.seq, 6u);
  EXPECT_EQ(read.points[0], 3);
  EXPECT_EQ(table_.Sequence(a->slot) % 2, 0u);
}

// A slot torn with no journal naming it (a torn Allocate or Free) is freed
// and handed out again.
TEST_F(GameTableTest, TornSlotWithoutJournalIsFreed) {
  Make(1, 1);
  auto a = table_.Allocate(0);
  ASSERT_TRUE(a.has_value());
  EXPECT_FALSE(table_.Allocate(0).has_value());  // full
  table_.slots()[a->slot].sequence += 1;         // torn
  const GameTable::Repair repair = table_.RepairTornSlots();
  EXPECT_EQ(repair.freed, 1u);
  EXPECT_EQ(table_.Find(a->game_id), -1);
  auto b = table_.Allocate(0);
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(b->slot, a->slot);
}

// A journal left odd (its writer died while journaling) never touches the
// game's slot, which is still whole.
TEST_F(GameTableTest, OddJournalLeavesTheSlotAlone) {
  Make(4, 1);
  auto a = table_.Allocate(0);
  ASSERT_TRUE(a.has_value());
  core::GameState state{};
  state.game_id = a->game_id;
  state.seq = 9;
  table_.Write(a->slot, state);
  core::GameState other = state;
  other.seq = 10;
  table_.WriteJournal(0, a->slot, other);
  table_.slots()[4].sequence += 1;  // the journal slot, torn
  EXPECT_EQ(table_.RepairTornSlots().from_journal, 0u);
  core::GameState read{};
  ASSERT_EQ(table_.ReadGame(a->game_id, read), ReadResult::kOk);
  EXPECT_EQ(read.seq, 9u);
}

// The table is mechanism only: any trivially copyable state that fits a slot
// goes in, and what a reader gets back is what the writer stored.
TEST_F(GameTableTest, PlacedGamesKeepTheirSlotsAndLaterIdsAreAbove) {
  Make(64, 2);
  // Ids of another, older table: creation numbers far above this table's
  // (2^35 + the clock's, near 2^33 in 2026), of this node and another.
  const std::uint64_t far = std::uint64_t{1} << 36;
  const std::uint64_t placed[] = {MakeGameId(far, 0, 9), MakeGameId(far + 5, 3, 2),
                                  MakeGameId(far + 7, 0, 20)};
  for (const std::uint64_t id : placed) {
    core::GameState s{};
    s.game_id = id;
    ASSERT_EQ(table_.Place(id, s), GameTable::PlaceResult::kOk);
    EXPECT_EQ(table_.Find(id), static_cast<std::int64_t>(GameTable::SlotOf(id)));
  }
  core::GameState none{};
  EXPECT_EQ(table_.Place(MakeGameId(far, 0, 64), none), GameTable::PlaceResult::kOutOfRange);
  EXPECT_EQ(table_.Place(MakeGameId(far + 9, 0, 9), none), GameTable::PlaceResult::kSlotTaken);
  table_.RebuildFreeLists();
  EXPECT_EQ(table_.Live(), 3u);
  // Every other slot is handed out once, never a placed one, with an id
  // above every placed id.
  std::set<std::uint32_t> slots;
  for (std::uint32_t shard = 0; shard < 2; ++shard) {
    while (auto a = table_.Allocate(shard)) {
      EXPECT_GT(a->game_id, placed[2]);
      EXPECT_EQ(NodeOf(a->game_id), 0u);
      EXPECT_TRUE(slots.insert(a->slot).second) << "slot " << a->slot << " handed out twice";
      EXPECT_NE(a->slot, 9u);
      EXPECT_NE(a->slot, 2u);
      EXPECT_NE(a->slot, 20u);
    }
  }
  EXPECT_EQ(slots.size(), 64u - 3u);
}

TEST(GameIdTest, NodeSlotAndCreationRoundTripThroughTheirBits) {
  static_assert(kSlotIndexBits + kNodeBits + kCreationBits == 64);
  static_assert(kCreationShift == 26 && kMaxNodeId == 63);
  for (const std::uint64_t creation :
       {std::uint64_t{0}, std::uint64_t{1}, std::uint64_t{9'000'000'001}, kMaxCreationNumber}) {
    for (const std::uint32_t node : {0u, 1u, 2u, 42u, kMaxNodeId}) {
      for (const std::uint32_t slot : {0u, 1u, 777u, kMaxTableCapacity - 1}) {
        const std::uint64_t id = MakeGameId(creation, node, slot);
        EXPECT_EQ(CreationOf(id), creation);
        EXPECT_EQ(NodeOf(id), node);
        EXPECT_EQ(SlotOfId(id), slot);
        EXPECT_EQ(GameTable::SlotOf(id), slot);
      }
    }
  }
  // Time orders ids before node and slot do (PostgreSQL's id ranges).
  EXPECT_LT(MakeGameId(5, kMaxNodeId, kMaxTableCapacity - 1), MakeGameId(6, 0, 0));
  EXPECT_LT(MakeGameId(5, 1, kMaxTableCapacity - 1), MakeGameId(5, 2, 0));
  // 2^35 + 10 ms units since 2024-01-01.
  EXPECT_EQ(CreationNumberAt(kCreationEpochUnixNs + 25'000'000), kCreationBase + 2);
  EXPECT_EQ(CreationNumberAt(0), kCreationBase);
  // Above every id of the layout before (100 us units << 20 | slot) issued
  // until December 2030, and positive bigints until 2056.
  const std::uint64_t dec2030_ns = 1'922'313'600ull * 1'000'000'000ull;  // 2030-12-01
  const std::uint64_t old_layout_max =
      ((dec2030_ns - kCreationEpochUnixNs) / 100'000) << kSlotIndexBits | kSlotIndexMask;
  EXPECT_GT(MakeGameId(CreationNumberAt(0), 0, 0), old_layout_max);
  const std::uint64_t y2056_ns = 2'713'910'400ull * 1'000'000'000ull;  // 2056-01-01
  EXPECT_LT(MakeGameId(CreationNumberAt(y2056_ns), kMaxNodeId, kMaxTableCapacity - 1),
            std::uint64_t{1} << 63);
}

TEST_F(GameTableTest, IdsCarryTheTableNodeAndTheWallClock) {
  Make(16, 1, /*node=*/37);
  EXPECT_EQ(table_.node(), 37u);
  const std::uint64_t before = CreationNumberAt(RealtimeNowNs());
  auto a = table_.Allocate(0);
  const std::uint64_t after = CreationNumberAt(RealtimeNowNs());
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(NodeOf(a->game_id), 37u);
  EXPECT_EQ(SlotOfId(a->game_id), a->slot);
  EXPECT_GE(CreationOf(a->game_id), before);
  EXPECT_LE(CreationOf(a->game_id), after);
}

TEST_F(GameTableTest, ASlotReusedManyTimesWithinATickGetsStrictlyIncreasingIds) {
  Make(1, 1);
  constexpr int kGames = 5000;  // far more than one slot's share of one 10 ms tick
  std::set<std::uint64_t> ids;
  std::uint64_t last = 0;
  const std::uint64_t start = CreationNumberAt(RealtimeNowNs());
  for (int i = 0; i < kGames; ++i) {
    auto a = table_.Allocate(0);
    ASSERT_TRUE(a.has_value());
    ASSERT_EQ(a->slot, 0u);
    ASSERT_GT(a->game_id, last) << "game " << i;
    last = a->game_id;
    ids.insert(a->game_id);
    ASSERT_TRUE(table_.Free(a->game_id));
  }
  EXPECT_EQ(ids.size(), static_cast<std::size_t>(kGames));
  // The slot's number ran ahead of the clock by one per game at most.
  EXPECT_LE(CreationOf(last), std::max(start + kGames, CreationNumberAt(RealtimeNowNs())));
}

TEST_F(GameTableTest, TablesOfNodes1And2CreatedAtTheSameInstantIssueDisjointIds) {
  // Same capacity, same slots, same clock ticks: only the node tells them apart.
  Make(8, 1, /*node=*/1);
  other_ = MakeIn(other_memory_, 8, 1, /*node=*/2);
  std::set<std::uint64_t> ids_1;
  std::set<std::uint64_t> ids_2;
  for (int i = 0; i < 2000; ++i) {
    auto a = table_.Allocate(0);
    auto b = other_.Allocate(0);
    ASSERT_TRUE(a.has_value() && b.has_value());
    EXPECT_EQ(a->slot, b->slot);
    EXPECT_EQ(CreationOf(a->game_id), CreationOf(b->game_id));  // the same instant
    EXPECT_EQ(NodeOf(a->game_id), 1u);
    EXPECT_EQ(NodeOf(b->game_id), 2u);
    ids_1.insert(a->game_id);
    ids_2.insert(b->game_id);
    if (i % 3 != 0) {  // keep some games, free others: slots are reused
      ASSERT_TRUE(table_.Free(a->game_id));
      ASSERT_TRUE(other_.Free(b->game_id));
    } else if (table_.Live() == 8) {
      for (std::uint32_t slot = 0; slot < 8; ++slot) {
        (void)table_.Free(table_.GameIdAt(slot));
        (void)other_.Free(other_.GameIdAt(slot));
      }
    }
  }
  std::vector<std::uint64_t> both;
  std::set_intersection(ids_1.begin(), ids_1.end(), ids_2.begin(), ids_2.end(),
                        std::back_inserter(both));
  EXPECT_TRUE(both.empty()) << both.size() << " ids issued by both nodes";
  EXPECT_EQ(ids_1.size(), 2000u);
  EXPECT_EQ(ids_2.size(), 2000u);
}

TEST_F(GameTableTest, APlacedGameFreedLeavesItsSlotAboveIt) {
  Make(4, 1);
  // A restored game far ahead of the clock (its old engine reused the slot
  // fast), placed in slot 2, then finished and freed.
  const std::uint64_t placed = MakeGameId(CreationNumberAt(RealtimeNowNs()) + 100'000, 0, 2);
  core::GameState s{};
  ASSERT_EQ(table_.Place(placed, s), GameTable::PlaceResult::kOk);
  table_.RebuildFreeLists();
  ASSERT_TRUE(table_.Free(placed));
  bool reused = false;
  while (auto a = table_.Allocate(0)) {
    EXPECT_GT(a->game_id, placed);
    reused = reused || a->slot == 2;
  }
  EXPECT_TRUE(reused);
}

TEST_F(GameTableTest, ATornAllocateRepairedLeavesItsSlotAboveTheTornId) {
  Make(1, 1);
  std::uint64_t last = 0;
  for (int i = 0; i < 50; ++i) {  // run the slot's number ahead of the clock
    auto a = table_.Allocate(0);
    ASSERT_TRUE(a.has_value());
    last = a->game_id;
    ASSERT_TRUE(table_.Free(a->game_id));
  }
  auto torn = table_.Allocate(0);
  ASSERT_TRUE(torn.has_value());
  ASSERT_GT(torn->game_id, last);
  table_.slots()[0].sequence += 1;  // killed inside the write
  ASSERT_EQ(table_.RepairTornSlots().freed, 1u);
  auto next = table_.Allocate(0);
  ASSERT_TRUE(next.has_value());
  EXPECT_GT(next->game_id, torn->game_id);
}

TEST(GameTableStateTest, HoldsAStateTypeOfItsUser) {
  struct Counter {
    std::uint64_t hits;
    std::uint64_t misses;
  };
  static_assert(SlotState<Counter>);
  static_assert(!SlotState<std::byte[kSlotStateBytes + 8]>);
  const std::size_t bytes = GameTable::RequiredBytes(8, 1);
  std::vector<std::byte> memory(bytes + 128);
  void* aligned = reinterpret_cast<void*>((reinterpret_cast<std::uintptr_t>(memory.data()) + 127) &
                                          ~std::uintptr_t{127});
  GameTable::Init(aligned, 8, 1);
  GameTable table(aligned);
  auto a = table.Allocate(0, [](std::uint64_t id) { return Counter{id, 0}; });
  ASSERT_TRUE(a.has_value());
  Counter read{};
  ASSERT_EQ(table.ReadGame(a->game_id, read), ReadResult::kOk);
  EXPECT_EQ(read.hits, a->game_id);
  table.Write(a->slot, Counter{7, 9});
  ASSERT_EQ(table.ReadGame(a->game_id, read), ReadResult::kOk);
  EXPECT_EQ(read.hits, 7u);
  EXPECT_EQ(read.misses, 9u);
  EXPECT_EQ(table.Unsafe<Counter>(a->slot).misses, 9u);
}

}  // namespace
}  // namespace hokm::shm
