// worker.cc: delivery to one store with its breaker and spill queue (see
// worker.h).
#include "sidecar/worker.h"

#include "core/engine.h"
#include "sidecar/log.h"

namespace hokm::sidecar {

using SteadyClock = std::chrono::steady_clock;

Worker::Worker(const char* name, Window& window, std::unique_ptr<SinkClient> client,
               std::unique_ptr<SpillQueue> spill, std::uint32_t max_records, std::uint32_t wait_ms,
               shm::CounterView counters)
    : name_(name),
      window_(window),
      client_(std::move(client)),
      spill_(std::move(spill)),
      breaker_(Breaker::Options{}),
      max_records_(max_records),
      wait_ms_(wait_ms),
      counters_(counters) {
  // Before the thread runs: a drain check made before it would otherwise
  // take a spill queue left by an earlier run for empty.
  PublishSpillGauges();
  // The sink's counters (zeros until it connects) are on /metrics from the
  // first scrape.
  SaveStats();
}

void Worker::Start() {
  thread_ = std::thread([this] { Run(); });
}

void Worker::Stop() {
  stop_.store(true);
  window_.WakeAll();
  if (thread_.joinable()) thread_.join();
}

std::string Worker::ClientStats() const {
  std::lock_guard lock(stats_mu_);
  return stats_text_;
}

std::string Worker::LastError() const {
  std::lock_guard lock(error_mu_);
  std::string e;
  for (char c : last_error_) e += (c == '"' || c == '\\' || c < 0x20) ? ' ' : c;
  return e;
}

void Worker::Fail(const Status& s) {
  breaker_.RecordFailure(SteadyClock::now());
  counters_.Set(WorkerCounter::kBreakerState, static_cast<std::uint64_t>(breaker_.state()));
  // Every failure is logged: the same one again is counted, not written
  // (service/log.h), so the line carries no changing backoff.
  LogError("%s: %s; breaker open, spilling", name_, s.message().c_str());
  std::lock_guard lock(error_mu_);
  last_error_ = s.message();
}

void Worker::Recovered() {
  if (breaker_.state() != Breaker::State::kClosed)
    Log("%s: store answers again; breaker closed", name_);
  breaker_.RecordSuccess();
  counters_.Set(WorkerCounter::kBreakerState, static_cast<std::uint64_t>(breaker_.state()));
  std::lock_guard lock(error_mu_);
  last_error_.clear();
}

Status Worker::Deliver(std::span<const RecordRef> refs, const WindowEntry& last) {
  const auto start = SteadyClock::now();
  Status s = client_->Write(refs, last);
  write_us_.Record(static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(SteadyClock::now() - start).count()));
  SaveStats();
  return s;
}

void Worker::SaveStats() {
  std::string stats = client_->StatsText();
  std::lock_guard stats_lock(stats_mu_);
  stats_text_.swap(stats);
}

// With nothing to write, the store may check itself about every second
// (Redis: is its marker still there?), when it is not spilling.
void Worker::Idle() {
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

void Worker::PublishSpillGauges() {
  counters_.Set(WorkerCounter::kSpillRecords, spill_->pending_records());
  counters_.Set(WorkerCounter::kSpillBytes, spill_->bytes());
}

// Replays one batch of the spill queue if the breaker lets us. True if it
// made progress.
bool Worker::ReplaySpill() {
  if (spill_->empty() || !breaker_.Allow(SteadyClock::now())) return false;
  if (Status s = spill_->Peek(max_records_, spilled_view_); !s.ok()) {
    LogError("%s: reading the spill queue failed: %s", name_, s.message().c_str());
    return false;
  }
  // End at a command's end (its records share one position): the sinks
  // store a command whole. The rest of it is in the next Peek.
  if (spilled_view_.size() >= max_records_) {
    std::size_t n = spilled_view_.size();
    while (n > 1 && spilled_view_[n - 1].position == spilled_view_.back().position) --n;
    if (n > 0 && spilled_view_[n - 1].position != spilled_view_.back().position) {
      spilled_view_.erase(spilled_view_.begin() + static_cast<std::ptrdiff_t>(n),
                          spilled_view_.end());
    }
  }
  refs_.clear();
  for (const SpilledRecord& r : spilled_view_)
    refs_.push_back(VerifyRecord(r.data, r.size, r.position));
  WindowEntry last{};
  last.ref = refs_.back();
  Status s = Deliver(refs_, last);
  if (!s.ok()) {
    Fail(s);
    return false;
  }
  Recovered();
  if (Status p = spill_->Pop(spilled_view_.size()); !p.ok())
    LogError("%s: %s", name_, p.message().c_str());
  counters_.Add(WorkerCounter::kReplayed, spilled_view_.size());
  PublishSpillGauges();
  if (spill_->empty()) Log("%s: spill queue replayed; back to live delivery", name_);
  return true;
}

// Appends the batch to the spill queue, durably. False if the disk failed
// (the batch stays unacknowledged and is tried again).
bool Worker::Spill() {
  for (const WindowEntry& e : batch_) spill_->Append(e.ref.bytes, e.ref.size, e.ref.position);
  if (Status s = spill_->Sync(); !s.ok()) {
    LogError("%s: cannot spill: %s", name_, s.message().c_str());
    return false;
  }
  counters_.Add(WorkerCounter::kSpilled, batch_.size());
  PublishSpillGauges();
  return true;
}

void Worker::Run() {
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
      const std::uint64_t now = RealtimeNowNs();
      if (first_ts != 0 && now < due) {
        window_.WaitFor(cursor + max_records_,
                        SteadyClock::now() + std::chrono::nanoseconds(due - now));
        if (!stop_.load(std::memory_order_relaxed)) continue;
      }
    }
    bool acked = false;
    if (!spill_->empty() || !breaker_.Allow(SteadyClock::now())) {
      acked = Spill();
    } else {
      refs_.clear();
      for (const WindowEntry& e : batch_) refs_.push_back(e.ref);
      Status s = Deliver(refs_, batch_.back());
      if (s.ok()) {
        Recovered();
        const std::uint64_t now = RealtimeNowNs();
        for (const WindowEntry& e : batch_) {
          if (e.ts_ns != 0 && now > e.ts_ns) lag_us_.Record((now - e.ts_ns) / 1000);
        }
        counters_.Add(WorkerCounter::kRecords, n);
        counters_.Add(WorkerCounter::kBatches, 1);
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

}  // namespace hokm::sidecar
