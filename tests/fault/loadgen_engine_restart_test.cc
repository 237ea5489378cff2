// loadgen_engine_restart_test.cc: hokm-loadgen --mode shm plays on across an
// engine that died mid-batch and a hokm-engine restarted on the segment. The
// requests the dead engine took off its command ring and never answered are
// settled by their games (the applied half booked, the rest sent again), so
// every game reaches its end with no command refused (make chaos kills the
// engine at random; this reaches the lost batch on purpose).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "core/engine.h"
#include "shm/command_channel.h"
#include "shm/segment.h"
#include "tests/integration/process_util.h"

namespace hokm {
namespace {

using Clock = std::chrono::steady_clock;

// The dying engine, in a forked child: creates the segment, serves
// `serve_first` commands, then takes one batch off the command ring,
// applies its first half (records published, state written) without
// answering any of it, and exits the way a SIGKILLed engine leaves: the
// segment still names it. Exit code: the batch's size (1..64), or 100+
// on a set-up failure.
[[noreturn]] void ServeThenDieMidBatch(const std::string& name, std::size_t serve_first) {
  EngineOptions o;
  o.shm_name = name;
  o.capacity = 4096;
  o.ring_bytes = std::uint64_t{64} << 20;
  o.reuse_existing = false;
  auto engine = Engine::Open(o);
  if (!engine.ok()) ::_exit(100);
  Engine& e = **engine;
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  for (std::size_t served = 0; served < serve_first;) {
    if (Clock::now() > deadline) ::_exit(101);
    served += e.ServeOnce(0, serve_first - served);
  }
  // Whatever the client has in flight, as one batch. The pause only makes
  // the batch larger; any size from 1 up is checked the same way.
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  shm::CommandPort port(e.segment(), 0);
  std::vector<shm::CommandRequest> batch;
  while (batch.empty()) {
    if (Clock::now() > deadline) ::_exit(102);
    port.Poll([&](const shm::CommandRequest& r) { batch.push_back(r); });
  }
  for (std::size_t i = 0; i < (batch.size() + 1) / 2; ++i) {
    if (e.Apply(0, core::CommandOf(batch[i])).result != core::CommandResult::kOk) ::_exit(103);
  }
  ::_exit(static_cast<int>(batch.size()));
}

class LoadgenEngineRestartTest : public ::testing::TestWithParam<std::size_t> {
 protected:
  void SetUp() override {
    name_ = "hokm-lg-restart-" + std::to_string(::getpid()) + "-" + std::to_string(GetParam());
    dir_ = ::testing::TempDir() + name_;
    (void)shm::Segment::Remove(name_);
  }
  void TearDown() override {
    for (pid_t pid : children_) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
    (void)shm::Segment::Remove(name_);
  }
  pid_t Track(pid_t pid) {
    children_.push_back(pid);
    return pid;
  }
  void Reap(pid_t pid) { std::erase(children_, pid); }

  std::string name_, dir_;
  std::vector<pid_t> children_;
};

TEST_P(LoadgenEngineRestartTest, LoadgenSettlesTheLostBatchAndEveryGameEnds) {
  const std::size_t serve_first = GetParam();
  const pid_t dying = ::fork();
  if (dying == 0) ServeThenDieMidBatch(name_, serve_first);
  Track(dying);
  ASSERT_TRUE(proc::WaitUntil(
      [&] {
        auto s = shm::Segment::Attach(name_);
        return s.ok() && s->engine_pid() == dying;
      },
      std::chrono::seconds(20)))
      << "the first engine never served";

  const std::string log = dir_ + "-loadgen.log", json = dir_ + "-loadgen.json";
  constexpr int kGames = 40, kTotal = 120;
  const pid_t loadgen = Track(proc::Spawn(
      {HOKM_LOADGEN_BIN, "--mode", "shm", "--shm-name", name_, "--games", std::to_string(kGames),
       "--total-games", std::to_string(kTotal), "--bots", "greedy", "--quiet", "--json", json},
      log.c_str()));

  const int taken = proc::WaitExit(dying, std::chrono::seconds(60));
  Reap(dying);
  ASSERT_GE(taken, 1) << "the first engine failed before its batch";
  ASSERT_LE(taken, 64) << "the first engine failed before its batch (" << taken << ")";
  const pid_t engine = Track(proc::Spawn({HOKM_ENGINE_BIN, "--shm-name", name_, "--capacity",
                                          "4096", "--ring-mb", "64", "--metrics-port", "0"}));

  EXPECT_EQ(proc::WaitExit(loadgen, std::chrono::seconds(120)), 0);
  Reap(loadgen);
  ::kill(engine, SIGTERM);
  EXPECT_EQ(proc::WaitExit(engine, std::chrono::seconds(30)), 0);
  Reap(engine);

  std::ifstream log_in(log);
  const std::string text((std::istreambuf_iterator<char>(log_in)),
                         std::istreambuf_iterator<char>());
  const int applied = (taken + 1) / 2;
  const std::string settled =
      std::to_string(taken) +
      " command(s) the old engine never answered: " + std::to_string(applied) +
      " had been applied, " + std::to_string(taken - applied) + " sent again";
  EXPECT_NE(text.find(settled), std::string::npos) << "expected \"" << settled << "\" in:\n"
                                                   << text;

  std::ifstream json_in(json);
  ASSERT_TRUE(json_in) << "no report; loadgen said:\n" << text;
  const auto report = nlohmann::json::parse(json_in);
  EXPECT_EQ(report["errors"], 0) << text;
  EXPECT_EQ(report["games_completed"], kTotal) << text;
}

// 0: the lost batch holds the first games' CreateGame commands (the applied
// ones are found by their seed); 2000: it holds moves of running games.
INSTANTIATE_TEST_SUITE_P(DeathPoints, LoadgenEngineRestartTest, ::testing::Values(0, 2000));

}  // namespace
}  // namespace hokm
