// sidecar.cc: the Sidecar runtime: wires the ChangeReader, the Window and
// the two Workers together, runs the read/commit loop and the drain, and
// serves /metrics and /health (see sidecar.h).
#include "sidecar/sidecar.h"

#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>

#include "service/metrics_server.h"
#include "shm/clock.h"
#include "shm/segment.h"
#include "sidecar/log.h"
#include "sidecar/metrics.h"
#include "sidecar/pg/pg_node.h"
#include "sidecar/reader.h"
#include "sidecar/rebuild_source.h"
#include "sidecar/replica_monitor.h"
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
  std::unique_ptr<ReplicaMonitor> replica;  // with --pg-read-url only

  // `reader` refers to `segment`, declared (so constructed) before it.
  explicit Impl(shm::Segment s) : segment(std::move(s)), reader(segment) {}
  ~Impl() { StopLease(); }

  // The segment's node id, held in PostgreSQL (pg_node.h) by the lease
  // thread: it claims (when Open could not), beats every lease / 6, and on
  // a refusal sets node_lost for the read loop. Off the hot path.
  std::unique_ptr<NodeLease> lease;
  std::thread lease_thread;
  std::mutex lease_mu;
  std::condition_variable lease_cv;
  bool lease_stop = false;  // guarded by lease_mu
  std::atomic<bool> node_lost{false};
  std::string node_lost_why;  // written before node_lost's release store

  void StartLease() {
    const auto period = std::chrono::milliseconds(
        std::max<std::uint64_t>(1000, std::uint64_t{options.node_lease_s} * 1000 / 6));
    lease_thread = std::thread([this, period] {
      std::unique_lock lock(lease_mu);
      bool warned = false;
      while (!lease_cv.wait_for(lock, period, [this] { return lease_stop; })) {
        lock.unlock();
        const bool was_claimed = lease->claimed();
        const Status s = was_claimed ? lease->Beat() : lease->Claim();
        lock.lock();
        if (s.ok()) {
          if (!was_claimed) Log("node %u claimed in PostgreSQL", lease->claimant().node_id);
          warned = false;
        } else if (s.code() == Status::Code::kAlreadyExists) {
          node_lost_why = s.message();
          // Release: pairs with the acquire load in Run.
          node_lost.store(true, std::memory_order_release);
          return;
        } else if (!warned) {
          LogError("%s (retrying every %lld ms)", s.message().c_str(),
                   static_cast<long long>(period.count()));
          warned = true;
        }
      }
    });
  }
  void StopLease() {
    {
      std::lock_guard lock(lease_mu);
      lease_stop = true;
    }
    lease_cv.notify_all();
    if (lease_thread.joinable()) lease_thread.join();
  }

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
  std::optional<PgUrl> read_url;
  if (!options.pg_read_url.empty()) {
    auto parsed = ParsePgUrl(options.pg_read_url);
    if (!parsed.ok()) return Status::InvalidArgument("--pg-read-url: " + parsed.status().message());
    read_url = *parsed;
  }
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
  // One node id, one segment (shm/game_id.h): claimed before any record
  // reaches a store.
  NodeClaimant claimant;
  claimant.node_id = impl->segment.node_id();
  claimant.host = ThisHostName();
  claimant.segment = "/dev/shm/" + impl->segment.name();
  claimant.pid = ::getpid();
  claimant.lease = std::chrono::seconds(options.node_lease_s);
  impl->lease = std::make_unique<NodeLease>(*pg_url, claimant);
  Status claimed = impl->lease->Claim();
  if (claimed.code() == Status::Code::kNotFound) {
    // A database without hokm_nodes yet: apply the schema now, as the
    // PostgreSQL worker would before its first write, and claim again.
    auto sink = PgSink::Connect(*pg_url);
    const Status applied = sink.ok() ? sink->ApplySchema(options.schema_dir) : sink.status();
    if (!applied.ok()) LogError("postgres: %s", applied.message().c_str());
    claimed = impl->lease->Claim();
  }
  if (Status s = claimed; !s.ok()) {
    if (s.code() != Status::Code::kUnavailable) {
      // Refused, or no table to claim in: this sidecar does not start; the
      // rings are free for another.
      impl->segment.sidecar_line(kProcessLine).Set(ProcessCounter::kPid, 0);
      return s;
    }
    LogError("%s; starting anyway, the node is claimed once PostgreSQL answers",
             s.message().c_str());
  }
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
      std::make_unique<RedisSinkClient>(*redis_url, std::move(redis_options), rebuild_source),
      std::move(redis_spill).value(),
      std::min<std::uint32_t>(options.batch_max_records, kRedisBatchMax), options.redis_batch_ms,
      ResetLine(impl->segment.sidecar_line(kRedisLine)));
  impl->pg = std::make_unique<Worker>(
      "postgres", impl->window,
      std::make_unique<PgSinkClient>(*pg_url, options.schema_dir, impl->segment.name() + ":shard-"),
      std::move(pg_spill).value(), options.batch_max_records, options.batch_max_ms,
      ResetLine(impl->segment.sidecar_line(kPgLine)));
  if (read_url) {
    PgUrl primary = *pg_url;
    primary.params.try_emplace("application_name", "hokm-sidecar-replica-lag");
    read_url->params.try_emplace("application_name", "hokm-sidecar-replica-lag");
    impl->replica =
        std::make_unique<ReplicaMonitor>(std::move(primary), *read_url, ReplicaMonitor::Options{});
    Log("read replica %s: its lag on /metrics (hokm_pg_replica_*)", read_url->Redacted().c_str());
  }
  // When this run started and its first beat, for `hokmctl status` (the
  // pid is the claim made above).
  const shm::CounterView process = impl->segment.sidecar_line(kProcessLine);
  process.Set(ProcessCounter::kStartedUnixNs, shm::RealtimeNowNs());
  process.Set(ProcessCounter::kHeartbeatNs, shm::MonotonicNowNs());
  Log("attached to /dev/shm/%s (%u shard(s), node %u%s); redis %s; postgres %s; spill %s",
      impl->segment.name().c_str(), impl->segment.shards(), impl->segment.node_id(),
      impl->lease->claimed() ? " claimed" : " not claimed yet", redis_url->Redacted().c_str(),
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
  m.StartLease();
  if (m.replica) m.replica->Start();

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
      // Acquire: pairs with the release store in the lease thread.
      if (m.node_lost.load(std::memory_order_acquire)) {
        LogError("%s: stopping (exit %d)", m.node_lost_why.c_str(), kExitNodeHeld);
        exit_code = kExitNodeHeld;
        break;
      }
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
  if (m.replica) m.replica->Stop();
  m.redis->Stop();
  m.pg->Stop();
  m.StopLease();
  // Commit what both stores acknowledged while stopping.
  m.reader.CommitAcked(m.window, m.Acked());
  // A clean stop frees the node at once (a killed sidecar's is taken over
  // by a claimant on this host, or after the lease).
  if (exit_code != kExitNodeHeld) {
    if (Status s = m.lease->Release(); !s.ok()) LogError("%s", s.message().c_str());
  }
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
  std::string text = RenderMetrics(m.reader, m.window, *m.redis, *m.pg);
  if (m.replica) text += m.replica->MetricsText();
  return text;
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
