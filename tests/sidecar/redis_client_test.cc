// redis_client_test.cc: what the Redis client decides without a server:
// the cluster slot of a key, the tag of a slot, and that every command the
// sink plans names one slot (a Redis Cluster refuses a command or script
// on keys of two slots with CROSSSLOT). The client against a real cluster
// is in tests/integration (redis_cluster_test.cc).
#include "sidecar/redis/client.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "sidecar/redis/keys.h"
#include "sidecar/redis/redis_plan.h"
#include "tests/sidecar/test_records.h"

namespace hokm::sidecar {
namespace {

using testing::GameFinished;
using testing::OwnedRecord;

TEST(KeySlotTest, MatchesRedisClusterSlots) {
  // Values from the Redis Cluster specification and CLUSTER KEYSLOT.
  EXPECT_EQ(KeySlot("123456789"), 0x31C3 % kRedisClusterSlots);
  EXPECT_EQ(KeySlot("foo"), 12182);
  EXPECT_EQ(KeySlot("bar"), 5061);
  EXPECT_EQ(KeySlot("{user1000}.following"), KeySlot("{user1000}.followers"));
  EXPECT_EQ(KeySlot("{user1000}.following"), KeySlot("user1000"));
  // An empty tag is no tag: the whole key is hashed.
  EXPECT_EQ(KeySlot("foo{}{bar}"), KeySlot(std::string("foo{}{bar}")));
  EXPECT_NE(KeySlot("foo{}{bar}"), KeySlot("bar"));
  // Only the first {...} counts.
  EXPECT_EQ(KeySlot("foo{{bar}}zap"), KeySlot("{bar"));
  EXPECT_EQ(KeySlot("hokm:g:{42}"), KeySlot("42"));
  EXPECT_EQ(KeySlot("hokm:g:{42}"), KeySlot(keys::Game(42)));
}

TEST(KeySlotTest, EverySlotHasATagThatHashesToIt) {
  std::set<std::string> tags;
  for (std::uint32_t slot = 0; slot < kRedisClusterSlots; ++slot) {
    const std::string& tag = SlotTag(static_cast<std::uint16_t>(slot));
    ASSERT_EQ(KeySlot("hokm:marker:{" + tag + "}"), slot) << tag;
    tags.insert(tag);
  }
  EXPECT_EQ(tags.size(), kRedisClusterSlots);
}

TEST(KeysTest, AGamesKeysShareASlotAndTheGlobalSetsSpreadOverShards) {
  const std::uint64_t game = (std::uint64_t{123456} << 20) | 77;
  EXPECT_EQ(KeySlot(keys::Game(game)), KeySlot(keys::Game(game) + ":x"));
  EXPECT_EQ(keys::Active(game), "hokm:active:{" + std::to_string(game % 16) + "}");
  EXPECT_EQ(keys::Leaderboard(35), "hokm:lb:{3}");
  EXPECT_EQ(KeySlot(keys::RatedShard(3)), KeySlot(keys::LeaderboardShard(3)));
  std::set<std::uint16_t> slots;
  for (const std::string& k : keys::ActiveShards()) slots.insert(KeySlot(k));
  EXPECT_GT(slots.size(), 8u);  // spread, not one slot
}

RecordRef Ref(const OwnedRecord& r) {
  return VerifyRecord(r.bytes.data(), static_cast<std::uint32_t>(r.bytes.size()), 0);
}

// A finished game's rating is one EVAL per leaderboard shard of its
// players, each on the keys of one slot, and every planned command's slot
// is its key's.
TEST(RedisPlannerTest, EveryCommandNamesOneSlotAndARatingIsOneEvalPerShard) {
  RedisSinkOptions options;
  std::uint64_t entries = 0, scripts = 0;
  RedisPlanner plan(options, entries, scripts);
  const OwnedRecord finished = GameFinished(9, 500, 7'000'000'000, 0, 7, 3);
  const std::vector<RecordRef> records = {Ref(finished)};
  const std::vector<std::uint32_t> run = {0};
  GameMemo memo;
  memo.known = true;
  memo.state.seq = 499;
  memo.state.seats = {16, 32, 5, 21};  // shards 0, 0, 5, 5
  plan.ClearEvents();
  plan.AppendGame(records, run, memo, 8'000);
  plan.AppendEvents();
  EXPECT_EQ(scripts, 2u);
  const std::string& resp = plan.resp();
  ASSERT_EQ(plan.commands().size(), plan.size());
  int evals = 0;
  for (const PlannedCommand& c : plan.commands()) {
    const std::string cmd = resp.substr(c.begin, c.end - c.begin);
    if (cmd.find("PUBLISH") != std::string::npos) {
      EXPECT_EQ(c.slot, -1);
      continue;
    }
    ASSERT_GE(c.slot, 0) << cmd;
    if (cmd.find("$4\r\nEVAL\r\n") != std::string::npos) {
      ++evals;
      // Both keys of the script in the command's slot.
      const bool shard0 = cmd.find("hokm:lb:{0}:rated") != std::string::npos;
      const std::string lb = shard0 ? "hokm:lb:{0}" : "hokm:lb:{5}";
      EXPECT_NE(cmd.find(lb + ":rated"), std::string::npos) << cmd;
      EXPECT_NE(cmd.find("$11\r\n" + lb + "\r\n"), std::string::npos) << cmd;
      EXPECT_EQ(c.slot, KeySlot(lb));
    }
  }
  EXPECT_EQ(evals, 2);
  EXPECT_NE(resp.find("hokm:active:{9}"), std::string::npos);  // ZREM from the game's shard
}

}  // namespace
}  // namespace hokm::sidecar
