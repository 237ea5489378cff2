// sidecar.cc: the ring reader, the window of undelivered records and the two
// sink workers; see sidecar.h.
#include "sidecar/sidecar.h"

#include <signal.h>
#include <time.h>

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <mutex>
#include <set>
#include <span>
#include <thread>
#include <vector>

#include "core/latency_histogram.h"
#include "service/metrics_server.h"
#include "shm/ring.h"
#include "shm/segment.h"
#include "sidecar/rebuild_source.h"
#include "sidecar/breaker.h"
#include "sidecar/pg/pg_sink.h"
#include "sidecar/record_batch.h"
#include "sidecar/redis/redis_sink.h"
#include "sidecar/spill_queue.h"
#include "sidecar/url.h"

namespace hokm::sidecar {

namespace {

using SteadyClock = std::chrono::steady_clock;

// Records per Redis write at most (a write pipelines their commands in
// windows of RedisSinkOptions::max_commands_in_flight).
constexpr std::uint32_t kRedisBatchMax = 4096;

std::uint64_t RealtimeNs() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<std::uint64_t>(ts.tv_nsec);
}

void Log(const char* fmt, auto... args) {
  std::fprintf(stderr, "hokm-sidecar: ");
  std::fprintf(stderr, fmt, args...);
  std::fputc('\n', stderr);
}

// One record read from a ring and not yet acknowledged by both sinks.
struct Entry {
  RecordRef ref;
  std::uint64_t ts_ns;  // engine publish time; 0 for a malformed record
  std::uint32_t shard;
  bool last_in_message;  // ref.position may be committed once this one is done
};

// The records read from the rings, in read order, addressed by an index that
// only grows. The reader appends and trims; the workers copy from it.
class Window {
 public:
  void Append(std::vector<Entry>& entries) {
    if (entries.empty()) return;
    bool wake = false;
    {
      std::lock_guard lock(mu_);
      entries_.insert(entries_.end(), entries.begin(), entries.end());
      // Wake the workers only when one waits for an index now present: a
      // worker filling a batch sleeps through the appends in between (each
      // wake-up is a context switch; sidecar/README.md, Measurements, has
      // their share of the CPU).
      wake = !waiting_.empty() && base_ + entries_.size() > *waiting_.begin();
    }
    entries.clear();
    if (wake) cv_.notify_all();
  }

  // Copies up to max entries from index `from`, ending at a message boundary
  // (one message larger than max is taken whole).
  std::size_t Take(std::uint64_t from, std::size_t max, std::vector<Entry>& out) {
    out.clear();
    std::lock_guard lock(mu_);
    if (from < base_) from = base_;
    const std::uint64_t end = base_ + entries_.size();
    if (from >= end) return 0;
    std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(end - from, max));
    auto first = entries_.begin() + static_cast<std::ptrdiff_t>(from - base_);
    while (n > 0 && !first[static_cast<std::ptrdiff_t>(n) - 1].last_in_message) --n;
    if (n == 0) {  // one message larger than max
      while (first + static_cast<std::ptrdiff_t>(n) != entries_.end()) {
        if (first[static_cast<std::ptrdiff_t>(n++)].last_in_message) break;
      }
      if (!first[static_cast<std::ptrdiff_t>(n) - 1].last_in_message) n = 0;
    }
    out.assign(first, first + static_cast<std::ptrdiff_t>(n));
    return n;
  }

  // Waits until there is an entry at `index` or the deadline passed.
  void WaitFor(std::uint64_t index, SteadyClock::time_point deadline) {
    std::unique_lock lock(mu_);
    const auto at = waiting_.insert(index);
    cv_.wait_until(lock, deadline, [&] { return base_ + entries_.size() > index || woken_; });
    waiting_.erase(at);
    woken_ = false;
  }
  void WakeAll() {
    {
      std::lock_guard lock(mu_);
      woken_ = true;
    }
    cv_.notify_all();
  }

  // Drops entries below `upto`; commit[shard] becomes the last whole-message
  // position among them (left as is for shards with none).
  void Trim(std::uint64_t upto, std::vector<std::uint64_t>& commit) {
    std::lock_guard lock(mu_);
    while (base_ < upto && !entries_.empty()) {
      const Entry& e = entries_.front();
      if (e.last_in_message) commit[e.shard] = e.ref.position;
      entries_.pop_front();
      ++base_;
    }
  }

  std::uint64_t End() const {
    std::lock_guard lock(mu_);
    return base_ + entries_.size();
  }
  // ts_ns of the entry at index (0 if none).
  std::uint64_t TsAt(std::uint64_t index) const {
    std::lock_guard lock(mu_);
    if (index < base_ || index >= base_ + entries_.size()) return 0;
    return entries_[static_cast<std::size_t>(index - base_)].ts_ns;
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Entry> entries_;
  std::multiset<std::uint64_t> waiting_;  // the indices WaitFor callers wait for
  std::uint64_t base_ = 0;
  bool woken_ = false;
};

// A store as a worker sees it: connects lazily, writes a batch.
class SinkClient {
 public:
  virtual ~SinkClient() = default;
  // Ok once the store has every record (idempotently); otherwise the error.
  virtual Status Write(std::span<const RecordRef> records, const Entry& last) = 0;
  // What the worker calls about every second while it has nothing to
  // write: Redis checks that it still holds what was written (redis_sink.h).
  virtual Status Idle() { return Status::Ok(); }
  virtual std::string StatsText() const = 0;
};

class RedisClient final : public SinkClient {
 public:
  RedisClient(RedisUrl url, RedisSinkOptions options, std::shared_ptr<const StoreRebuildSource> source)
      : url_(std::move(url)), options_(std::move(options)), source_(std::move(source)) {}
  Status Write(std::span<const RecordRef> records, const Entry&) override { return Apply(records); }
  Status Idle() override { return Apply({}); }
  std::string StatsText() const override {
    if (!sink_) return {};
    const RedisSinkStats s = sink_->stats();
    service::PromText t;
    t.Counter("hokm_sidecar_redis_records_applied_total", static_cast<double>(s.records_applied));
    t.Counter("hokm_sidecar_redis_records_duplicate_total", static_cast<double>(s.records_duplicate));
    t.Counter("hokm_sidecar_redis_entries_total", static_cast<double>(s.entries));
    t.Counter("hokm_sidecar_redis_commands_total", static_cast<double>(s.commands));
    t.Counter("hokm_sidecar_redis_scripts_total", static_cast<double>(s.scripts));
    t.Counter("hokm_sidecar_redis_probes_total", static_cast<double>(s.probes));
    t.Counter("hokm_sidecar_redis_round_trips_total", static_cast<double>(s.round_trips));
    t.Counter("hokm_sidecar_redis_reconnects_total", static_cast<double>(s.reconnects));
    t.Counter("hokm_sidecar_redis_rebuilds_total", static_cast<double>(s.rebuilds));
    t.Counter("hokm_sidecar_redis_rebuilt_games_total", static_cast<double>(s.rebuilt_games));
    t.Gauge("hokm_sidecar_redis_last_rebuild_seconds", static_cast<double>(s.last_rebuild_us) / 1e6);
    return t.Take();
  }

 private:
  Status Apply(std::span<const RecordRef> records) {
    if (!sink_) {
      auto connected = RedisSink::Connect(url_, options_);
      if (!connected.ok()) return connected.status();
      sink_ = std::make_unique<RedisSink>(std::move(connected).value());
      Log("redis: connected to %s", url_.Redacted().c_str());
    }
    Status s = sink_->Write(records);
    const RedisSinkStats after = sink_->stats();
    if (after.rebuilds != rebuilds_seen_) {
      rebuilds_seen_ = after.rebuilds;
      Log("redis: %s was missing (Redis lost its data): rewrote %llu game(s), live ones from the "
          "segment and those that ended within their TTL from postgres, in %.1f ms (rebuild %llu)",
          "hokm:marker", static_cast<unsigned long long>(after.rebuilt_games - rebuilt_seen_),
          static_cast<double>(after.last_rebuild_us) / 1000.0,
          static_cast<unsigned long long>(after.rebuilds));
      if (!source_->last_error().empty())
        Log("redis: rebuild without ended games and ratings: %s", source_->last_error().c_str());
      if (source_->unreplayable() != 0)
        Log("redis: rebuild left out %llu ended game(s) whose records in postgres do not replay "
            "to their last seq", static_cast<unsigned long long>(source_->unreplayable()));
    }
    rebuilt_seen_ = after.rebuilt_games;
    return s;
  }

  RedisUrl url_;
  RedisSinkOptions options_;
  std::shared_ptr<const StoreRebuildSource> source_;
  std::unique_ptr<RedisSink> sink_;
  std::uint64_t rebuilds_seen_ = 0, rebuilt_seen_ = 0;
};

class PgClient final : public SinkClient {
 public:
  PgClient(PgUrl url, std::filesystem::path schema_dir, std::string checkpoint_prefix)
      : url_(std::move(url)), schema_dir_(std::move(schema_dir)), prefix_(std::move(checkpoint_prefix)) {}
  Status Write(std::span<const RecordRef> records, const Entry& last) override {
    if (!sink_) {
      auto connected = PgSink::Connect(url_);
      if (!connected.ok()) return connected.status();
      auto sink = std::make_unique<PgSink>(std::move(connected).value());
      if (Status s = sink->ApplySchema(schema_dir_); !s.ok()) return s;
      sink_ = std::move(sink);
      Log("postgres: connected to %s, schema applied from %s", url_.Redacted().c_str(),
          schema_dir_.c_str());
    }
    Status s = sink_->WriteBatch(records, prefix_ + std::to_string(last.shard), last.ref.position);
    if (!s.ok() && s.code() == Status::Code::kUnavailable) sink_.reset();
    return s;
  }
  std::string StatsText() const override {
    if (!sink_) return {};
    const PgSinkStats s = sink_->stats();
    service::PromText t;
    t.Counter("hokm_sidecar_pg_rows_inserted_total", static_cast<double>(s.rows_inserted));
    t.Counter("hokm_sidecar_pg_records_inserted_total", static_cast<double>(s.moves_inserted));
    t.Counter("hokm_sidecar_pg_transactions_total", static_cast<double>(s.transactions));
    t.Counter("hokm_sidecar_dead_letters_total", static_cast<double>(s.dead_letters));
    return t.Take();
  }

 private:
  PgUrl url_;
  std::filesystem::path schema_dir_;
  std::string prefix_;
  std::unique_ptr<PgSink> sink_;
};

// Delivers the window to one store, in order, spilling while it is down.
class Worker {
 public:
  Worker(const char* name, Window& window, std::unique_ptr<SinkClient> client,
         std::unique_ptr<SpillQueue> spill, std::uint32_t max_records, std::uint32_t wait_ms)
      : name_(name), window_(window), client_(std::move(client)), spill_(std::move(spill)),
        breaker_(Breaker::Options{}), max_records_(max_records), wait_ms_(wait_ms) {
    // Before the thread runs: a drain check made before it would otherwise
    // take a spill queue left by an earlier run for empty.
    PublishSpillGauges();
  }

  void Start() { thread_ = std::thread([this] { Run(); }); }
  void Stop() {
    stop_.store(true);
    window_.WakeAll();
    if (thread_.joinable()) thread_.join();
  }
  void SetDraining() { draining_.store(true); }

  const char* name() const { return name_; }
  std::uint64_t acked() const { return acked_.load(std::memory_order_acquire); }
  bool SpillEmpty() const { return spill_pending_.load(std::memory_order_relaxed) == 0; }
  std::uint64_t SpillRecords() const { return spill_pending_.load(std::memory_order_relaxed); }

  // Metric families one sample per worker; families must stay contiguous,
  // so the caller interleaves the workers family by family.
  struct Family {
    const char* name;
    const char* kind;
    double (*value)(const Worker&);
  };
  static std::span<const Family> Families() {
  static const Family kFamilies[] = {
      {"hokm_sidecar_records_total", "counter", [](const Worker& w) { return double(w.records_.load()); }},
      {"hokm_sidecar_batches_total", "counter", [](const Worker& w) { return double(w.batches_.load()); }},
      {"hokm_sidecar_spilled_records_total", "counter", [](const Worker& w) { return double(w.spilled_.load()); }},
      {"hokm_sidecar_replayed_records_total", "counter", [](const Worker& w) { return double(w.replayed_.load()); }},
      {"hokm_sidecar_spill_bytes", "gauge", [](const Worker& w) { return double(w.spill_bytes_.load()); }},
      {"hokm_sidecar_spill_records", "gauge", [](const Worker& w) { return double(w.spill_pending_.load()); }},
      {"hokm_sidecar_breaker_state", "gauge", [](const Worker& w) { return double(w.breaker_.StateRelaxed()); }},
      {"hokm_sidecar_breaker_opens_total", "counter", [](const Worker& w) { return double(w.breaker_.opens_total()); }},
      {"hokm_sidecar_write_failures_total", "counter", [](const Worker& w) { return double(w.breaker_.failures_total()); }},
  };
  return kFamilies;
  }
  std::string Label() const { return "sink=\"" + std::string(name_) + "\""; }
  // Quantiles in ms of a histogram of microseconds (or plain counts).
  static void Quantiles(service::PromText& t, const char* name, const core::LatencyHistogram& h,
                        double scale, const std::string& label) {
    for (const char* q : {"0.5", "0.99", "0.999"}) {
      t.Sample(name, static_cast<double>(h.Quantile(std::stod(q))) * scale,
               label + ",quantile=\"" + q + "\"");
    }
    t.Sample((std::string(name) + "_count").c_str(), static_cast<double>(h.Count()), label);
  }
  // The sync lag again as a Prometheus histogram (ms), cumulative since
  // start: unlike the summary's quantiles, two scrapes can be subtracted,
  // so a dashboard (or loadgen, for the time after its ramp) gets the lag
  // of any window. Bounds: four per power of two from 0.079 ms to 67 s,
  // each the exact upper bound of a LatencyHistogram bucket.
  void AppendLagHistogram(service::PromText& t, const char* name) const {
    const std::string bucket = std::string(name) + "_bucket";
    const std::string label = Label();
    std::uint64_t cumulative = 0;
    int counted = 0;  // buckets [0, counted) are in `cumulative`
    for (int shift = 2; shift <= 21; ++shift) {
      for (int sub = 3; sub < core::LatencyHistogram::kSub; sub += 4) {
        const int upto = (shift + 1) * core::LatencyHistogram::kSub + sub;
        for (; counted <= upto; ++counted) cumulative += lag_us_.BucketCount(counted);
        char le[32];
        std::snprintf(le, sizeof le, "%g",
                      static_cast<double>(core::LatencyHistogram::UpperBound(upto)) / 1000.0);
        t.Sample(bucket.c_str(), static_cast<double>(cumulative), label + ",le=\"" + le + "\"");
      }
    }
    const std::uint64_t count = lag_us_.Count();
    t.Sample(bucket.c_str(), static_cast<double>(count), label + ",le=\"+Inf\"");
    t.Sample((std::string(name) + "_sum").c_str(), lag_us_.Mean() * static_cast<double>(count) / 1000.0,
             label);
    t.Sample((std::string(name) + "_count").c_str(), static_cast<double>(count), label);
  }
  void AppendSummaries(service::PromText& t, int which) const {
    if (which == 0) Quantiles(t, "hokm_sidecar_sync_lag_ms", lag_us_, 1e-3, Label());
    if (which == 1) Quantiles(t, "hokm_sidecar_write_latency_ms", write_us_, 1e-3, Label());
    if (which == 2) Quantiles(t, "hokm_sidecar_batch_records", batch_size_, 1.0, Label());
  }
  // The sink's counters as of its last write: /metrics never waits for a
  // write in progress (a PostgreSQL batch can take seconds under load, and
  // a scrape that waited that long timed out).
  std::string ClientStats() const {
    std::lock_guard lock(stats_mu_);
    return stats_text_;
  }

  std::string HealthJson(std::uint64_t window_end) const {
    char json[512];
    std::snprintf(json, sizeof json,
                  "{\"breaker\":\"%s\",\"lag_records\":%llu,\"spill_records\":%llu,\"spill_bytes\":%llu,"
                  "\"records\":%llu,\"sync_lag_ms_p99\":%.3f,\"last_error\":\"%s\"}",
                  Breaker::Name(breaker_.StateRelaxed()),
                  static_cast<unsigned long long>(window_end - std::min(window_end, acked())),
                  static_cast<unsigned long long>(spill_pending_.load()),
                  static_cast<unsigned long long>(spill_bytes_.load()),
                  static_cast<unsigned long long>(records_.load()),
                  static_cast<double>(lag_us_.Quantile(0.99)) / 1000.0, LastError().c_str());
    return json;
  }


 private:
  std::string LastError() const {
    std::lock_guard lock(error_mu_);
    std::string e;
    for (char c : last_error_) e += (c == '"' || c == '\\' || c < 0x20) ? ' ' : c;
    return e;
  }
  void Fail(const Status& s) {
    breaker_.RecordFailure(SteadyClock::now());
    std::lock_guard lock(error_mu_);
    if (s.message() != last_error_) {
      Log("%s: %s; breaker open, retry in %lld ms, spilling", name_, s.message().c_str(),
          static_cast<long long>(breaker_.last_backoff().count()));
    }
    last_error_ = s.message();
  }
  void Recovered() {
    if (breaker_.state() != Breaker::State::kClosed) Log("%s: store answers again; breaker closed", name_);
    breaker_.RecordSuccess();
    std::lock_guard lock(error_mu_);
    last_error_.clear();
  }
  Status Deliver(std::span<const RecordRef> refs, const Entry& last) {
    const auto start = SteadyClock::now();
    Status s = client_->Write(refs, last);
    write_us_.Record(static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(SteadyClock::now() - start).count()));
    SaveStats();
    return s;
  }
  void SaveStats() {
    std::string stats = client_->StatsText();
    std::lock_guard stats_lock(stats_mu_);
    stats_text_.swap(stats);
  }
  // With nothing to write, the store may check itself about every second
  // (Redis: is its marker still there?), when it is not spilling.
  void Idle() {
    const auto now = SteadyClock::now();
    if (now < next_idle_ || !spill_->empty() || !breaker_.Allow(now)) return;
    next_idle_ = now + std::chrono::seconds(1);
    if (Status s = client_->Idle(); s.ok()) {
      Recovered();
    } else {
      Fail(s);
    }
    SaveStats();
  }
  void PublishSpillGauges() {
    spill_pending_.store(spill_->pending_records(), std::memory_order_relaxed);
    spill_bytes_.store(spill_->bytes(), std::memory_order_relaxed);
  }

  // Replays one batch of the spill queue if the breaker lets us. True if it
  // made progress.
  bool ReplaySpill() {
    if (spill_->empty() || !breaker_.Allow(SteadyClock::now())) return false;
    if (Status s = spill_->Peek(max_records_, spilled_view_); !s.ok()) {
      Log("%s: reading the spill queue failed: %s", name_, s.message().c_str());
      return false;
    }
    // End at a command's end (its records share one position): the sinks
    // store a command whole. The rest of it is in the next Peek.
    if (spilled_view_.size() >= max_records_) {
      std::size_t n = spilled_view_.size();
      while (n > 1 && spilled_view_[n - 1].position == spilled_view_.back().position) --n;
      if (n > 0 && spilled_view_[n - 1].position != spilled_view_.back().position) {
        spilled_view_.erase(spilled_view_.begin() + static_cast<std::ptrdiff_t>(n), spilled_view_.end());
      }
    }
    refs_.clear();
    for (const SpilledRecord& r : spilled_view_) refs_.push_back(VerifyRecord(r.data, r.size, r.position));
    Entry last{};
    last.ref = refs_.back();
    Status s = Deliver(refs_, last);
    if (!s.ok()) {
      Fail(s);
      return false;
    }
    Recovered();
    if (Status p = spill_->Pop(spilled_view_.size()); !p.ok()) Log("%s: %s", name_, p.message().c_str());
    replayed_.fetch_add(spilled_view_.size(), std::memory_order_relaxed);
    PublishSpillGauges();
    if (spill_->empty()) Log("%s: spill queue replayed; back to live delivery", name_);
    return true;
  }

  // Appends the batch to the spill queue, durably. False if the disk failed
  // (the batch stays unacknowledged and is tried again).
  bool Spill() {
    for (const Entry& e : batch_) spill_->Append(e.ref.bytes, e.ref.size, e.ref.position);
    if (Status s = spill_->Sync(); !s.ok()) {
      Log("%s: cannot spill: %s", name_, s.message().c_str());
      return false;
    }
    spilled_.fetch_add(batch_.size(), std::memory_order_relaxed);
    PublishSpillGauges();
    return true;
  }

  void Run() {
    std::uint64_t cursor = 0;
    PublishSpillGauges();
    while (!stop_.load(std::memory_order_relaxed)) {
      if (ReplaySpill()) continue;
      const std::size_t n = window_.Take(cursor, max_records_, batch_);
      if (n == 0) {
        Idle();
        window_.WaitFor(cursor, SteadyClock::now() + std::chrono::milliseconds(5));
        continue;
      }
      // Let a batch fill up to max_records or wait_ms after its first record
      // was published (a backlog goes at once).
      if (wait_ms_ > 0 && n < max_records_ && !draining_.load(std::memory_order_relaxed)) {
        const std::uint64_t first_ts = batch_.front().ts_ns;
        const std::uint64_t due = first_ts + std::uint64_t{wait_ms_} * 1'000'000;
        const std::uint64_t now = RealtimeNs();
        if (first_ts != 0 && now < due) {
          window_.WaitFor(cursor + max_records_, SteadyClock::now() + std::chrono::nanoseconds(due - now));
          if (!stop_.load(std::memory_order_relaxed)) continue;
        }
      }
      bool acked = false;
      if (!spill_->empty() || !breaker_.Allow(SteadyClock::now())) {
        acked = Spill();
      } else {
        refs_.clear();
        for (const Entry& e : batch_) refs_.push_back(e.ref);
        Status s = Deliver(refs_, batch_.back());
        if (s.ok()) {
          Recovered();
          const std::uint64_t now = RealtimeNs();
          for (const Entry& e : batch_) {
            if (e.ts_ns != 0 && now > e.ts_ns) lag_us_.Record((now - e.ts_ns) / 1000);
          }
          records_.fetch_add(n, std::memory_order_relaxed);
          batches_.fetch_add(1, std::memory_order_relaxed);
          batch_size_.Record(n);
          acked = true;
        } else {
          Fail(s);
          acked = Spill();
        }
      }
      if (!acked) {
        // The disk refused the spill: keep the records in the ring and wait.
        window_.WaitFor(~std::uint64_t{0}, SteadyClock::now() + std::chrono::milliseconds(200));
        continue;
      }
      cursor += n;
      acked_.store(cursor, std::memory_order_release);
    }
  }

  const char* name_;
  Window& window_;
  std::unique_ptr<SinkClient> client_;
  mutable std::mutex stats_mu_;  // guards stats_text_
  std::string stats_text_;       // client_->StatsText() after the last write
  std::unique_ptr<SpillQueue> spill_;
  Breaker breaker_;
  std::uint32_t max_records_;
  std::uint32_t wait_ms_;
  std::thread thread_;
  SteadyClock::time_point next_idle_{};
  std::atomic<bool> stop_{false};
  std::atomic<bool> draining_{false};
  std::atomic<std::uint64_t> acked_{0};
  std::vector<Entry> batch_;
  std::vector<RecordRef> refs_;
  std::vector<SpilledRecord> spilled_view_;
  std::atomic<std::uint64_t> records_{0}, batches_{0}, spilled_{0}, replayed_{0};
  std::atomic<std::uint64_t> spill_pending_{0}, spill_bytes_{0};
  core::LatencyHistogram lag_us_, write_us_, batch_size_;
  mutable std::mutex error_mu_;
  std::string last_error_;
};

}  // namespace

struct Sidecar::Impl {
  SidecarOptions options;
  shm::Segment segment;
  std::vector<shm::RingReader> readers;
  Window window;
  std::unique_ptr<Worker> redis;
  std::unique_ptr<Worker> pg;
  std::unique_ptr<service::MetricsServer> metrics;
  std::atomic<std::uint64_t> records_read{0};
  std::atomic<std::uint64_t> malformed{0};
  std::atomic<std::uint64_t> committed_records{0};
  // Per shard: the ring position where its reader found the ring corrupt
  // (RingReader::corrupted), else ~0. Read by /health and /metrics.
  std::vector<std::atomic<std::uint64_t>> corrupt_at;

  explicit Impl(shm::Segment s) : segment(std::move(s)) {}

  static constexpr std::uint64_t kNotCorrupt = ~std::uint64_t{0};

  // Notes (once) each ring its reader cannot parse any further.
  void CheckCorruption() {
    for (std::uint32_t s = 0; s < readers.size(); ++s) {
      if (!readers[s].corrupted() || corrupt_at[s].load(std::memory_order_relaxed) != kNotCorrupt) continue;
      const std::uint64_t at = readers[s].read_position();
      corrupt_at[s].store(at, std::memory_order_relaxed);
      Log("change ring of shard %u is corrupt at position %llu (a record header no engine writes): "
          "every record before it is delivered, nothing after it can be read. Stop the engine, keep "
          "/dev/shm/%s for inspection, and start the engine with --fresh (README, Operations)",
          s, static_cast<unsigned long long>(at), segment.name().c_str());
    }
  }
  bool AnyCorrupt() const {
    for (const auto& c : corrupt_at) {
      if (c.load(std::memory_order_relaxed) != kNotCorrupt) return true;
    }
    return false;
  }

  // Splits one ring record into entries (one per change record).
  void AddMessage(std::uint32_t shard, const shm::RingRecord& r, std::vector<Entry>& out) {
    ForEachChangeRecord(r.type, r.payload, r.next_position, [&](const RecordRef& ref) {
      Entry e{};
      e.ref = ref;
      e.ts_ns = ref.record ? ref.record->ts_ns() : 0;
      e.shard = shard;
      out.push_back(e);
      if (!ref.record) malformed.fetch_add(1, std::memory_order_relaxed);
    });
    out.back().last_in_message = true;
  }
};

Result<std::unique_ptr<Sidecar>> Sidecar::Open(const SidecarOptions& options) {
  auto redis_url = ParseRedisUrl(options.redis_url);
  if (!redis_url.ok()) return Status::InvalidArgument("--redis-url: " + redis_url.status().message());
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

  auto impl = std::make_unique<Impl>(std::move(segment).value());
  impl->options = options;
  for (std::uint32_t s = 0; s < impl->segment.shards(); ++s) {
    impl->readers.emplace_back(impl->segment.change_ring(s));
  }
  impl->corrupt_at = std::vector<std::atomic<std::uint64_t>>(impl->readers.size());
  for (auto& c : impl->corrupt_at) c.store(Impl::kNotCorrupt);
  auto redis_spill = SpillQueue::Open(options.spill_dir / "redis");
  if (!redis_spill.ok()) return redis_spill.status();
  auto pg_spill = SpillQueue::Open(options.spill_dir / "postgres");
  if (!pg_spill.ok()) return pg_spill.status();
  auto rebuild_source = std::make_shared<StoreRebuildSource>(impl->segment.table(), *pg_url);
  RedisSinkOptions redis_options;
  redis_options.rebuild_source = rebuild_source;
  redis_options.records_from_the_start = true;
  for (const auto& reader : impl->readers) {
    if (reader.committed_position() != 0) redis_options.records_from_the_start = false;
  }
  impl->redis = std::make_unique<Worker>("redis", impl->window, std::make_unique<RedisClient>(*redis_url, std::move(redis_options), rebuild_source),
                                         std::move(redis_spill).value(),
                                         std::min<std::uint32_t>(options.batch_max_records, kRedisBatchMax),
                                         options.redis_batch_ms);
  impl->pg = std::make_unique<Worker>(
      "postgres", impl->window,
      std::make_unique<PgClient>(*pg_url, options.schema_dir, impl->segment.name() + ":shard-"),
      std::move(pg_spill).value(), options.batch_max_records, options.batch_max_ms);
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
        static_cast<std::uint16_t>(m.options.metrics_port), [this] { return MetricsText(); },
        [this] { return HealthJson(); }, &error);
    if (!m.metrics) {
      Log("%s", error.c_str());
      return 1;
    }
    Log("metrics on http://127.0.0.1:%u/metrics and /health", m.metrics->port());
  }
  m.redis->Start();
  m.pg->Start();

  std::vector<Entry> entries;
  std::vector<std::uint64_t> commit(m.readers.size(), 0);
  std::uint32_t idle = 0;
  const auto drain_deadline = SteadyClock::now() + std::chrono::seconds(m.options.drain_timeout_s);
  int exit_code = 0;
  while (!stop.load(std::memory_order_relaxed)) {
    std::size_t read = 0;
    for (std::uint32_t s = 0; s < m.readers.size(); ++s) {
      read += m.readers[s].Peek([&](const shm::RingRecord& r) { m.AddMessage(s, r, entries); }, 1024);
    }
    m.records_read.fetch_add(entries.size(), std::memory_order_relaxed);
    m.window.Append(entries);
    m.CheckCorruption();

    const std::uint64_t upto = std::min(m.redis->acked(), m.pg->acked());
    std::fill(commit.begin(), commit.end(), 0);
    m.window.Trim(upto, commit);
    for (std::uint32_t s = 0; s < m.readers.size(); ++s) {
      if (commit[s] != 0) m.readers[s].CommitTo(commit[s]);
    }
    m.committed_records.store(upto, std::memory_order_relaxed);

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
      bool rings_empty = true;
      for (auto& r : m.readers) rings_empty &= r.read_position() >= r.ring().TailPosition();
      const bool delivered = upto == m.window.End() && m.redis->SpillEmpty() && m.pg->SpillEmpty();
      // A corrupt ring is never "empty": something wrote where no record was.
      if (!engine_alive && delivered && m.AnyCorrupt()) {
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
        Log("drain timed out after %u s (redis spill %s, postgres spill %s)", m.options.drain_timeout_s,
            m.redis->SpillEmpty() ? "empty" : "NOT empty", m.pg->SpillEmpty() ? "empty" : "NOT empty");
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
  std::fill(commit.begin(), commit.end(), 0);
  m.window.Trim(std::min(m.redis->acked(), m.pg->acked()), commit);
  for (std::uint32_t s = 0; s < m.readers.size(); ++s) {
    if (commit[s] != 0) m.readers[s].CommitTo(commit[s]);
  }
  Log("stopped: %llu records read, %llu delivered to both stores, %llu malformed",
      static_cast<unsigned long long>(m.records_read.load()),
      static_cast<unsigned long long>(std::min(m.redis->acked(), m.pg->acked())),
      static_cast<unsigned long long>(m.malformed.load()));
  m.metrics.reset();
  return exit_code;
}

std::string Sidecar::MetricsText() const {
  const Impl& m = *impl_;
  service::PromText t;
  std::string extra;
  t.Counter("hokm_sidecar_records_read_total", static_cast<double>(m.records_read.load()));
  t.Counter("hokm_sidecar_malformed_records_total", static_cast<double>(m.malformed.load()));
  const std::uint64_t end = m.window.End();
  const std::uint64_t done = m.committed_records.load();
  t.Gauge("hokm_sidecar_lag_records", static_cast<double>(end - std::min(end, done)));
  const std::uint64_t oldest = m.window.TsAt(done);
  const std::uint64_t now = RealtimeNs();
  t.Gauge("hokm_sidecar_lag_ms", oldest && now > oldest ? static_cast<double>(now - oldest) / 1e6 : 0.0);
  t.Type("hokm_sidecar_ring_corrupt", "gauge");
  for (std::uint32_t s = 0; s < m.readers.size(); ++s) {
    t.Sample("hokm_sidecar_ring_corrupt", m.corrupt_at[s].load() != Impl::kNotCorrupt ? 1.0 : 0.0,
             "shard=\"" + std::to_string(s) + "\"");
  }
  t.Type("hokm_sidecar_ring_lag_bytes", "gauge");
  for (std::uint32_t s = 0; s < m.readers.size(); ++s) {
    t.Sample("hokm_sidecar_ring_lag_bytes", static_cast<double>(m.readers[s].ring().Lag()),
             "shard=\"" + std::to_string(s) + "\"");
  }
  for (const Worker::Family& f : Worker::Families()) {
    t.Type(f.name, f.kind);
    for (const Worker* w : {m.redis.get(), m.pg.get()}) t.Sample(f.name, f.value(*w), w->Label());
  }
  const char* kSummaries[] = {"hokm_sidecar_sync_lag_ms", "hokm_sidecar_write_latency_ms",
                              "hokm_sidecar_batch_records"};
  for (int i = 0; i < 3; ++i) {
    t.Type(kSummaries[i], "summary");
    for (const Worker* w : {m.redis.get(), m.pg.get()}) w->AppendSummaries(t, i);
  }
  t.Type("hokm_sidecar_sync_lag_histogram_ms", "histogram");
  for (const Worker* w : {m.redis.get(), m.pg.get()}) {
    w->AppendLagHistogram(t, "hokm_sidecar_sync_lag_histogram_ms");
  }
  extra += m.redis->ClientStats();
  extra += m.pg->ClientStats();
  return t.Take() + extra;
}

std::string Sidecar::HealthJson() const {
  const Impl& m = *impl_;
  const std::uint64_t end = m.window.End();
  const std::uint64_t done = m.committed_records.load();
  std::string json = "{\"status\":\"";
  const bool degraded = !m.redis->SpillEmpty() || !m.pg->SpillEmpty();
  json += m.AnyCorrupt() ? "corrupt" : degraded ? "degraded" : "ok";
  json += "\",\"engine_attached\":";
  json += m.segment.EngineAlive() ? "true" : "false";
  json += ",\"lag_records\":" + std::to_string(end - std::min(end, done));
  // Not yet in both stores: the window's lag plus what either sink spilled.
  json += ",\"pending_records\":" +
          std::to_string(end - std::min(end, done) + m.redis->SpillRecords() + m.pg->SpillRecords());
  json += ",\"corrupt_rings\":[";
  bool first_corrupt = true;
  for (std::uint32_t s = 0; s < m.readers.size(); ++s) {
    const std::uint64_t at = m.corrupt_at[s].load();
    if (at == Impl::kNotCorrupt) continue;
    json += first_corrupt ? "" : ",";
    json += "{\"shard\":" + std::to_string(s) + ",\"position\":" + std::to_string(at) + "}";
    first_corrupt = false;
  }
  json += "]";
  json += ",\"redis\":" + m.redis->HealthJson(end);
  json += ",\"postgres\":" + m.pg->HealthJson(end);
  json += "}";
  return json;
}

}  // namespace hokm::sidecar
