// load_run.cc: opening a mode's back end, running the threads with the
// progress line, and summing their results (see load_run.h).
#include "loadgen/drivers/load_run.h"

#include <signal.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/engine.h"
#include "loadgen/baseline/seed_runner.h"
#include "loadgen/drivers/dump_writer.h"
#include "loadgen/drivers/ring_drainer.h"
#include "loadgen/drivers/runners.h"
#include "loadgen/verify/sidecar_probe.h"
#include "service/log.h"
#include "service/stop_signal.h"
#include "shm/segment.h"

namespace hokm::loadgen {
namespace {

unsigned long long U(std::uint64_t v) { return static_cast<unsigned long long>(v); }

}  // namespace

void InstallStopSignals() {
  service::StopOnSignals();
  // A store that closes its socket must not kill us through a write.
  signal(SIGPIPE, SIG_IGN);
  // Pacing and idle naps sleep for tens of microseconds; the default 50 us
  // timer slack would double that.
  prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
}

LoadRun::LoadRun(const LoadgenOptions& options) : options_(options) {}
LoadRun::~LoadRun() = default;

const shm::Segment* LoadRun::segment() const {
  if (engine_) return &engine_->segment();
  return segment_.get();
}

Status LoadRun::Open() {
  const LoadgenOptions& o = options_;
  if (o.mode == Mode::kEmbedded) {
    if (o.fresh) (void)shm::Segment::Remove(o.shm_name);
    EngineOptions eo;
    eo.shm_name = o.shm_name;
    eo.capacity = o.capacity;
    eo.shards = static_cast<std::uint32_t>(o.threads);
    eo.ring_bytes = std::uint64_t{o.ring_mb} << 20;
    eo.node_id = o.node_id;
    eo.reuse_existing = true;
    auto engine = Engine::Open(eo);
    if (!engine.ok()) return engine.status();
    engine_ = std::move(engine).value();
    if (engine_->shards() != static_cast<std::uint32_t>(o.threads)) {
      return Status::InvalidArgument("segment '" + o.shm_name + "' has " +
                                     std::to_string(engine_->shards()) + " shards, --threads is " +
                                     std::to_string(o.threads) + ": use --fresh");
    }
  } else if (o.mode == Mode::kShm) {
    auto segment = shm::Segment::Attach(o.shm_name);
    if (!segment.ok()) return segment.status();
    segment_ = std::make_unique<shm::Segment>(std::move(segment).value());
    if (!segment_->EngineAlive()) {
      return Status::Unavailable("no hokm-engine is serving segment '" + o.shm_name +
                                 "': start one (hokm-engine --shm-name " + o.shm_name + ")");
    }
  } else if (o.mode == Mode::kSeedBaseline) {
    auto setup = PrepareSeedBaseline(o);
    if (!setup.ok()) return setup.status();
    seed_ = std::make_unique<SeedSetup>(std::move(setup).value());
  }

  if (o.wait_for_sidecar_s > 0) {
    auto metrics = ParseHttpUrl(o.sidecar_metrics);
    if (!metrics.ok())
      return Status::InvalidArgument("--sidecar-metrics: " + metrics.status().message());
    const HttpUrl health = HealthUrlOf(*metrics);
    const std::uint64_t deadline = NowNs() + static_cast<std::uint64_t>(o.wait_for_sidecar_s * 1e9);
    for (;;) {
      auto body = HttpGet(health, std::chrono::milliseconds(500), /*accept_unavailable=*/true);
      if (body.ok()) break;
      if (NowNs() > deadline || service::StopRequested()) {
        return Status::Unavailable("--wait-for-sidecar: no answer from the sidecar's /health: " +
                                   body.status().message());
      }
      timespec ts{0, 50'000'000};
      nanosleep(&ts, nullptr);
    }
  }
  return Status::Ok();
}

namespace {

// Scrapes the sidecar's lag histograms at the end of the ramp and at the
// end of play (--duration; else when the threads are done), for
// RunTotals::steady_lag. Only for the engine modes with a sidecar.
class SteadyLagProbe {
 public:
  SteadyLagProbe(const LoadgenOptions& o, std::uint64_t start_ns) : start_ns_(start_ns) {
    if ((o.mode != Mode::kEmbedded && o.mode != Mode::kShm) || o.drain) return;
    auto url = ParseHttpUrl(o.sidecar_metrics);
    if (!url.ok()) return;
    url_ = *url;
    enabled_ = true;
    from_ns_ = start_ns + static_cast<std::uint64_t>(std::max(0.0, o.ramp_s) * 1e9);
    to_ns_ = o.duration_s > 0 ? start_ns + static_cast<std::uint64_t>(o.duration_s * 1e9) : 0;
  }

  // A scrape that fails (a sidecar busy past the timeout) is tried again
  // at the next poll; the window starts at the first one that answered.
  void Poll(std::uint64_t now) {
    if (!enabled_) return;
    if (!before_ && now >= from_ns_ && (to_ns_ == 0 || now < to_ns_))
      Scrape(now, before_, from_at_ns_);
    if (before_ && !after_ && to_ns_ != 0 && now >= to_ns_) Scrape(now, after_, to_at_ns_);
  }

  void Finish(std::uint64_t now, RunTotals& totals) {
    if (!enabled_) return;
    if (before_ && !after_) Scrape(now, after_, to_at_ns_);
    if (!before_ || !after_) {
      service::LogWarn("no sync lag after the ramp: " + last_error_);
      return;
    }
    auto lag = WindowSyncLag(*before_, *after_);
    if (!lag.ok()) {
      service::LogWarn("no sync lag after the ramp: " + lag.status().message());
      return;
    }
    totals.steady_lag = *lag;
    totals.steady_from_s = static_cast<double>(from_at_ns_ - start_ns_) / 1e9;
    totals.steady_to_s = static_cast<double>(to_at_ns_ - start_ns_) / 1e9;
  }

 private:
  void Scrape(std::uint64_t now, std::optional<SyncLagHistograms>& into, std::uint64_t& at_ns) {
    Result<std::string> page = HttpGet(url_, std::chrono::milliseconds(2000));
    Result<SyncLagHistograms> parsed =
        page.ok() ? ParseSyncLagHistograms(*page) : Result<SyncLagHistograms>(page.status());
    if (!parsed.ok()) {
      last_error_ = parsed.status().message();
      return;
    }
    into = std::move(*parsed);
    at_ns = now;
  }

  bool enabled_ = false;
  HttpUrl url_;
  std::uint64_t start_ns_;
  std::uint64_t from_ns_ = 0;     // the end of the ramp
  std::uint64_t to_ns_ = 0;       // the end of play; 0: when the threads are done
  std::uint64_t from_at_ns_ = 0;  // when the scrapes answered
  std::uint64_t to_at_ns_ = 0;
  std::string last_error_ = "the sidecar's /metrics never answered";
  std::optional<SyncLagHistograms> before_, after_;
};

}  // namespace

void LoadRun::PrintProgress(const std::vector<std::unique_ptr<ThreadResult>>& results,
                            std::uint64_t games_started, double elapsed_s) {
  std::uint64_t plays = 0, done = 0, errors = 0, busy = 0;
  for (const auto& r : results) {
    plays += r->card_plays.Get();
    done += r->games_completed.Get();
    errors += r->errors.Get();
    busy += r->busy.Get();
  }
  const std::uint64_t now = NowNs();
  const double dt = static_cast<double>(now - last_progress_ns_) / 1e9;
  const double rate = dt > 0 ? static_cast<double>(plays - last_progress_plays_) / dt : 0.0;
  last_progress_plays_ = plays;
  last_progress_ns_ = now;
  std::string lag = "";
  if (options_.mode == Mode::kEmbedded || options_.mode == Mode::kShm) {
    if (!options_.drain) {
      auto url = ParseHttpUrl(options_.sidecar_metrics);
      Result<std::string> page = url.ok() ? HttpGet(*url, std::chrono::milliseconds(200))
                                          : Result<std::string>(url.status());
      Result<SyncLag> parsed = page.ok() ? ParseSyncLag(*page) : Result<SyncLag>(page.status());
      if (parsed.ok()) {
        char text[96];
        std::snprintf(text, sizeof text, " | sync lag p99 redis %.1f ms, pg %.1f ms",
                      parsed->redis.p99, parsed->postgres.p99);
        lag = text;
      } else {
        lag = " | sync lag n/a";
      }
    }
  }
  std::printf(
      "[%6.1f s] card plays/s %9.0f | games done %llu (started %llu)%s | errors %llu | busy %llu\n",
      elapsed_s, rate, U(done), U(games_started), lag.c_str(), U(errors), U(busy));
  std::fflush(stdout);
}

Result<std::unique_ptr<RunTotals>> LoadRun::Play() {
  const LoadgenOptions& o = options_;
  const int threads = o.threads;
  std::unique_ptr<DumpWriter> dump;
  if (!o.dump_path.empty()) {
    auto opened = DumpWriter::Open(o.dump_path, threads);
    if (!opened.ok()) return opened.status();
    dump = std::move(opened.value());
  }
  std::vector<std::unique_ptr<ThreadResult>> results;
  for (int t = 0; t < threads; ++t) results.push_back(std::make_unique<ThreadResult>());

  RunControl control(o.TotalGamesCap(), o.duration_s);
  std::unique_ptr<RingDrainer> drainer;
  if (o.drain && segment() != nullptr) {
    drainer = std::make_unique<RingDrainer>(*segment(), [&results] {
      std::uint64_t n = 0;
      for (const auto& r : results) n += r->records.Get();
      return n;
    });
    drainer->Start();
  }

  std::vector<std::unique_ptr<ThreadContext>> contexts;
  for (int t = 0; t < threads; ++t) {
    const auto ut = static_cast<std::uint64_t>(t);
    const std::uint64_t lanes = o.games / static_cast<std::uint64_t>(threads) +
                                (ut < o.games % static_cast<std::uint64_t>(threads) ? 1 : 0);
    contexts.push_back(std::make_unique<ThreadContext>(ThreadContext{
        o, control, *results[ut], dump ? &dump->part(t) : nullptr, lanes, o.rate / threads, t}));
  }
  std::atomic<int> running{threads};
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    ThreadContext& ctx = *contexts[static_cast<std::size_t>(t)];
    workers.emplace_back([this, &ctx, &running, t] {
      switch (options_.mode) {
        case Mode::kEmbedded:
          RunEmbeddedThread(*engine_, static_cast<std::uint32_t>(t), ctx);
          break;
        case Mode::kShm:
          RunShmThread(*segment_, ctx);
          break;
        case Mode::kRules:
          RunRulesThread(ctx);
          break;
        case Mode::kSeedBaseline:
          RunSeedThread(*seed_, ctx);
          break;
      }
      running.fetch_sub(1, std::memory_order_release);
    });
  }

  const bool progress = !o.quiet && isatty(STDOUT_FILENO);
  last_progress_ns_ = control.start_ns();
  std::uint64_t next_progress = control.start_ns() + 1'000'000'000ull;
  SteadyLagProbe steady(o, control.start_ns());
  while (running.load(std::memory_order_acquire) != 0) {
    timespec ts{0, 20'000'000};
    nanosleep(&ts, nullptr);
    if (service::StopRequested()) control.Stop();
    const std::uint64_t now = NowNs();
    steady.Poll(now);
    if (progress && now >= next_progress) {
      PrintProgress(results, control.games_started(),
                    static_cast<double>(now - control.start_ns()) / 1e9);
      next_progress += 1'000'000'000ull;
    }
  }
  for (auto& w : workers) w.join();

  auto totals = std::make_unique<RunTotals>();
  totals->reconnecting = options_.disconnect_rate > 0;
  std::uint64_t play_end = control.start_ns();
  std::string fatal;
  for (const auto& r : results) {
    totals->card_plays += r->card_plays.Get();
    totals->commands += r->commands.Get();
    totals->records += r->records.Get();
    totals->games_completed += r->games_completed.Get();
    totals->busy += r->busy.Get();
    totals->errors += r->errors.Get();
    totals->reconnects += r->reconnects.Get();
    totals->reconnect_mismatches += r->reconnect_mismatches.Get();
    totals->latency_ns.Merge(r->latency_ns);
    totals->pg_lag_us.Merge(r->pg_lag_us);
    totals->games.insert(totals->games.end(), r->games.begin(), r->games.end());
    if (r->play_end_ns > play_end) play_end = r->play_end_ns;
    if (fatal.empty()) fatal = r->fatal;
  }
  totals->games_started = totals->games.size();
  steady.Finish(NowNs(), *totals);
  totals->wall_s = static_cast<double>(play_end - control.start_ns()) / 1e9;
  if (drainer) drainer->Finish(*totals, 30'000'000'000ull);
  if (!fatal.empty()) return Status::Unavailable(fatal);
  if (dump) {
    const std::uint64_t t0 = NowNs();
    if (Status s = dump->Finish(); !s.ok()) return s;
    totals->dump_s = static_cast<double>(NowNs() - t0) / 1e9;
  }
  return totals;
}

}  // namespace hokm::loadgen
