// command_channel_test.cc: clients register, send commands to their shard,
// the engine side polls and responds, and responses reach the right client.
#include "shm/command_channel.h"
#include "core/command_wire.h"

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <vector>

#include "tests/shm/test_util.h"

namespace hokm::shm {
namespace {

using testing::Deadline;
using testing::ForkChild;
using testing::ScopedSegmentName;
using testing::UniqueName;
using testing::WaitChild;
using namespace std::chrono_literals;

class CommandChannelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SegmentOptions o;
    o.name = name_.name();
    o.table_capacity = 100;
    o.shards = 2;
    o.command_ring_bytes = 1 << 12;
    o.change_ring_bytes = 1 << 12;
    o.client_slots = 3;
    o.response_ring_bytes = 1 << 10;
    auto created = Segment::Create(o);
    ASSERT_TRUE(created.ok()) << created.status().message();
    segment_ = std::make_unique<Segment>(std::move(created.value()));
  }

  static core::Command Play(std::uint64_t game_id, core::Card card) {
    core::Command c{};
    c.type = core::CommandType::kPlayCard;
    c.game_id = game_id;
    c.card = card;
    return c;
  }

  ScopedSegmentName name_{UniqueName("cmd")};
  std::unique_ptr<Segment> segment_;
};

TEST_F(CommandChannelTest, RequestReachesTheGamesShardAndTheResponseComesBack) {
  auto client = CommandClient::Register(*segment_);
  ASSERT_TRUE(client.ok()) << client.status().message();
  const std::uint64_t game_on_shard_1 = (std::uint64_t{5} << kSlotIndexBits) | 7;  // slot 7
  ASSERT_EQ(core::SendCommand(*client, 1001, Play(game_on_shard_1, 12)), WriteResult::kOk);
  EXPECT_EQ(client->in_flight(), 1u);

  CommandPort shard0(*segment_, 0);
  CommandPort shard1(*segment_, 1);
  EXPECT_EQ(shard0.Poll([](const CommandRequest&) { FAIL() << "wrong shard"; }), 0u);
  std::vector<CommandRequest> got;
  EXPECT_EQ(shard1.Poll([&](const CommandRequest& r) { got.push_back(r); }), 1u);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].request_id, 1001u);
  EXPECT_EQ(got[0].client_slot, client->slot());
  EXPECT_EQ(core::CommandOf(got[0]).game_id, game_on_shard_1);
  EXPECT_EQ(core::CommandOf(got[0]).card, 12);
  EXPECT_EQ(shard1.ring().Lag(), 0u);  // committed before handling

  CommandResponse none;
  EXPECT_FALSE(client->TryReceive(none));
  ASSERT_EQ(core::Respond(shard1, got[0], core::CommandResult::kNotYourTurn, game_on_shard_1, 17),
            WriteResult::kOk);
  CommandResponse response;
  ASSERT_TRUE(client->TryReceive(response));
  EXPECT_EQ(response.request_id, 1001u);
  EXPECT_EQ(core::ResultOf(response), core::CommandResult::kNotYourTurn);
  EXPECT_EQ(response.game_id, game_on_shard_1);
  EXPECT_EQ(response.game_seq, 17u);
  EXPECT_EQ(client->in_flight(), 0u);
}

TEST_F(CommandChannelTest, CreateGameGoesRoundRobinOverShards) {
  auto client = CommandClient::Register(*segment_);
  ASSERT_TRUE(client.ok());
  core::Command create{};
  create.type = core::CommandType::kCreateGame;
  for (int i = 0; i < 4; ++i) ASSERT_EQ(core::SendCommand(*client, i, create), WriteResult::kOk);
  CommandPort shard0(*segment_, 0);
  CommandPort shard1(*segment_, 1);
  EXPECT_EQ(shard0.Poll([](const CommandRequest&) {}), 2u);
  EXPECT_EQ(shard1.Poll([](const CommandRequest&) {}), 2u);
}

TEST_F(CommandChannelTest, ClientKeepsWithinItsResponseRing) {
  auto client = CommandClient::Register(*segment_);
  ASSERT_TRUE(client.ok());
  CommandPort shard0(*segment_, 0);
  const std::uint32_t max = client->MaxInFlight();
  ASSERT_GT(max, 0u);
  std::uint32_t sent = 0;
  std::uint32_t answered = 0;
  // Send, let the engine answer everything, never read: the client stops at
  // max and no response is lost.
  for (int i = 0; i < 1000; ++i) {
    const WriteResult r = core::SendCommand(*client, i, Play(0, 1));
    if (r == WriteResult::kFull) {
      const std::size_t n = shard0.Poll([&](const CommandRequest& req) {
        ASSERT_EQ(core::Respond(shard0, req, core::CommandResult::kOk, 0, 0), WriteResult::kOk);
        ++answered;
      });
      if (n == 0) break;
      continue;
    }
    ++sent;
  }
  EXPECT_EQ(sent, max);
  shard0.Poll([&](const CommandRequest& req) {
    ASSERT_EQ(core::Respond(shard0, req, core::CommandResult::kOk, 0, 0), WriteResult::kOk);
    ++answered;
  });
  EXPECT_EQ(answered, max);
  CommandResponse r;
  std::uint32_t received = 0;
  while (client->TryReceive(r)) {
    EXPECT_EQ(r.request_id, received);
    ASSERT_LE(++received, max);
  }
  EXPECT_EQ(received, max);
}

TEST_F(CommandChannelTest, SlotsAreExclusiveAndADeadOwnersSlotIsReclaimed) {
  std::vector<CommandClient> clients;
  for (int i = 0; i < 3; ++i) {
    auto c = CommandClient::Register(*segment_);
    ASSERT_TRUE(c.ok());
    clients.push_back(std::move(c.value()));
  }
  auto fourth = CommandClient::Register(*segment_);
  ASSERT_FALSE(fourth.ok());
  EXPECT_EQ(fourth.status().code(), Status::Code::kUnavailable);
  EXPECT_NE(fourth.status().message().find("all 3 client slots"), std::string::npos);
  const std::uint32_t freed = clients[1].slot();
  clients.erase(clients.begin() + 1);  // releases its slot
  auto again = CommandClient::Register(*segment_);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->slot(), freed);
  clients.push_back(std::move(again.value()));
  clients.erase(clients.begin());  // frees one more for the child

  // A child registers and dies without releasing: the slot is taken over.
  const std::string n = name_.name();
  const pid_t child = ForkChild([n] {
    auto s = Segment::Attach(n);
    if (!s.ok()) return 2;
    auto c = CommandClient::Register(*s);
    if (!c.ok()) return 3;
    core::Command create{};
    create.type = core::CommandType::kCreateGame;
    if (core::SendCommand(*c, 77, create) != WriteResult::kOk) return 4;
    ::_exit(0);  // no destructor: the slot stays marked with our pid
  });
  ASSERT_EQ(WaitChild(child, 30s), 0);
  // The engine answers the dead client's request after a new owner took the
  // slot: the answer is dropped, not delivered to the new owner.
  auto heir = CommandClient::Register(*segment_);
  ASSERT_TRUE(heir.ok()) << heir.status().message();
  CommandPort shard0(*segment_, 0);
  std::vector<CommandRequest> got;
  shard0.Poll([&](const CommandRequest& r) { got.push_back(r); });
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].client_slot, heir->slot());
  EXPECT_NE(got[0].client_epoch, heir->epoch());
  EXPECT_EQ(core::Respond(shard0, got[0], core::CommandResult::kOk, 1, 1), WriteResult::kOk);
  EXPECT_EQ(shard0.dropped_responses(), 1u);
  CommandResponse r;
  EXPECT_FALSE(heir->TryReceive(r));
}

TEST_F(CommandChannelTest, ClientsInOtherProcessesTalkToTheEngine) {
  constexpr int kClients = 2;
  constexpr int kRequests = 20'000;
  const std::string n = name_.name();
  std::vector<pid_t> children;
  for (int c = 0; c < kClients; ++c) {
    children.push_back(ForkChild([n, c] {
      auto s = Segment::Attach(n);
      if (!s.ok()) return 2;
      auto client = CommandClient::Register(*s);
      if (!client.ok()) return 3;
      Deadline deadline(120s);
      int sent = 0;
      int received = 0;
      std::uint64_t expected_id = 0;
      while (received < kRequests) {
        if (deadline.Expired()) return 4;
        if (sent < kRequests) {
          core::Command cmd{};
          cmd.type = core::CommandType::kPlayCard;
          cmd.game_id =
              (std::uint64_t{1} << kSlotIndexBits) | static_cast<std::uint64_t>(sent % 10);
          cmd.card = static_cast<core::Card>(c);
          if (core::SendCommand(*client, static_cast<std::uint64_t>(sent), cmd) == WriteResult::kOk)
            ++sent;
        }
        CommandResponse r;
        while (client->TryReceive(r)) {
          // Each shard answers in order; across shards order may differ, so
          // check the echo instead of the order.
          if (r.game_seq != static_cast<std::uint32_t>(r.request_id * 2 + c)) return 5;
          ++received;
          ++expected_id;
        }
      }
      return expected_id == kRequests ? 0 : 6;
    }));
  }
  std::vector<std::unique_ptr<CommandPort>> ports;
  for (std::uint32_t s = 0; s < 2; ++s)
    ports.push_back(std::make_unique<CommandPort>(*segment_, s));
  int answered = 0;
  Deadline deadline(120s);
  while (answered < kClients * kRequests && !deadline.Expired()) {
    for (auto& port : ports) {
      port->Poll([&](const CommandRequest& req) {
        const auto seq = static_cast<std::uint32_t>(req.request_id * 2 + core::CommandOf(req).card);
        ASSERT_EQ(
            core::Respond(*port, req, core::CommandResult::kOk, core::CommandOf(req).game_id, seq),
            WriteResult::kOk);
        ++answered;
      });
    }
  }
  EXPECT_EQ(answered, kClients * kRequests);
  for (pid_t pid : children) EXPECT_EQ(WaitChild(pid, 60s), 0);
}

}  // namespace
}  // namespace hokm::shm
