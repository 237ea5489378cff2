// restore_bench.cc: hokm-restore-bench, how long `hokm-engine
// --restore-from-pg` takes to bring back N live games (run by hand:
// scripts/restore_bench.sh; the figures go to the README, "Restoring after a
// lost machine").
//
// Plays N games part-way (a random number of bot moves each, 0 .. a whole
// hand or two) on an in-process engine with the real hokm-sidecar
// delivering them, waits until PostgreSQL has every record, kills the
// sidecar and deletes the segment (the lost machine), then runs
// hokm-engine --restore-from-pg into a new segment --repeat times and
// prints each run's summary line and wall time. At the end the games are
// marked abandoned in PostgreSQL so that a later restore does not meet them.
//
// Usage: hokm-restore-bench [--games N] [--repeat R] [--shm-name NAME]
//        (HOKM_REDIS_URL and HOKM_PG_URL as for the tests)
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <pqxx/pqxx>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "core/engine.h"
#include "core/rules/bots.h"
#include "core/rules/rules.h"
#include "tests/fault/engine_process.h"
#include "tests/integration/process_util.h"
#include "tests/integration/stores.h"

namespace {

namespace fs = std::filesystem;
using hokm::Engine;
using hokm::EngineOptions;
namespace core = hokm::core;
namespace shm = hokm::shm;

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Applies `c`, waiting while the change ring is full (the sidecar drains it).
hokm::ApplyOutcome ApplyRetrying(Engine& engine, const core::Command& c) {
  for (;;) {
    const hokm::ApplyOutcome o = engine.Apply(0, c);
    if (o.result != core::CommandResult::kBusy) return o;
    timespec pause{0, 1'000'000};
    nanosleep(&pause, nullptr);
  }
}

}  // namespace

int main(int argc, char** argv) {
  int games = 10000;
  int repeat = 3;
  std::string shm_name = "hokm-wt-restore-bench";
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--games") == 0) games = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--repeat") == 0) repeat = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--shm-name") == 0) shm_name = argv[i + 1];
  }
  const std::string pg_url = hokm::sidecar::integration::PgUrlString();
  const std::string redis_url = hokm::sidecar::integration::RedisUrlString();
  const fs::path dir = fs::temp_directory_path() / shm_name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  (void)shm::Segment::Remove(shm_name);
  const auto capacity = static_cast<std::uint32_t>(games + games / 4 + 64);

  // 1. N live games in PostgreSQL.
  std::uint64_t min_id = 0;
  {
    EngineOptions o;
    o.shm_name = shm_name;
    o.capacity = capacity;
    o.ring_bytes = 64 << 20;
    o.reuse_existing = false;
    auto opened = Engine::Open(o);
    if (!opened.ok()) {
      std::fprintf(stderr, "engine: %s\n", opened.status().message().c_str());
      return 1;
    }
    Engine& engine = **opened;
    const pid_t sidecar = hokm::proc::Spawn(
        {HOKM_SIDECAR_BIN, "--shm-name", shm_name, "--redis-url", redis_url, "--pg-url", pg_url,
         "--spill-dir", (dir / "spill").string(), "--metrics-port", "0"},
        (dir / "sidecar.log").c_str());
    const double t0 = Now();
    std::mt19937_64 rng(1);
    core::RandomBot bot(3);
    std::uint64_t commands = 0;
    for (int g = 0; g < games; ++g) {
      core::Command c{};
      c.type = core::CommandType::kCreateGame;
      c.seed = rng();
      const hokm::ApplyOutcome created = ApplyRetrying(engine, c);
      if (created.result != core::CommandResult::kOk) return 1;
      if (min_id == 0) min_id = created.game_id & ~shm::kSlotIndexMask;
      for (int seat = 0; seat < 4; ++seat) {
        core::Command j{};
        j.type = core::CommandType::kJoin;
        j.game_id = created.game_id;
        j.seat = static_cast<std::uint8_t>(seat);
        j.player_id = 1'000'000'000ull + static_cast<std::uint64_t>(g) * 4 + seat;
        (void)ApplyRetrying(engine, j);
      }
      const int moves = static_cast<int>(rng() % 120);
      for (int k = 0; k < moves; ++k) {
        core::GameState s{};
        if (!engine.Snapshot(created.game_id, s) || core::SeatToAct(s) < 0) break;
        const hokm::ApplyOutcome played = ApplyRetrying(engine, bot.NextCommand(s));
        ++commands;
        if (played.phase == core::Phase::kFinished) break;
      }
    }
    const std::uint64_t live = engine.segment().table().Live();
    std::printf("played: %llu live games, %llu moves in %.1f s; waiting for PostgreSQL\n",
                static_cast<unsigned long long>(live), static_cast<unsigned long long>(commands),
                Now() - t0);
    std::fflush(stdout);
    // Everything delivered: the change ring's committed position reached its tail.
    const shm::Ring ring = engine.segment().change_ring(0);
    if (!hokm::proc::WaitUntil([&] { return ring.Lag() == 0; }, std::chrono::seconds(600))) {
      std::fprintf(stderr, "the sidecar did not catch up\n");
      return 1;
    }
    std::printf("delivered in %.1f s\n", Now() - t0);
    ::kill(sidecar, SIGKILL);
    ::waitpid(sidecar, nullptr, 0);
  }
  (void)shm::Segment::Remove(shm_name);

  // 2. The restore, --repeat times, each into a new segment.
  int status = 0;
  for (int run = 0; run < repeat; ++run) {
    (void)shm::Segment::Remove(shm_name);
    const std::string log = (dir / ("restore-" + std::to_string(run) + ".log")).string();
    const double t0 = Now();
    const pid_t engine = hokm::proc::Spawn(
        {HOKM_ENGINE_BIN, "--shm-name", shm_name, "--capacity", std::to_string(capacity),
         "--metrics-port", "0", "--restore-from-pg", "--pg-url", pg_url, "--redis-url", redis_url,
         "--restore-min-game-id", std::to_string(min_id)},
        log.c_str());
    // The engine claims the segment before it restores, and serves after.
    const bool serving = hokm::proc::WaitUntil(
        [&] {
          std::stringstream text;
          text << std::ifstream(log).rdbuf();
          return text.str().find("hokm-engine: serving") != std::string::npos ||
                 text.str().find("failed") != std::string::npos;
        },
        std::chrono::seconds(600));
    const double wall = Now() - t0;
    ::kill(engine, SIGTERM);
    hokm::proc::WaitExit(engine, std::chrono::seconds(30));
    std::stringstream text;
    text << std::ifstream(log).rdbuf();
    std::string summary;
    for (std::string line; std::getline(text, line);) {
      if (line.find("restored ") != std::string::npos ||
          line.find("left out game") != std::string::npos ||
          line.find("failed") != std::string::npos) {
        summary += line + "\n";
      }
    }
    std::printf("run %d: serving after %.2f s wall (process start to serving)\n%s", run + 1, wall,
                summary.c_str());
    std::fflush(stdout);
    if (!serving) status = 1;
  }
  (void)shm::Segment::Remove(shm_name);

  // 3. Out of the way of later restores.
  try {
    pqxx::connection c(hokm::sidecar::integration::PgUrlOrDie().ConnInfo());
    pqxx::work tx(c);
    tx.exec_params(
        "UPDATE game_sessions SET status = 'abandoned' WHERE game_id >= $1 AND status IN "
        "('waiting', 'playing')",
        static_cast<std::int64_t>(min_id));
    tx.commit();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "postgres: %s\n", e.what());
  }
  fs::remove_all(dir);
  return status;
}
