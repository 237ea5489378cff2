// embedded_runner.cc: the embedded runner: one GameState per game on each
// thread's stack, rules + bots applied directly.
#include "loadgen/embedded_runner.h"

#include <chrono>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/bots.h"
#include "core/random.h"
#include "core/rules.h"
#include "loadgen/dump_writer.h"

namespace hokm::loadgen {
namespace {

struct GameFailure {
  std::uint64_t game_id = 0;
  core::CommandType command = core::CommandType::kCreateGame;
  core::CommandResult result = core::CommandResult::kOk;
};

// Applies cmd, counts it and its records, and dumps them if asked.
class GameDriver {
 public:
  GameDriver(RunStats& stats, DumpWriter::Part* dump) : stats_(stats), dump_(dump) {}

  bool Apply(core::GameState& s, const core::Command& cmd, GameFailure& failure) {
    out_.Clear();
    const core::CommandResult r = core::Apply(s, cmd, out_);
    if (r != core::CommandResult::kOk) {
      failure = {s.game_id, cmd.type, r};
      return false;
    }
    ++stats_.commands;
    stats_.card_plays += cmd.type == core::CommandType::kPlayCard;
    stats_.records += static_cast<std::uint64_t>(out_.count);
    if (dump_ != nullptr) {
      for (const core::Change& c : out_) dump_->Append(c);
    }
    return true;
  }

 private:
  RunStats& stats_;
  DumpWriter::Part* dump_;
  core::ChangeBuffer out_;
};

template <typename Bot>
bool PlayGame(std::uint64_t game_id, std::uint64_t game_seed, Bot& bot, GameDriver& driver,
              RunStats& stats, GameFailure& failure) {
  core::GameState s{};
  core::Command cmd{};
  cmd.type = core::CommandType::kCreateGame;
  cmd.game_id = game_id;
  cmd.seed = game_seed;
  cmd.config = core::RulesConfig{};
  std::memcpy(cmd.room, "loadgen", 7);
  if (!driver.Apply(s, cmd, failure)) return false;
  for (int seat = 0; seat < core::kSeats; ++seat) {
    cmd = core::Command{};
    cmd.type = core::CommandType::kJoin;
    cmd.game_id = game_id;
    cmd.seat = static_cast<std::uint8_t>(seat);
    cmd.player_id = (game_id << 2) + static_cast<std::uint64_t>(seat);  // unique, never 0
    if (!driver.Apply(s, cmd, failure)) return false;
  }
  while (core::SeatToAct(s) >= 0) {
    if (!driver.Apply(s, bot.NextCommand(s), failure)) return false;
  }
  ++stats.games;
  ++stats.team_wins[s.winner_team & 1];
  return true;
}

// Plays game ids [first, last) on the calling thread.
void PlayRange(const LoadgenOptions& options, std::uint64_t first, std::uint64_t last,
               DumpWriter::Part* dump, RunStats& stats, GameFailure& failure) {
  GameDriver driver(stats, dump);
  core::GreedyBot greedy;
  for (std::uint64_t id = first; id < last; ++id) {
    const std::uint64_t seed = core::MixSeed(options.seed, id - 1);
    bool ok;
    if (options.bots == core::BotKind::kGreedy) {
      ok = PlayGame(id, seed, greedy, driver, stats, failure);
    } else {
      core::RandomBot random(core::MixSeed(seed, 1));
      ok = PlayGame(id, seed, random, driver, stats, failure);
    }
    if (!ok) return;
  }
  if (dump != nullptr) dump->Flush();
}

}  // namespace

void RunStats::Add(const RunStats& o) {
  games += o.games;
  card_plays += o.card_plays;
  commands += o.commands;
  records += o.records;
  team_wins[0] += o.team_wins[0];
  team_wins[1] += o.team_wins[1];
}

Result<RunStats> RunEmbedded(const LoadgenOptions& options) {
  const int threads = options.threads;
  std::unique_ptr<DumpWriter> dump;
  if (!options.dump_path.empty()) {
    auto opened = DumpWriter::Open(options.dump_path, threads);
    if (!opened.ok()) return opened.status();
    dump = std::move(opened.value());
  }

  std::vector<RunStats> stats(static_cast<std::size_t>(threads));
  std::vector<GameFailure> failures(static_cast<std::size_t>(threads));
  const auto range_start = [&](int t) {
    return 1 + options.games * static_cast<std::uint64_t>(t) / static_cast<std::uint64_t>(threads);
  };
  const auto start = std::chrono::steady_clock::now();
  {
    std::vector<std::jthread> workers;
    for (int t = 0; t < threads; ++t) {
      const auto i = static_cast<std::size_t>(t);
      DumpWriter::Part* part = dump ? &dump->part(t) : nullptr;
      workers.emplace_back([&, t, i, part] {
        PlayRange(options, range_start(t), range_start(t + 1), part, stats[i], failures[i]);
      });
    }
  }  // jthreads join here
  RunStats total;
  total.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (const RunStats& s : stats) total.Add(s);

  for (const GameFailure& f : failures) {
    if (f.result != core::CommandResult::kOk) {
      return Status::Internal("game " + std::to_string(f.game_id) + ": command type " +
                              std::to_string(static_cast<int>(f.command)) + " rejected with " +
                              core::CommandResultName(f.result) +
                              " (a rules or bot bug: the bots only send legal commands)");
    }
  }
  if (dump) {
    const auto dump_start = std::chrono::steady_clock::now();
    Status s = dump->Finish();
    if (!s.ok()) return s;
    total.dump_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - dump_start).count();
  }
  return total;
}

}  // namespace hokm::loadgen
