// options.h: hokm-loadgen's parsed command line, shared by main.cc and the
// runners; AddOptions wires each field to its CLI11 flag.
#pragma once

#include <cstdint>
#include <string>

#include "core/rules/bots.h"
#include "core/rules/game_state.h"
#include "shm/wait_strategy.h"

namespace CLI {
class App;
}  // namespace CLI

namespace hokm::loadgen {

// How commands reach the games.
enum class Mode : std::uint8_t {
  kEmbedded,      // hokm::Engine in this process; each thread owns one shard
  kShm,           // a running hokm-engine, through the segment's command rings
  kRules,         // the pure rules on per-game states: no engine, ring or sidecar
  kSeedBaseline,  // --baseline seed: JSON state in Redis, moves to PostgreSQL
};

struct LoadgenOptions {
  Mode mode = Mode::kEmbedded;                  // --mode embedded|shm|rules, --baseline seed
  std::uint64_t games = 1000;                   // --games: concurrent games
  double duration_s = 0;                        // --duration: 0 = until --total-games
  std::uint64_t total_games = 0;                // --total-games: 0 = none (see Finalize)
  double rate = 0;                              // --rate: card plays/s, open loop; 0 = closed
  double ramp_s = 0;                            // --ramp-s: start the games over this long
  int threads = 1;                              // --threads
  std::uint64_t seed = 1;                       // --seed: game k plays with MixSeed(seed, k)
  core::BotKind bots = core::BotKind::kRandom;  // --bots random|greedy
  std::uint32_t pipeline = 0;                   // --pipeline: commands in flight per thread
  // --wait (shm): how a thread waits for its answers; --wait-spin-us (park)
  shm::WaitStrategy wait = shm::WaitStrategy::kPark;
  std::uint32_t wait_spin_us = 5;
  std::uint32_t pace_nap_us = 200;  // --pace-nap-us: open loop's shortest pacing nap
  bool quiet = false;               // --quiet
  std::string json_path;            // --json
  std::string dump_path;            // --dump

  // The engine (embedded) or the segment (shm, --drain).
  std::string shm_name;        // --shm-name, else $HOKM_SHM_NAME, else hokm
  std::uint32_t capacity = 0;  // --capacity (embedded): game slots; 0 = max(100000, 2 * games)
  std::uint32_t ring_mb = 64;  // --ring-mb (embedded): change ring per shard
  std::uint32_t node_id = 0;   // --node-id (embedded): the node in every game id
  bool fresh = false;          // --fresh (embedded): remove an existing segment first
  bool drain = false;          // --drain: consume the change rings here

  // The sidecar and the stores.
  std::string sidecar_metrics = "http://127.0.0.1:9465/metrics";  // --sidecar-metrics
  double wait_for_sidecar_s = 0;  // --wait-for-sidecar: wait for /health before playing
  std::string redis_url;          // --redis-url, else $HOKM_REDIS_URL
  bool redis_cluster = false;     // --redis-cluster (or $HOKM_REDIS_CLUSTER=1)
  std::string pg_url;             // --pg-url, else $HOKM_PG_URL
  bool verify = false;            // --verify
  double verify_timeout_s = 120;  // --verify-timeout-s
  std::string save_games_path;    // --save-games: the games played, for --verify-only
  std::string verify_only_path;   // --verify-only: verify a saved list, play nothing

  // The rules variant of every game created (AddRulesOptions): --play-all-tricks,
  // --kot-points-hakem, --kot-points-opponents, --target-points, --first-hakem.
  core::RulesConfig rules;
  std::uint32_t turn_timeout_ms = 0;  // --turn-timeout-ms (shm): 0 = hokm-engine's default
  // --disconnect-rate: the fraction of player turns (trump choices, card
  // plays) before which the player to act drops and reconnects (embedded,
  // shm); each reconnect checks the player's view (core/player_view.h).
  double disconnect_rate = 0;

  // The effective end condition: --total-games as given, or --games when
  // neither --duration nor --total-games is (each game slot plays one game).
  std::uint64_t TotalGamesCap() const;
};

// Registers every option of LoadgenOptions on app, writing into *options.
// REQUIRES: *options outlives app.parse().
void AddOptions(CLI::App& app, LoadgenOptions* options);
// The rules variant and turn deadline options (AddOptions calls it).
void AddRulesOptions(CLI::App& app, LoadgenOptions* options);

// Fills defaults that depend on other flags or the environment (URLs, shm
// name) and checks combinations CLI11 cannot. Empty string: all is well;
// else the message to print.
std::string FinalizeOptions(LoadgenOptions& options);

// "random" / "greedy".
const char* BotKindName(core::BotKind kind);
// "embedded", "shm", "rules", "seed-baseline": also the JSON report's "mode".
const char* ModeName(Mode mode);

}  // namespace hokm::loadgen
