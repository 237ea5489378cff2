// options.cc: hokm-loadgen's flags (CLI11), with ranges checked at parse time.
#include "loadgen/options.h"

#include <CLI/CLI.hpp>

namespace hokm::loadgen {

void AddOptions(CLI::App& app, LoadgenOptions* o) {
  app.add_option("--games", o->games, "Number of complete games to play (ids 1..N)")
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{1} << 40))
      ->capture_default_str();
  app.add_option("--seed", o->seed,
                 "Seed of the run; game i (0-based) is seeded with a mix of this and i")
      ->capture_default_str();
  app.add_option_function<std::string>(
         "--bots",
         [o](const std::string& name) {
           o->bots = name == "greedy" ? core::BotKind::kGreedy : core::BotKind::kRandom;
         },
         "Bot for all four seats: random (uniform legal moves) or greedy")
      ->check(CLI::IsMember({"random", "greedy"}))
      ->default_str("random");
  app.add_option("--threads", o->threads, "Threads; each plays a contiguous range of games")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  app.add_option("--json", o->json_path,
                 "Write a JSON summary {games, card_plays, card_plays_per_sec, wall_s, ...}");
  app.add_option("--dump", o->dump_path,
                 "Write every change record as one JSON line, in game-id then seq order");
}

const char* BotKindName(core::BotKind kind) {
  return kind == core::BotKind::kGreedy ? "greedy" : "random";
}

}  // namespace hokm::loadgen
