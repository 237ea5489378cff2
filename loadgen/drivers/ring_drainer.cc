// ring_drainer.cc: the --drain consumer (see ring_drainer.h).
#include "loadgen/drivers/ring_drainer.h"

#include <time.h>

#include <vector>

#include "core/records/change_batch.h"
#include "shm/ring.h"

namespace hokm::loadgen {

RingDrainer::RingDrainer(const shm::Segment& segment, std::function<std::uint64_t()> published)
    : segment_(segment), published_(std::move(published)) {}

RingDrainer::~RingDrainer() {
  finishing_.store(true);
  if (thread_.joinable()) thread_.join();
}

void RingDrainer::Start() {
  start_ns_ = NowNs();
  thread_ = std::thread([this] { Run(); });
}

std::uint64_t RingDrainer::LagBytes() const {
  std::uint64_t lag = 0;
  for (std::uint32_t s = 0; s < segment_.shards(); ++s) lag += segment_.change_ring(s).Lag();
  return lag;
}

void RingDrainer::Run() {
  std::vector<shm::RingReader> readers;
  for (std::uint32_t s = 0; s < segment_.shards(); ++s)
    readers.emplace_back(segment_.change_ring(s));
  std::uint64_t last_sample_ns = 0;
  std::uint32_t idle = 0;
  for (;;) {
    std::size_t got = 0;
    std::uint64_t frames = 0;
    for (shm::RingReader& reader : readers) {
      got += reader.Peek(
          [&](const shm::RingRecord& record) {
            if (record.type != core::kChangeBatchType ||
                !core::ForEachFrame(record.payload,
                                    [&](const std::byte*, std::size_t) { ++frames; })) {
              ++malformed_;
            }
          },
          4096);
      reader.Commit();
    }
    if (frames != 0) records_.fetch_add(frames, std::memory_order_relaxed);
    const std::uint64_t now = NowNs();
    if (now - last_sample_ns > 1'000'000) {  // the lag, once a millisecond
      last_sample_ns = now;
      const std::uint64_t lag = LagBytes();
      if (lag > max_lag_bytes_) max_lag_bytes_ = lag;
      const std::uint64_t published = published_();
      const std::uint64_t done = records_.load(std::memory_order_relaxed);
      if (published > done && published - done > max_lag_records_)
        max_lag_records_ = published - done;
    }
    if (got != 0) {
      idle = 0;
      continue;
    }
    if (finishing_.load(std::memory_order_acquire) &&
        (LagBytes() == 0 || now > finish_deadline_ns_))
      break;
    if (++idle > 64) {
      timespec ts{0, 50'000};
      nanosleep(&ts, nullptr);
    }
  }
  end_ns_ = NowNs();
}

void RingDrainer::Finish(RunTotals& totals, std::uint64_t timeout_ns) {
  totals.ring_lag_bytes_at_end = LagBytes();
  finish_deadline_ns_ = NowNs() + timeout_ns;
  finishing_.store(true, std::memory_order_release);  // pairs with the acquire load in Run
  if (thread_.joinable()) thread_.join();
  totals.drained = true;
  totals.drained_records = records();
  totals.drained_malformed = malformed_;
  totals.drain_s = static_cast<double>(end_ns_ - start_ns_) / 1e9;
  totals.max_ring_lag_bytes = max_lag_bytes_;
  totals.max_ring_lag_records = max_lag_records_;
}

}  // namespace hokm::loadgen
