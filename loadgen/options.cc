// options.cc: hokm-loadgen's flags (CLI11), with ranges checked at parse time
// and combinations checked by FinalizeOptions.
#include "loadgen/options.h"

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <limits>

#include "shm/segment.h"
#include "sidecar/url.h"

namespace hokm::loadgen {
namespace {

// --disconnect-rate (the reconnection check, GameFlow::BuildReconnect).
void AddDisconnectOption(CLI::App& app, LoadgenOptions* o) {
  app.add_option("--disconnect-rate", o->disconnect_rate,
                 "embedded, shm: the fraction of player turns (trump choices and card plays) "
                 "before which the player to act disconnects and reconnects (PlayerConnection "
                 "records through the engine); each reconnect checks that the player's view shows "
                 "exactly its own hand and the game's public state. Mismatches are reported "
                 "(reconnect_mismatches) and fail --verify")
      ->check(CLI::Range(0.0, 1.0));
}

}  // namespace

std::uint64_t LoadgenOptions::TotalGamesCap() const {
  if (total_games != 0) return total_games;
  if (duration_s > 0) return std::numeric_limits<std::uint64_t>::max();
  return games;
}

void AddOptions(CLI::App& app, LoadgenOptions* o) {
  // An option given twice takes the last value: `make run ARGS=...` appends
  // to the default scenario's options.
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app.add_option_function<std::string>(
         "--mode",
         [o](const std::string& name) {
           o->mode = name == "shm" ? Mode::kShm : name == "rules" ? Mode::kRules : Mode::kEmbedded;
         },
         "embedded: hokm::Engine in this process, one shard per thread (a sidecar can read its "
         "change rings); shm: drive a running hokm-engine through the segment; rules: the pure "
         "rules on in-process states (no engine, no ring)")
      ->check(CLI::IsMember({"embedded", "shm", "rules"}))
      ->default_str("embedded");
  app.add_option_function<std::string>(
         "--baseline", [o](const std::string&) { o->mode = Mode::kSeedBaseline; },
         "seed: the Redis-centred design for comparison: each game's state as JSON in Redis, "
         "every command GET + EVALSHA compare-and-set, moves INSERTed into PostgreSQL in batches "
         "of 50 (seed_moves); no shared memory, no sidecar")
      ->check(CLI::IsMember({"seed"}));
  app.add_option("--games", o->games,
                 "Concurrent games; a finished game is replaced by a new one until --duration "
                 "or --total-games")
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{1} << 24))
      ->capture_default_str();
  app.add_option("--duration", o->duration_s, "Seconds to play (0: until --total-games)")
      ->check(CLI::Range(0.0, 1e6))
      ->capture_default_str();
  app.add_option("--total-games", o->total_games,
                 "Games to start in all (0: no cap; with neither this nor --duration, --games)")
      ->capture_default_str();
  app.add_option("--rate", o->rate,
                 "Card plays per second, open loop: latency counts from each play's intended "
                 "send time (0 or absent: closed loop, as fast as answers come)")
      ->check(CLI::Range(0.0, 1e9));
  app.add_option("--ramp-s", o->ramp_s,
                 "Start the --games games evenly over this many seconds instead of all at once "
                 "(each thread's k-th game at k/games of it), so that creating and dealing them "
                 "is not one burst for the stores")
      ->check(CLI::Range(0.0, 3600.0))
      ->capture_default_str();
  app.add_option("--threads", o->threads,
                 "Threads (embedded: one engine shard each; shm and seed: one client each)")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  app.add_option("--seed", o->seed,
                 "Seed of the run; game k (0-based, in start order) is seeded with a mix of this "
                 "and k")
      ->capture_default_str();
  app.add_option_function<std::string>(
         "--bots",
         [o](const std::string& name) {
           o->bots = name == "greedy" ? core::BotKind::kGreedy : core::BotKind::kRandom;
         },
         "Bot for all four seats: random (uniform legal moves) or greedy")
      ->check(CLI::IsMember({"random", "greedy"}))
      ->default_str("random");
  app.add_option("--pipeline", o->pipeline,
                 "Commands in flight per thread (shm: default 64, one engine batch, at most the "
                 "client's MaxInFlight; seed: default 1, plain request/response)")
      ->check(CLI::Range(0u, 1u << 20));
  app.add_option_function<std::string>(
         "--wait", [o](const std::string& name) { (void)shm::ParseWaitStrategy(name, o->wait); },
         "shm: how a thread with commands in flight waits for the answers: park (spin "
         "--wait-spin-us, then sleep on the response ring until hokm-engine answers), spin "
         "(poll: a core per thread), nap (sleep 200 us at a time open loop, 20 us closed)")
      ->check(CLI::IsMember({"park", "spin", "nap"}))
      ->default_str("park");
  app.add_option("--wait-spin-us", o->wait_spin_us,
                 "shm, --wait park: how long an empty response ring is polled before sleeping")
      ->check(CLI::Range(0u, 100000u))
      ->capture_default_str();
  app.add_option("--pace-nap-us", o->pace_nap_us,
                 "open loop: the shortest nap while waiting for the next play to be due; a play "
                 "sent late counts the delay in its latency, a short nap costs a wake-up per play")
      ->check(CLI::Range(0u, 100000u))
      ->capture_default_str();
  AddDisconnectOption(app, o);
  app.add_flag("--quiet,-q", o->quiet,
               "No progress line (it is off anyway when stdout is not a terminal)");
  app.add_option("--json", o->json_path, "Write the JSON report here");
  app.add_option(
      "--dump", o->dump_path,
      "Write every change record as one JSON line (core/records/change_json.h), in game-id then "
      "seq order (keeps each running game's lines in memory: for small runs)");

  app.add_option("--shm-name", o->shm_name,
                 "Segment name (default: $HOKM_SHM_NAME, else hokm); embedded creates or "
                 "re-attaches it, shm attaches to hokm-engine's");
  app.add_option("--capacity", o->capacity,
                 "embedded: game slots of a new segment (default max(100000, 2 x --games))")
      ->check(CLI::Range(0u, shm::kMaxTableCapacity));
  app.add_option("--ring-mb", o->ring_mb, "embedded: change ring per shard in MiB (power of two)")
      ->check(CLI::Range(1u, 1024u))
      ->capture_default_str();
  app.add_option("--node-id", o->node_id,
                 "embedded: the node id in every game id of a new segment (as hokm-engine's)")
      ->check(CLI::Range(0u, shm::kMaxNodeId))
      ->capture_default_str();
  app.add_flag("--fresh", o->fresh, "embedded: remove an existing segment of that name first");
  app.add_flag("--drain", o->drain,
               "Consume and count the change records here (runs without a sidecar; never with "
               "one: a ring has one consumer)");

  app.add_option("--sidecar-metrics", o->sidecar_metrics,
                 "hokm-sidecar's /metrics (sync lag); its /health (drain state) is beside it")
      ->capture_default_str();
  app.add_option("--wait-for-sidecar", o->wait_for_sidecar_s,
                 "Before playing, wait up to this many seconds for the sidecar's /health to "
                 "answer (embedded: start loadgen first, then hokm-sidecar on the segment)")
      ->check(CLI::Range(0.0, 3600.0));
  app.add_option(
      "--redis-url", o->redis_url,
      "Redis for --verify and --baseline: redis://[:password@]host:port[/db], or a Redis "
      "Cluster's seeds redis://h1:p1,h2:p2 (default $HOKM_REDIS_URL, else $REDIS_URL)");
  app.add_flag("--redis-cluster", o->redis_cluster,
               "--redis-url names a Redis Cluster, even with one seed; refuse a single server "
               "(a seed list already means a cluster)")
      ->envname("HOKM_REDIS_CLUSTER");
  app.add_option(
      "--pg-url", o->pg_url,
      "PostgreSQL for --verify and --baseline (default $HOKM_PG_URL, else $DATABASE_URL)");
  app.add_flag("--verify", o->verify,
               "After the run, wait until the sidecar has drained, then check every game and move "
               "against PostgreSQL (exactly once) and Redis; exit 1 when not ok");
  app.add_option("--verify-timeout-s", o->verify_timeout_s, "Longest wait for the sidecar to drain")
      ->check(CLI::Range(0.0, 86400.0))
      ->capture_default_str();
  app.add_option(
      "--save-games", o->save_games_path,
      "Write every game played (id, last seq, final phase and points) for --verify-only");
  app.add_option("--verify-only", o->verify_only_path,
                 "Play nothing: verify the games of a --save-games file against the stores");
  AddRulesOptions(app, o);
}

void AddRulesOptions(CLI::App& app, LoadgenOptions* o) {
  // Read as int, stored as the config's bytes (CLI11 would read a uint8_t as
  // a character). CLI11 names the flag and the range in its error.
  const auto points = CLI::Range(1, core::kMaxConfigPoints);
  app.add_flag("--play-all-tricks", o->rules.play_all_tricks,
               "Rules variant: every hand plays all 13 tricks (default: a hand ends when a team "
               "has 7)");
  app.add_option_function<int>(
         "--kot-points-hakem",
         [o](int v) { o->rules.kot_points_hakem_team = static_cast<std::uint8_t>(v); },
         "Rules variant: points for a kot (7-0) won by the hakem's team")
      ->check(points)
      ->default_str(std::to_string(o->rules.kot_points_hakem_team));
  app.add_option_function<int>(
         "--kot-points-opponents",
         [o](int v) { o->rules.kot_points_opponents = static_cast<std::uint8_t>(v); },
         "Rules variant: points for a kot won against the hakem")
      ->check(points)
      ->default_str(std::to_string(o->rules.kot_points_opponents));
  app.add_option_function<int>(
         "--target-points", [o](int v) { o->rules.target_points = static_cast<std::uint8_t>(v); },
         "Rules variant: points that win the game")
      ->check(points)
      ->default_str(std::to_string(o->rules.target_points));
  app.add_option_function<std::string>(
         "--first-hakem",
         [o](const std::string& name) {
           o->rules.first_hakem =
               name == "random" ? core::FirstHakem::kSeededRandom : core::FirstHakem::kFirstAce;
         },
         "Rules variant: the first hand's hakem: first_ace (the first seat dealt an ace, cards "
         "face up) or random (drawn from the game's seed)")
      ->check(CLI::IsMember({"first_ace", "random"}))
      ->default_str("first_ace");
  app.add_option("--turn-timeout-ms", o->turn_timeout_ms,
                 "shm: the turn deadline of the games loadgen creates (hokm-engine plays for a "
                 "seat that takes longer and flags the move on_timeout; 0: hokm-engine's "
                 "--turn-timeout-ms)")
      ->check(CLI::Range(std::uint32_t{0}, core::kMaxTurnTimeoutMs))
      ->capture_default_str();
}

std::string FinalizeOptions(LoadgenOptions& o) {
  if (o.redis_url.empty()) o.redis_url = sidecar::RedisUrlFromEnv();
  if (o.pg_url.empty()) o.pg_url = sidecar::PgUrlFromEnv();
  o.shm_name = shm::SegmentNameFrom(o.shm_name);
  if (o.capacity == 0) {
    const std::uint64_t want = std::max<std::uint64_t>(100'000, 2 * o.games);
    o.capacity = static_cast<std::uint32_t>(std::min<std::uint64_t>(want, shm::kMaxTableCapacity));
  }
  if ((o.ring_mb & (o.ring_mb - 1)) != 0) return "--ring-mb must be a power of two";
  const bool seed = o.mode == Mode::kSeedBaseline;
  const bool needs_stores = o.verify || seed || !o.verify_only_path.empty();
  if (needs_stores && (o.redis_url.empty() || o.pg_url.empty())) {
    return "give --redis-url and --pg-url (or HOKM_REDIS_URL / REDIS_URL and HOKM_PG_URL / "
           "DATABASE_URL); "
           "`eval \"$(scripts/services.sh env)\"` sets both for the local servers";
  }
  if (o.drain && (o.mode == Mode::kRules || seed)) {
    return "--drain reads the engine's change rings: it needs --mode embedded or shm";
  }
  if (o.drain && o.verify) {
    return "--drain consumes the change records itself, so no sidecar can deliver them: "
           "--verify would find nothing";
  }
  if (o.verify && o.mode == Mode::kRules) {
    return "--mode rules writes nowhere: --verify needs embedded or shm (with hokm-sidecar) "
           "or --baseline seed";
  }
  if (o.disconnect_rate > 0 && o.mode != Mode::kEmbedded && o.mode != Mode::kShm) {
    return "--disconnect-rate reads players' views from an engine: it needs --mode embedded or "
           "shm";
  }
  if (o.games > o.capacity && o.mode == Mode::kEmbedded) {
    return "--games " + std::to_string(o.games) + " exceeds --capacity " +
           std::to_string(o.capacity);
  }
  if (o.turn_timeout_ms != 0 && o.mode != Mode::kShm) {
    return "--turn-timeout-ms: only hokm-engine plays on a turn timeout: it needs --mode shm";
  }
  if (static_cast<std::uint64_t>(o.threads) > o.games) o.threads = static_cast<int>(o.games);
  return "";
}

const char* BotKindName(core::BotKind kind) {
  return kind == core::BotKind::kGreedy ? "greedy" : "random";
}

const char* ModeName(Mode mode) {
  switch (mode) {
    case Mode::kEmbedded:
      return "embedded";
    case Mode::kShm:
      return "shm";
    case Mode::kRules:
      return "rules";
    case Mode::kSeedBaseline:
      return "seed-baseline";
  }
  return "?";
}

}  // namespace hokm::loadgen
