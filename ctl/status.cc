// status.cc: hokmctl status: a running or dead system's state from the
// segment alone, as AeronStat reads a media driver's counters: the header
// (layout, shards), the engine's claim and heartbeat, every shard's engine
// counter line, ring fill and the sidecar's lag, the registered clients,
// and the sidecar's own lines (shm/counters.h, core/engine.h EngineCounter,
// sidecar/segment_counters.h). No HTTP, no store: it works on a segment
// whose processes are all gone.
//
// Exit: 0 when the engine and the sidecar are alive, 1 when either is not
// (a problem an operator must act on), 2 on usage errors or no segment.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "core/engine.h"
#include "ctl/ctl.h"
#include "shm/clock.h"
#include "shm/segment.h"
#include "sidecar/breaker.h"
#include "sidecar/segment_counters.h"

namespace hokm::ctl {
namespace {

using nlohmann::json;

// Seconds since a CLOCK_MONOTONIC stamp (the clock is the machine's, so
// any process's stamp compares); -1 when there is none.
double AgeSeconds(std::uint64_t monotonic_ns) {
  if (monotonic_ns == 0) return -1;
  const std::uint64_t now = shm::MonotonicNowNs();
  return now > monotonic_ns ? static_cast<double>(now - monotonic_ns) / 1e9 : 0.0;
}

json ProcessJson(std::uint64_t pid, double heartbeat_age_s) {
  return {{"pid", pid}, {"alive", shm::ProcessAlive(pid)}, {"heartbeat_age_s", heartbeat_age_s}};
}

// Everything status shows, read once from the segment.
json Collect(const shm::Segment& segment) {
  const shm::SegmentHeader& h = segment.header();
  json out;
  out["segment"] = segment.name();
  out["layout_version"] = h.layout_version;
  out["segment_bytes"] = h.total_bytes;
  out["created_unix_ns"] = h.created_unix_ns;
  const std::uint64_t engine_pid = static_cast<std::uint64_t>(segment.engine_pid());
  out["engine"] = ProcessJson(engine_pid, AgeSeconds(segment.engine_heartbeat_ns()));
  out["engine_alive"] = out["engine"]["alive"];
  out["table_capacity"] = h.table_capacity;
  out["live_games"] = segment.table().Live();

  json shards = json::array();
  for (std::uint32_t s = 0; s < segment.shards(); ++s) {
    const shm::CounterView engine = segment.engine_counters(s);
    const shm::CounterView sidecar = segment.sidecar_counters(s);
    const shm::Ring ring = segment.change_ring(s);
    json shard;
    shard["shard"] = s;
    shard["live_games"] = segment.table().LiveInShard(s);
    for (const EngineCounter& c : kEngineCounters) shard[c.name] = engine.Get(c.word);
    const std::uint64_t records = engine.Get(EngineCounter::kRecords);
    const std::uint64_t delivered = sidecar.Get(sidecar::ShardCounter::kDeliveredRecords);
    shard["ring_capacity_bytes"] = h.change_ring_bytes;
    shard["ring_fill_bytes"] = ring.Lag();
    shard["ring_fill_ratio"] = ring.FillRatio();
    shard["sidecar_delivered_records"] = delivered;
    // The engine counts after publishing, the sidecar after both stores
    // answered: a moment's skew either way, never a negative lag.
    shard["sidecar_lag_records"] = records > delivered ? records - delivered : 0;
    shard["sidecar_lag_bytes"] = ring.Lag();
    shard["sidecar_committed_position"] = ring.HeadPosition();
    shard["ring_tail_position"] = ring.TailPosition();
    shards.push_back(std::move(shard));
  }
  out["shards"] = std::move(shards);

  json clients = json::array();
  for (std::uint32_t c = 0; c < segment.client_slots(); ++c) {
    const std::uint64_t pid =
        std::atomic_ref<std::uint64_t>(segment.client(c).owner_pid).load(std::memory_order_relaxed);
    if (pid == 0) continue;
    clients.push_back({{"slot", c}, {"pid", pid}, {"alive", shm::ProcessAlive(pid)}});
  }
  out["clients"] = std::move(clients);

  using sidecar::ProcessCounter;
  using sidecar::WorkerCounter;
  const shm::CounterView process = segment.sidecar_line(sidecar::kProcessLine);
  const std::uint64_t sidecar_pid = process.Get(ProcessCounter::kPid);
  json side = ProcessJson(sidecar_pid, AgeSeconds(process.Get(ProcessCounter::kHeartbeatNs)));
  side["started_unix_ns"] = process.Get(ProcessCounter::kStartedUnixNs);
  side["records_read"] = process.Get(ProcessCounter::kRecordsRead);
  side["malformed"] = process.Get(ProcessCounter::kMalformed);
  side["committed_records"] = process.Get(ProcessCounter::kCommittedRecords);
  for (const auto& [name, line] :
       {std::pair{"redis", sidecar::kRedisLine}, std::pair{"postgres", sidecar::kPgLine}}) {
    const shm::CounterView w = segment.sidecar_line(line);
    side[name] = {
        {"records", w.Get(WorkerCounter::kRecords)},
        {"batches", w.Get(WorkerCounter::kBatches)},
        {"spilled", w.Get(WorkerCounter::kSpilled)},
        {"replayed", w.Get(WorkerCounter::kReplayed)},
        {"spill_records", w.Get(WorkerCounter::kSpillRecords)},
        {"spill_bytes", w.Get(WorkerCounter::kSpillBytes)},
        {"breaker", sidecar::Breaker::Name(
                        static_cast<sidecar::Breaker::State>(w.Get(WorkerCounter::kBreakerState)))},
    };
  }
  out["sidecar"] = std::move(side);
  out["sidecar_alive"] = out["sidecar"]["alive"];
  return out;
}

std::string Age(double seconds) {
  if (seconds < 0) return "never";
  char text[32];
  std::snprintf(text, sizeof text, "%.1f s ago", seconds);
  return text;
}

// "alive (pid N, heartbeat S s ago)" or "dead (pid N, last heartbeat S s
// ago)"; a process that detached cleanly left pid 0 behind.
std::string ProcessLine(const json& p) {
  const bool alive = p["alive"].get<bool>();
  const std::uint64_t pid = p["pid"].get<std::uint64_t>();
  return std::string(alive ? "alive" : "dead") + " (pid " + std::to_string(pid) + ", " +
         (alive ? "heartbeat " : "last heartbeat ") + Age(p["heartbeat_age_s"].get<double>()) +
         ")" + (!alive && pid == 0 ? ", stopped cleanly" : "");
}

std::string Bytes(std::uint64_t n) {
  char text[32];
  if (n >= (std::uint64_t{1} << 20)) {
    std::snprintf(text, sizeof text, "%.1f MiB", static_cast<double>(n) / (1 << 20));
  } else if (n >= 1024) {
    std::snprintf(text, sizeof text, "%.1f KiB", static_cast<double>(n) / 1024);
  } else {
    std::snprintf(text, sizeof text, "%llu B", static_cast<unsigned long long>(n));
  }
  return text;
}

void PrintHuman(const json& s, std::FILE* out) {
  const auto u = [](const json& v) {
    return static_cast<unsigned long long>(v.get<std::uint64_t>());
  };
  std::fprintf(out, "segment: /dev/shm/%s (layout version %u, %s, %zu shard(s))\n",
               s["segment"].get<std::string>().c_str(), s["layout_version"].get<unsigned>(),
               Bytes(s["segment_bytes"].get<std::uint64_t>()).c_str(), s["shards"].size());
  std::fprintf(out, "engine: %s\n", ProcessLine(s["engine"]).c_str());
  std::fprintf(out, "games: %llu live of %llu slots\n", u(s["live_games"]), u(s["table_capacity"]));
  std::fprintf(out, "%5s %8s %12s %12s %9s %8s %12s %10s %12s %11s\n", "shard", "live", "commands",
               "accepted", "rejected", "busy", "records", "ring_fill", "lag_records", "lag_bytes");
  for (const json& sh : s["shards"]) {
    char fill[16];
    std::snprintf(fill, sizeof fill, "%.1f%%", 100.0 * sh["ring_fill_ratio"].get<double>());
    std::fprintf(out, "%5llu %8llu %12llu %12llu %9llu %8llu %12llu %10s %12llu %11llu\n",
                 u(sh["shard"]), u(sh["live_games"]), u(sh["commands"]), u(sh["accepted"]),
                 u(sh["rejected"]), u(sh["busy"]), u(sh["records"]), fill,
                 u(sh["sidecar_lag_records"]), u(sh["sidecar_lag_bytes"]));
  }
  std::fprintf(out, "clients: %zu registered", s["clients"].size());
  for (const json& c : s["clients"]) {
    std::fprintf(out, "%s slot %llu pid %llu%s", &c == &s["clients"].front() ? ":" : ",",
                 u(c["slot"]), u(c["pid"]), c["alive"].get<bool>() ? "" : " (dead)");
  }
  std::fprintf(out, "\n");
  const json& side = s["sidecar"];
  if (side["pid"].get<std::uint64_t>() == 0 && side["heartbeat_age_s"].get<double>() < 0) {
    std::fprintf(out, "sidecar: never attached\n");
  } else {
    std::fprintf(out,
                 "sidecar: %s; this run: %llu records read, %llu in both stores, %llu "
                 "malformed\n",
                 ProcessLine(side).c_str(), u(side["records_read"]), u(side["committed_records"]),
                 u(side["malformed"]));
  }
  for (const char* store : {"redis", "postgres"}) {
    const json& w = side[store];
    std::fprintf(out,
                 "  %-8s breaker %s, %llu records in %llu batches, spill backlog %llu "
                 "records (%s)\n",
                 store, w["breaker"].get<std::string>().c_str(), u(w["records"]), u(w["batches"]),
                 u(w["spill_records"]), Bytes(w["spill_bytes"].get<std::uint64_t>()).c_str());
  }
  std::fprintf(out, "sidecar committed positions:");
  for (const json& sh : s["shards"]) {
    std::fprintf(out, " shard %llu at %llu of %llu", u(sh["shard"]),
                 u(sh["sidecar_committed_position"]), u(sh["ring_tail_position"]));
  }
  std::fprintf(out, "\n");
}

}  // namespace

int RunStatus(const Globals& globals, const StatusOptions& o) {
  auto segment = shm::Segment::Attach(globals.shm_name);
  if (!segment.ok()) return Fail(kExitUsage, segment.status().message());
  const bool tty = ::isatty(STDOUT_FILENO) == 1;
  int code = kExitOk;
  for (unsigned round = 0;; ++round) {
    const json s = Collect(*segment);
    code =
        s["engine_alive"].get<bool>() && s["sidecar_alive"].get<bool>() ? kExitOk : kExitProblems;
    if (o.watch && tty) std::fputs("\033[H\033[2J", stdout);  // home, clear
    if (o.json) {
      std::printf("%s\n", s.dump(o.watch ? -1 : 2).c_str());
    } else {
      PrintHuman(s, stdout);
      if (o.watch) std::printf("\n");
    }
    std::fflush(stdout);
    if (!o.watch || (o.count != 0 && round + 1 >= o.count)) break;
    std::this_thread::sleep_for(std::chrono::seconds(1));  // the refresh period itself
  }
  return code;
}

}  // namespace hokm::ctl
