// seed_runner.h: --baseline seed, the Redis-centred design for comparison
// (see seed_runner.cc for how one command is served).
#pragma once

#include <cstdint>
#include <string>

#include "loadgen/drivers/runners.h"
#include "shm/status.h"
#include "sidecar/url.h"

namespace hokm::loadgen {

struct SeedSetup {
  sidecar::RedisUrl redis;
  sidecar::PgUrl pg;
  std::string script_sha;     // the CAS script, loaded once
  std::uint64_t id_base = 0;  // game k gets id id_base + k + 1
};

// Checks both stores, loads the CAS script, creates seed_moves if missing.
Result<SeedSetup> PrepareSeedBaseline(const LoadgenOptions& options);

// One game server: its own Redis and PostgreSQL connections.
void RunSeedThread(const SeedSetup& setup, ThreadContext& ctx);

}  // namespace hokm::loadgen
