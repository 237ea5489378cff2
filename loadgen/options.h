// options.h: hokm-loadgen's parsed command line, shared by main.cc and the
// runners; AddOptions wires each field to its CLI11 flag.
#pragma once

#include <cstdint>
#include <string>

#include "core/bots.h"

namespace CLI {
class App;
}  // namespace CLI

namespace hokm::loadgen {

struct LoadgenOptions {
  std::uint64_t games = 1000;                   // --games: complete games to play
  std::uint64_t seed = 1;                       // --seed: game i plays with MixSeed(seed, i)
  core::BotKind bots = core::BotKind::kRandom;  // --bots random|greedy
  int threads = 1;                              // --threads: games are split between them
  std::string json_path;                        // --json: machine-readable summary ("" = none)
  std::string dump_path;                        // --dump: every change record as a JSON line
};

// Registers every option of LoadgenOptions on app, writing into *options.
// REQUIRES: *options outlives app.parse().
void AddOptions(CLI::App& app, LoadgenOptions* options);

// "random" / "greedy".
const char* BotKindName(core::BotKind kind);

}  // namespace hokm::loadgen
