// engine_wait_test.cc: hokm-engine with --wait park: a parked shard is woken
// by a client's command, a client parked on its response ring is served by
// a restarted engine after the first was SIGKILLed, and SIGTERM ends a
// parked engine at once. Every park here lasts up to a minute
// (--wait-timeout-ms 60000), so only a real wake-up passes in time.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <thread>

#include "core/command_wire.h"
#include "shm/command_channel.h"
#include "shm/segment.h"
#include "shm/wait_strategy.h"
#include "tests/fault/engine_process.h"
#include "tests/integration/process_util.h"

namespace hokm {
namespace {

using proc::AttachWhenServing;

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// Far beyond every budget below: a park that ends at its timeout fails the
// test instead of rescuing a lost wake-up.
constexpr const char* kParkTimeoutMs = "60000";

pid_t StartEngine(const std::string& name) {
  return proc::Spawn({HOKM_ENGINE_BIN, "--shm-name", name, "--capacity", "64", "--ring-mb", "1",
                      "--metrics-port", "0", "--wait", "park", "--wait-spin-us", "0",
                      "--wait-timeout-ms", kParkTimeoutMs});
}

// True once every thread of `pid` is stopped (state T in
// /proc/PID/task/TID/stat): kill(SIGSTOP) returns before a thread running
// on another CPU has stopped, and that thread could still take a command.
bool Stopped(pid_t pid) {
  std::error_code ec;
  const std::filesystem::path tasks = "/proc/" + std::to_string(pid) + "/task";
  for (const auto& task : std::filesystem::directory_iterator(tasks, ec)) {
    std::ifstream stat(task.path() / "stat");
    std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    const std::size_t paren = text.rfind(')');
    if (paren == std::string::npos || paren + 2 >= text.size() || text[paren + 2] != 'T')
      return false;
  }
  return !ec;
}

bool Parked(const shm::Ring& ring) {
  return shm::Atomic(ring.trailer()->parked).load(std::memory_order_acquire) != 0;
}

core::Command CreateGame() {
  core::Command c{};
  c.type = core::CommandType::kCreateGame;
  c.seed = 7;
  return c;
}

// SIGTERM, then the exit code and how long the engine took to exit.
std::pair<int, Clock::duration> Terminate(pid_t engine) {
  const auto start = Clock::now();
  ::kill(engine, SIGTERM);
  const int code = proc::WaitExit(engine, 30s);
  return {code, Clock::now() - start};
}

class EngineWaitTest : public ::testing::Test {
 protected:
  void TearDown() override { (void)shm::Segment::Remove(name_); }
  const std::string name_ = "hokm-test-engine-wait-" + std::to_string(::getpid());
};

TEST_F(EngineWaitTest, ParkedEngineIsWokenByAClientAndStopsAtOnceOnSigterm) {
  (void)shm::Segment::Remove(name_);
  const pid_t engine = StartEngine(name_);
  auto segment = AttachWhenServing(name_, engine);
  ASSERT_TRUE(segment) << "hokm-engine did not start";
  const shm::Ring commands = segment->command_ring(0);
  ASSERT_TRUE(proc::WaitUntil([&] { return Parked(commands); }, 20s))
      << "the idle shard never parked";
  const std::uint32_t seq = shm::Atomic(commands.trailer()->wake_seq).load();

  auto client = shm::CommandClient::Register(*segment);
  ASSERT_TRUE(client.ok());
  ASSERT_EQ(core::SendCommand(*client, 1, CreateGame()), shm::WriteResult::kOk);
  EXPECT_EQ(shm::Atomic(commands.trailer()->wake_seq).load(), seq + 1)
      << "the client did not wake the shard";
  shm::CommandResponse response{};
  ASSERT_TRUE(proc::WaitUntil([&] { return client->TryReceive(response); }, 20s))
      << "the parked engine never answered";
  EXPECT_EQ(response.request_id, 1u);
  EXPECT_EQ(core::ResultOf(response), core::CommandResult::kOk);

  ASSERT_TRUE(proc::WaitUntil([&] { return Parked(commands); }, 20s))
      << "the shard did not park again";
  const auto [code, took] = Terminate(engine);
  EXPECT_EQ(code, 0);
  EXPECT_LT(took, 5s) << "SIGTERM waited for the park timeout";
}

TEST_F(EngineWaitTest, ClientParkedOnItsResponsesIsServedByTheRestartedEngine) {
  (void)shm::Segment::Remove(name_);
  pid_t engine = StartEngine(name_);
  auto segment = AttachWhenServing(name_, engine);
  ASSERT_TRUE(segment) << "hokm-engine did not start";
  const shm::Ring commands = segment->command_ring(0);
  ASSERT_TRUE(proc::WaitUntil([&] { return Parked(commands); }, 20s))
      << "the idle shard never parked";
  // Frozen while parked: the command below stays on the ring, unread.
  ASSERT_EQ(::kill(engine, SIGSTOP), 0);
  ASSERT_TRUE(proc::WaitUntil([&] { return Stopped(engine); }, 20s)) << "SIGSTOP did not stop it";

  auto client = shm::CommandClient::Register(*segment);
  ASSERT_TRUE(client.ok());
  const shm::Ring responses = segment->response_ring(client->slot());
  std::atomic<bool> answered{false};
  std::uint64_t timeouts = 1;
  shm::CommandResponse response{};
  std::thread waiter_thread([&] {
    shm::WaitOptions wait;
    wait.strategy = shm::WaitStrategy::kPark;
    wait.spin_ns = 0;
    wait.park_timeout_us = 60'000'000;
    shm::RingWaiter waiter(responses, wait);
    if (core::SendCommand(*client, 1, CreateGame()) != shm::WriteResult::kOk) return;
    const auto deadline = Clock::now() + 50s;
    while (!client->TryReceive(response) && Clock::now() < deadline)
      waiter.Wait(client->response_reader());
    timeouts = waiter.timeouts();
    answered.store(response.request_id == 1, std::memory_order_release);
  });
  const bool client_parked = proc::WaitUntil([&] { return Parked(responses); }, 20s);
  ASSERT_EQ(::kill(engine, SIGKILL), 0);
  EXPECT_EQ(proc::WaitExit(engine, 20s), -SIGKILL);
  engine = StartEngine(name_);
  auto again = AttachWhenServing(name_, engine);
  waiter_thread.join();
  ASSERT_TRUE(client_parked) << "the client never parked on its response ring";
  ASSERT_TRUE(again) << "the restarted engine did not re-attach";
  EXPECT_TRUE(answered.load()) << "the parked client was never answered";
  EXPECT_EQ(core::ResultOf(response), core::CommandResult::kOk);
  EXPECT_EQ(timeouts, 0u) << "the client was not woken: its park ran out";

  const auto [code, took] = Terminate(engine);
  EXPECT_EQ(code, 0);
  EXPECT_LT(took, 5s);
}

}  // namespace
}  // namespace hokm
