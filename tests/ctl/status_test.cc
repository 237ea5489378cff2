// status_test.cc: hokmctl status against a real hokm-engine process and its
// segment: the engine alive with the games, counters, client and lag it
// has; then SIGKILLed, and status says it is dead and when it last beat.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>

#include "core/command_wire.h"
#include "shm/command_channel.h"
#include "shm/segment.h"
#include "tests/ctl/ctl_run.h"
#include "tests/fault/engine_process.h"
#include "tests/integration/process_util.h"

namespace hokm {
namespace {

using proc::AttachWhenServing;

using Clock = std::chrono::steady_clock;
using ctl::testing::RunCtl;
using nlohmann::json;

TEST(CtlStatusTest, SaysTheEngineIsAliveWithItsCountersThenDeadAfterSigkill) {
  const std::string name = "hokm-ctl-status-" + std::to_string(::getpid());
  (void)shm::Segment::Remove(name);
  const pid_t engine = proc::Spawn({HOKM_ENGINE_BIN, "--shm-name", name, "--capacity", "1000",
                                    "--ring-mb", "16", "--shards", "2", "--metrics-port", "0"});
  auto segment = AttachWhenServing(name, engine);
  ASSERT_TRUE(segment) << "hokm-engine (" << HOKM_ENGINE_BIN << ") did not start serving";
  auto client = shm::CommandClient::Register(*segment);
  ASSERT_TRUE(client.ok()) << client.status().message();

  // Three games (round robin over the shards) and one rejected command.
  std::uint64_t request = 1;
  auto call = [&](const core::Command& cmd) -> core::CommandResult {
    const std::uint64_t id = request++;
    const auto deadline = Clock::now() + std::chrono::seconds(5);
    while (core::SendCommand(*client, id, cmd) != shm::WriteResult::kOk) {
      if (Clock::now() > deadline) return core::CommandResult::kBusy;
    }
    shm::CommandResponse r{};
    while (Clock::now() < deadline) {
      if (client->TryReceive(r) && r.request_id == id) return core::ResultOf(r);
    }
    return core::CommandResult::kBusy;
  };
  for (int g = 0; g < 3; ++g) {
    core::Command create{};
    create.type = core::CommandType::kCreateGame;
    create.seed = 7 + static_cast<std::uint64_t>(g);
    ASSERT_EQ(call(create), core::CommandResult::kOk);
  }
  core::Command bogus{};
  bogus.type = core::CommandType::kJoin;
  bogus.game_id = 12345;  // no such game
  ASSERT_NE(call(bogus), core::CommandResult::kOk);

  auto r = RunCtl({"status", "--shm-name", name, "--json"});
  // No sidecar ever attached: that is a problem status reports (exit 1).
  EXPECT_EQ(r.exit_code, 1) << r.out;
  const json s = json::parse(r.out);
  EXPECT_TRUE(s["engine_alive"].get<bool>());
  EXPECT_EQ(s["engine"]["pid"].get<int>(), engine);
  EXPECT_FALSE(s["sidecar_alive"].get<bool>());
  EXPECT_EQ(s["layout_version"].get<unsigned>(), shm::kLayoutVersion);
  EXPECT_EQ(s["live_games"].get<int>(), 3);
  ASSERT_EQ(s["shards"].size(), 2u);
  std::uint64_t live = 0, accepted = 0, rejected = 0, commands = 0;
  for (const json& shard : s["shards"]) {
    live += shard["live_games"].get<std::uint64_t>();
    accepted += shard["accepted"].get<std::uint64_t>();
    rejected += shard["rejected"].get<std::uint64_t>();
    commands += shard["commands"].get<std::uint64_t>();
    // Nobody reads the rings: every record published is the sidecar's lag.
    EXPECT_EQ(shard["sidecar_lag_records"], shard["records"]);
    EXPECT_EQ(shard["ring_fill_bytes"], shard["sidecar_lag_bytes"]);
    if (shard["live_games"].get<int>() > 0) {
      EXPECT_GT(shard["ring_fill_bytes"].get<int>(), 0);
    }
  }
  EXPECT_EQ(live, 3u);
  EXPECT_EQ(accepted, 3u);
  EXPECT_EQ(rejected, 1u);
  EXPECT_EQ(commands, 4u);
  ASSERT_EQ(s["clients"].size(), 1u);
  EXPECT_EQ(s["clients"][0]["pid"].get<int>(), ::getpid());

  r = RunCtl({"status", "--shm-name", name});
  EXPECT_NE(r.out.find("engine: alive (pid " + std::to_string(engine) + ", heartbeat "),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("sidecar: never attached"), std::string::npos) << r.out;

  ::kill(engine, SIGKILL);
  EXPECT_EQ(proc::WaitExit(engine, std::chrono::seconds(10)), -SIGKILL);
  r = RunCtl({"status", "--shm-name", name});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("engine: dead (pid " + std::to_string(engine) + ", last heartbeat "),
            std::string::npos)
      << r.out;
  r = RunCtl({"status", "--shm-name", name, "--json"});
  const json dead = json::parse(r.out);
  EXPECT_FALSE(dead["engine_alive"].get<bool>());
  EXPECT_GE(dead["engine"]["heartbeat_age_s"].get<double>(), 0.0);
  EXPECT_EQ(dead["live_games"].get<int>(), 3) << "the games stay in the segment";

  // --watch --count 2: two refreshes, each a whole JSON object.
  r = RunCtl({"status", "--shm-name", name, "--json", "--watch", "--count", "2"});
  std::size_t lines = 0;
  for (std::size_t at = 0; (at = r.out.find('\n', at)) != std::string::npos; ++at) ++lines;
  EXPECT_EQ(lines, 2u) << r.out;

  (void)shm::Segment::Remove(name);
}

TEST(CtlStatusTest, NoSegmentIsAUsageErrorThatSaysHowToCreateOne) {
  auto r = RunCtl({"status", "--shm-name", "hokm-ctl-none-" + std::to_string(::getpid())});
  EXPECT_EQ(r.exit_code, 2);
  r = RunCtl({"status", "--no-such-flag"});
  EXPECT_EQ(r.exit_code, 2);
}

}  // namespace
}  // namespace hokm
