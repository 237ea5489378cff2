// ring_bench.cc: the change ring against the queues a user would pick
// instead: boost::interprocess::message_queue (the IPC peer) and moodycamel's
// ReaderWriterQueue (the fastest in-process SPSC peer).
//
// All three measure the same thing: one producer thread (the benchmark
// thread) hands records of range(0) bytes to one consumer thread that runs
// for the whole benchmark and copies every record out. One iteration moves
// a batch of kBatch records and waits until the consumer has taken all of
// them; items/s counts records. Each queue holds about kQueueRecords records.
#include <benchmark/benchmark.h>
#include <readerwriterqueue/readerwriterqueue.h>
#include <sys/mman.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <boost/interprocess/ipc/message_queue.hpp>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <thread>

#include "shm/ring.h"
#include "shm/seqlock.h"

namespace {

constexpr std::int64_t kBatch = 4096;
constexpr std::size_t kQueueRecords = 4096;
constexpr std::size_t kMaxRecord = 128;

// The consumer's progress, on its own line.
struct alignas(128) Progress {
  std::atomic<std::uint64_t> consumed{0};
  std::atomic<bool> stop{false};
};

// How every side of every benchmark waits: spin a little, then give the
// core away (on a loaded machine a pure spin measures the scheduler).
class Backoff {
 public:
  void Pause() {
    if (++spins_ < 64) {
      hokm::shm::seqlock::CpuRelax();
    } else {
      std::this_thread::yield();
    }
  }
  void Reset() { spins_ = 0; }

 private:
  int spins_ = 0;
};

void WaitFor(const Progress& progress, std::uint64_t target) {
  Backoff backoff;
  while (progress.consumed.load(std::memory_order_acquire) < target) backoff.Pause();
}

// Keeps the consumer's copy from being optimised away.
std::uint64_t Fold(const std::byte* record) {
  std::uint64_t first;
  std::memcpy(&first, record, sizeof(first));
  return first;
}

// Ours: the Ring over a shared anonymous mapping (the same kind of pages as
// a /dev/shm segment); consumer Peek + one Commit per batch read. The change
// ring has one producer (its shard's engine thread), which writes with
// TryWriteExclusive; BM_ChangeRingShared uses the many-producer TryWrite
// (a CAS per record) on the same setup.
template <bool kExclusive>
void RingBenchmark(benchmark::State& state) {
  const auto record_bytes = static_cast<std::size_t>(state.range(0));
  // The largest power of two holding at most kQueueRecords records.
  std::size_t capacity = hokm::shm::Ring::kMinCapacity;
  while (capacity * 2 <= kQueueRecords * (record_bytes + hokm::shm::Ring::kHeaderLength)) {
    capacity *= 2;
  }
  const std::size_t bytes = hokm::shm::Ring::RequiredBytes(capacity);
  void* memory = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (memory == MAP_FAILED) {
    state.SkipWithError("mmap failed");
    return;
  }
  hokm::shm::Ring::Init(memory, capacity);
  hokm::shm::Ring ring(memory, capacity);

  Progress progress;
  std::thread consumer([&] {
    hokm::shm::RingReader reader(ring);
    std::array<std::byte, kMaxRecord> out;
    std::uint64_t sink = 0;
    std::uint64_t consumed = 0;
    Backoff backoff;
    while (!progress.stop.load(std::memory_order_relaxed)) {
      const std::size_t n = reader.Peek(
          [&](const hokm::shm::RingRecord& r) {
            std::memcpy(out.data(), r.payload.data(), r.payload.size());
            sink += Fold(out.data());
          },
          256);
      if (n == 0) {
        backoff.Pause();
        continue;
      }
      backoff.Reset();
      reader.Commit();
      consumed += n;
      progress.consumed.store(consumed, std::memory_order_release);
    }
    benchmark::DoNotOptimize(sink);
  });

  std::array<std::byte, kMaxRecord> record{};
  std::uint64_t sent = 0;
  for (auto _ : state) {
    for (std::int64_t i = 0; i < kBatch; ++i) {
      record[0] = static_cast<std::byte>(i);
      Backoff backoff;
      for (;;) {
        const hokm::shm::WriteResult r =
            kExclusive ? ring.TryWriteExclusive(1, record.data(), record_bytes)
                       : ring.TryWrite(1, record.data(), record_bytes);
        if (r == hokm::shm::WriteResult::kOk) break;
        backoff.Pause();
      }
    }
    sent += kBatch;
    WaitFor(progress, sent);
  }
  progress.stop.store(true);
  consumer.join();
  ::munmap(memory, bytes);
  state.SetItemsProcessed(state.iterations() * kBatch);
  state.SetBytesProcessed(state.iterations() * kBatch * static_cast<std::int64_t>(record_bytes));
  state.counters["ring_bytes"] = static_cast<double>(capacity);
}

void BM_ChangeRing(benchmark::State& state) { RingBenchmark<true>(state); }
BENCHMARK(BM_ChangeRing)->Arg(128)->UseRealTime();

void BM_ChangeRingShared(benchmark::State& state) { RingBenchmark<false>(state); }
BENCHMARK(BM_ChangeRingShared)->Arg(128)->UseRealTime();

// The IPC peer: boost::interprocess::message_queue (blocking send/receive).
void BM_BoostMessageQueue(benchmark::State& state) {
  namespace bip = boost::interprocess;
  const auto record_bytes = static_cast<std::size_t>(state.range(0));
  const std::string name = "hokm-bench-mq-" + std::to_string(::getpid());
  bip::message_queue::remove(name.c_str());
  bip::message_queue queue(bip::create_only, name.c_str(), kQueueRecords, kMaxRecord);

  Progress progress;
  std::thread consumer([&] {
    std::array<std::byte, kMaxRecord> out;
    std::uint64_t sink = 0;
    std::uint64_t consumed = 0;
    for (;;) {
      bip::message_queue::size_type received = 0;
      unsigned int priority = 0;
      queue.receive(out.data(), out.size(), received, priority);
      if (received == 1) break;  // the stop message
      sink += Fold(out.data());
      progress.consumed.store(++consumed, std::memory_order_release);
    }
    benchmark::DoNotOptimize(sink);
  });

  std::array<std::byte, kMaxRecord> record{};
  std::uint64_t sent = 0;
  for (auto _ : state) {
    for (std::int64_t i = 0; i < kBatch; ++i) {
      record[0] = static_cast<std::byte>(i);
      queue.send(record.data(), record_bytes, 0);
    }
    sent += kBatch;
    WaitFor(progress, sent);
  }
  queue.send(record.data(), 1, 0);
  consumer.join();
  bip::message_queue::remove(name.c_str());
  state.SetItemsProcessed(state.iterations() * kBatch);
  state.SetBytesProcessed(state.iterations() * kBatch * static_cast<std::int64_t>(record_bytes));
}
BENCHMARK(BM_BoostMessageQueue)->Arg(128)->UseRealTime();

// The in-process SPSC peer: moodycamel::ReaderWriterQueue, preallocated and
// used with try_enqueue so it never allocates.
void BM_MoodycamelRWQ(benchmark::State& state) {
  const auto record_bytes = static_cast<std::size_t>(state.range(0));
  struct Record {
    std::array<std::byte, kMaxRecord> bytes;
  };
  moodycamel::ReaderWriterQueue<Record> queue(kQueueRecords);

  Progress progress;
  std::thread consumer([&] {
    Record out;
    std::uint64_t sink = 0;
    std::uint64_t consumed = 0;
    Backoff backoff;
    while (!progress.stop.load(std::memory_order_relaxed)) {
      // Up to 256 records, then one progress store: as the ring's consumer.
      int n = 0;
      while (n < 256 && queue.try_dequeue(out)) {
        sink += Fold(out.bytes.data());
        ++n;
      }
      if (n == 0) {
        backoff.Pause();
        continue;
      }
      backoff.Reset();
      consumed += static_cast<std::uint64_t>(n);
      progress.consumed.store(consumed, std::memory_order_release);
    }
    benchmark::DoNotOptimize(sink);
  });

  Record record{};
  std::uint64_t sent = 0;
  for (auto _ : state) {
    for (std::int64_t i = 0; i < kBatch; ++i) {
      record.bytes[0] = static_cast<std::byte>(i);
      Backoff backoff;
      while (!queue.try_enqueue(record)) backoff.Pause();
    }
    sent += kBatch;
    WaitFor(progress, sent);
  }
  progress.stop.store(true);
  consumer.join();
  state.SetItemsProcessed(state.iterations() * kBatch);
  state.SetBytesProcessed(state.iterations() * kBatch * static_cast<std::int64_t>(record_bytes));
}
BENCHMARK(BM_MoodycamelRWQ)->Arg(128)->UseRealTime();

}  // namespace
