// redis_plan_test.cc: the Redis sink's planning without a server: which
// commands records become, in RESP, and what their replies mean.
#include "sidecar/redis/redis_plan.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/sidecar/test_records.h"

namespace hokm::sidecar {
namespace {

using testing::CardPlayed;
using testing::OwnedRecord;
using testing::PlayerJoined;

RecordRef Ref(const OwnedRecord& r) {
  return VerifyRecord(r.bytes.data(), static_cast<std::uint32_t>(r.bytes.size()), 0);
}

TEST(RedisPlannerTest, AGamesRunIsOneXaddWithItsPublicEvents) {
  RedisSinkOptions options;
  std::uint64_t entries = 0, scripts = 0;
  RedisPlanner plan(options, entries, scripts);
  const std::vector<OwnedRecord> owned = {CardPlayed(7, 12, 1'000'000'000, 1, 23),
                                          CardPlayed(7, 13, 1'000'000'000, 2, 24)};
  const std::vector<RecordRef> records = {Ref(owned[0]), Ref(owned[1])};
  const std::vector<std::uint32_t> run = {0, 1};
  GameMemo memo;
  memo.known = true;
  memo.state.seq = 11;
  plan.ClearEvents();
  plan.AppendGame(records, run, memo, 5'000);
  plan.AppendEvents();

  EXPECT_EQ(entries, 1u);
  EXPECT_EQ(scripts, 0u);
  EXPECT_EQ(memo.state.seq, 13u);
  ASSERT_FALSE(plan.expected().empty());
  int xadds = 0;
  for (const ExpectedReply& e : plan.expected()) {
    if (e.kind != ReplyKind::kXadd) continue;
    ++xadds;
    EXPECT_EQ(e.game_id, 7u);
    EXPECT_EQ(e.records, 2u);
  }
  EXPECT_EQ(xadds, 1);
  const std::string& resp = plan.resp();
  EXPECT_NE(resp.find("$4\r\nXADD\r\n$10\r\nhokm:g:{7}\r\n"), std::string::npos);
  EXPECT_NE(resp.find("\r\n13-0\r\n"), std::string::npos);
  EXPECT_NE(resp.find(R"([{"seq":12,"type":"CardPlayed","seat":1,"card":23},)"
                      R"({"seq":13,"type":"CardPlayed","seat":2,"card":24}])"),
            std::string::npos);
  EXPECT_NE(resp.find(R"({"games":[[7,13]]})"), std::string::npos);  // PUBLISH hokm:events
}

TEST(RedisPlannerTest, AJoinSetsThePlayersHash) {
  RedisSinkOptions options;
  std::uint64_t entries = 0, scripts = 0;
  RedisPlanner plan(options, entries, scripts);
  const OwnedRecord join = PlayerJoined(7, 2, 3'000'000, 1, 99);
  plan.AppendPlayerEffects(*Ref(join).record);
  EXPECT_EQ(plan.size(), 2u);  // HSET + PEXPIRE
  EXPECT_EQ(plan.resp().rfind("*10\r\n$4\r\nHSET\r\n$11\r\nhokm:p:{99}\r\n", 0), 0u);
  plan.Clear();
  EXPECT_TRUE(plan.resp().empty());
  EXPECT_EQ(plan.size(), 0u);
}

}  // namespace
}  // namespace hokm::sidecar
