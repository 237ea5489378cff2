// sidecar.cc: the Sidecar runtime: wires the ChangeReader, the Window and
// the two Workers together, runs the read/commit loop and the drain, and
// serves /metrics and /health (see sidecar.h).
#include "sidecar/sidecar.h"

#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "service/metrics_server.h"
#include "shm/clock.h"
#include "shm/segment.h"
#include "sidecar/log.h"
#include "sidecar/metrics.h"
#include "sidecar/reader.h"
#include "sidecar/rebuild_source.h"
#include "sidecar/sink_client.h"
#include "sidecar/spill_queue.h"
#include "sidecar/url.h"
#include "sidecar/window.h"
#include "sidecar/worker.h"

namespace hokm::sidecar {

namespace {

using SteadyClock = std::chrono::steady_clock;

// Records per Redis write at most (a write pipelines their commands in
// windows of RedisSinkOptions::max_commands_in_flight).
constexpr std::uint32_t kRedisBatchMax = 4096;

}  // namespace

struct Sidecar::Impl {
  SidecarOptions options;
  shm::Segment segment;
  ChangeReader reader;
  Window window;
  std::unique_ptr<Worker> redis;
  std::unique_ptr<Worker> pg;
  std::unique_ptr<service::MetricsServer> metrics;

  // `reader` refers to `segment`, declared (so constructed) before it.
  explicit Impl(shm::Segment s) : segment(std::move(s)), reader(segment) {}

  // Window index below which both stores have everything.
  std::uint64_t Acked() const { return std::min(redis->acked(), pg->acked()); }

  // The engine's heartbeat as the read loop last saw it. An engine counts
  // as beating once its heartbeat moved under one pid: hokm-engine's main
  // thread beats every 100 ms, while an engine embedded in another process
  // (hokm-loadgen --mode embedded, tests) never beats and is not "stale".
  pid_t watched_pid = 0;           // read loop only
  std::uint64_t watched_beat = 0;  // read loop only
  std::atomic<bool> engine_beating{false};
  void WatchEngine() {
    const pid_t pid = segment.engine_pid();
    const std::uint64_t beat = segment.engine_heartbeat_ns();
    if (pid != watched_pid) {
      engine_beating.store(false, std::memory_order_relaxed);
    } else if (beat != watched_beat) {
      engine_beating.store(true, std::memory_order_relaxed);
    }
    watched_pid = pid;
    watched_beat = beat;
  }
};

namespace {
// One sidecar per segment: each change ring has exactly one reader. The
// pid word of the process line is the claim (a dead holder's is taken
// over, as the engine's claim is).
Status ClaimRings(const shm::Segment& segment) {
  const shm::CounterView process = segment.sidecar_line(kProcessLine);
  const std::uint64_t me = static_cast<std::uint64_t>(::getpid());
  std::uint64_t holder = process.Get(ProcessCounter::kPid);
  for (;;) {
    if (holder != 0 && holder != me && shm::ProcessAlive(holder)) {
      return Status::Unavailable("hokm-sidecar pid " + std::to_string(holder) +
                                 " already reads the change rings of /dev/shm/" + segment.name() +
                                 ": one sidecar per segment (stop it first)");
    }
    if (process.Claim(ProcessCounter::kPid, holder, me)) return Status::Ok();
  }
}

// A worker's line, zeroed: its counters count this run.
shm::CounterView ResetLine(shm::CounterView line) {
  line.Reset();
  return line;
}
}  // namespace

Result<std::unique_ptr<Sidecar>> Sidecar::Open(const SidecarOptions& options) {
  auto redis_url = ParseRedisUrl(options.redis_url);
  if (!redis_url.ok())
    return Status::InvalidArgument("--redis-url: " + redis_url.status().message());
  if (options.redis_cluster) redis_url->cluster = true;
  auto pg_url = ParsePgUrl(options.pg_url);
  if (!pg_url.ok()) return Status::InvalidArgument("--pg-url: " + pg_url.status().message());
  // A segment the engine is still creating answers Unavailable: wait for
  // it a little (a sidecar started right after the engine meets this),
  // then give up saying so.
  const auto attach_deadline = SteadyClock::now() + std::chrono::seconds(10);
  auto segment = shm::Segment::Attach(shm::SegmentNameFrom(options.shm_name));
  while (!segment.ok() && segment.status().code() == Status::Code::kUnavailable &&
         SteadyClock::now() < attach_deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    segment = shm::Segment::Attach(shm::SegmentNameFrom(options.shm_name));
  }
  if (!segment.ok()) return segment.status();

  if (Status s = ClaimRings(*segment); !s.ok()) return s;
  auto impl = std::make_unique<Impl>(std::move(segment).value());
  impl->options = options;
  auto redis_spill = SpillQueue::Open(options.spill_dir / "redis");
  if (!redis_spill.ok()) return redis_spill.status();
  auto pg_spill = SpillQueue::Open(options.spill_dir / "postgres");
  if (!pg_spill.ok()) return pg_spill.status();
  auto rebuild_source = std::make_shared<StoreRebuildSource>(impl->segment.table(), *pg_url);
  RedisSinkOptions redis_options;
  redis_options.rebuild_source = rebuild_source;
  redis_options.records_from_the_start = impl->reader.AtTheStart();
  impl->redis = std::make_unique<Worker>(
      "redis", impl->window,
      std::make_unique<RedisClient>(*redis_url, std::move(redis_options), rebuild_source),
      std::move(redis_spill).value(),
      std::min<std::uint32_t>(options.batch_max_records, kRedisBatchMax), options.redis_batch_ms,
      ResetLine(impl->segment.sidecar_line(kRedisLine)));
  impl->pg = std::make_unique<Worker>(
      "postgres", impl->window,
      std::make_unique<PgClient>(*pg_url, options.schema_dir, impl->segment.name() + ":shard-"),
      std::move(pg_spill).value(), options.batch_max_records, options.batch_max_ms,
      ResetLine(impl->segment.sidecar_line(kPgLine)));
  // When this run started and its first beat, for `hokmctl status` (the
  // pid is the claim made above).
  const shm::CounterView process = impl->segment.sidecar_line(kProcessLine);
  process.Set(ProcessCounter::kStartedUnixNs, shm::RealtimeNowNs());
  process.Set(ProcessCounter::kHeartbeatNs, shm::MonotonicNowNs());
  Log("attached to /dev/shm/%s (%u shard(s)); redis %s; postgres %s; spill %s",
      impl->segment.name().c_str(), impl->segment.shards(), redis_url->Redacted().c_str(),
      pg_url->Redacted().c_str(), options.spill_dir.c_str());
  return std::unique_ptr<Sidecar>(new Sidecar(std::move(impl)));
}

Sidecar::Sidecar(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Sidecar::~Sidecar() = default;

int Sidecar::Run(const std::atomic<bool>& stop) {
  Impl& m = *impl_;
  ::signal(SIGPIPE, SIG_IGN);  // hiredis and libpq write to sockets a store may close
  if (m.options.metrics_port != 0) {
    std::string error;
    m.metrics = service::MetricsServer::Start(
        m.options.metrics_bind, static_cast<std::uint16_t>(m.options.metrics_port),
        [this] { return MetricsText(); }, [this] { return Health(); }, &error);
    if (!m.metrics) {
      LogError("%s", error.c_str());
      return 1;
    }
    Log("metrics on http://%s:%u/metrics and /health", m.options.metrics_bind.c_str(),
        m.metrics->port());
  }
  m.redis->Start();
  m.pg->Start();

  std::uint32_t idle = 0;
  const auto drain_deadline = SteadyClock::now() + std::chrono::seconds(m.options.drain_timeout_s);
  int exit_code = 0;
  const shm::CounterView process = m.segment.sidecar_line(kProcessLine);
  std::uint64_t beats = 0;
  while (!stop.load(std::memory_order_relaxed)) {
    // The heartbeat every 64 turns: a turn is at most ~1 ms (the nap below).
    if ((++beats & 63) == 0) {
      process.Set(ProcessCounter::kHeartbeatNs, shm::MonotonicNowNs());
      m.WatchEngine();
    }
    const std::size_t read = m.reader.ReadInto(m.window);
    const std::uint64_t upto = m.Acked();
    m.reader.CommitAcked(m.window, upto);

    if (read != 0) {
      idle = 0;
      continue;
    }
    if (m.options.drain_and_exit) {
      // Once no engine is attached nothing more is coming: stop waiting
      // for PostgreSQL batches to fill.
      const bool engine_alive = m.segment.EngineAlive();
      if (!engine_alive) {
        m.redis->SetDraining();
        m.pg->SetDraining();
      }
      const bool rings_empty = m.reader.RingsEmpty();
      const bool delivered = upto == m.window.End() && m.redis->SpillEmpty() && m.pg->SpillEmpty();
      // A corrupt ring is never "empty": something wrote where no record was.
      if (!engine_alive && delivered && m.reader.AnyCorrupt()) {
        Log("drain stopped at a corrupt change ring: both stores have every record before it "
            "(see above); exiting 4");
        exit_code = 4;
        break;
      }
      if (!engine_alive && rings_empty && delivered) {
        Log("drained: no engine attached, rings empty, both stores have every record");
        break;
      }
      if (SteadyClock::now() > drain_deadline) {
        Log("drain timed out after %u s (redis spill %s, postgres spill %s)",
            m.options.drain_timeout_s, m.redis->SpillEmpty() ? "empty" : "NOT empty",
            m.pg->SpillEmpty() ? "empty" : "NOT empty");
        exit_code = 3;
        break;
      }
    }
    // Nap when the rings are empty: 200 us, then 1 ms once idle for a
    // while. The workers batch for longer than that anyway (redis_batch_ms,
    // batch_max_ms), and every wake-up is a context switch.
    ++idle;
    timespec ts{0, idle < 16 ? 200'000L : 1'000'000L};
    nanosleep(&ts, nullptr);
  }
  m.redis->Stop();
  m.pg->Stop();
  // Commit what both stores acknowledged while stopping.
  m.reader.CommitAcked(m.window, m.Acked());
  Log("stopped: %llu records read, %llu delivered to both stores, %llu malformed",
      static_cast<unsigned long long>(m.reader.records_read()),
      static_cast<unsigned long long>(m.Acked()),
      static_cast<unsigned long long>(m.reader.malformed()));
  m.metrics.reset();
  process.Set(ProcessCounter::kPid, 0);  // stopped cleanly: no sidecar attached
  return exit_code;
}

std::string Sidecar::MetricsText() const {
  const Impl& m = *impl_;
  return RenderMetrics(m.reader, m.window, *m.redis, *m.pg);
}

service::Health Sidecar::Health() const {
  const Impl& m = *impl_;
  EngineLiveness engine;
  engine.attached = m.segment.EngineAlive();
  engine.beating = m.engine_beating.load(std::memory_order_relaxed);
  const std::uint64_t beat = m.segment.engine_heartbeat_ns();
  const std::uint64_t now = shm::MonotonicNowNs();
  engine.heartbeat_age_ns = now > beat ? now - beat : 0;
  return RenderHealth(m.reader, m.window, engine, *m.redis, *m.pg);
}

}  // namespace hokm::sidecar
