// reader.cc: reading the change rings into the window and committing what
// both stores acknowledged (see reader.h).
#include "sidecar/reader.h"

#include <algorithm>

#include "sidecar/log.h"

namespace hokm::sidecar {

ChangeReader::ChangeReader(const shm::Segment& segment)
    : segment_(segment),
      trim_(segment.shards()),
      process_(segment.sidecar_line(kProcessLine)),
      corrupt_at_(segment.shards()) {
  for (std::uint32_t s = 0; s < segment.shards(); ++s) {
    readers_.emplace_back(segment.change_ring(s));
    // Ring records up to here were counted by an earlier run.
    trim_[s].count_above = segment.sidecar_counters(s).Get(ShardCounter::kDeliveredPosition);
  }
  for (auto& c : corrupt_at_) c.store(kNotCorrupt);
  // This run's totals; the pid and heartbeat are the Sidecar's.
  for (std::size_t word : {ProcessCounter::kRecordsRead, ProcessCounter::kMalformed,
                           ProcessCounter::kCommittedRecords}) {
    process_.Set(word, 0);
  }
}

std::size_t ChangeReader::ReadInto(Window& window) {
  std::size_t read = 0;
  for (std::uint32_t s = 0; s < readers_.size(); ++s) {
    read += readers_[s].Peek([&](const shm::RingRecord& r) { AddMessage(s, r); }, 1024);
  }
  process_.Add(ProcessCounter::kRecordsRead, entries_.size());
  window.Append(entries_);
  CheckCorruption();
  return read;
}

void ChangeReader::CommitAcked(Window& window, std::uint64_t acked) {
  window.Trim(acked, trim_);
  for (std::uint32_t s = 0; s < readers_.size(); ++s) {
    Window::ShardTrim& t = trim_[s];
    if (t.commit == 0) continue;
    // The count and its position before the ring's head (segment_counters.h).
    const shm::CounterView line = segment_.sidecar_counters(s);
    line.Add(ShardCounter::kDeliveredRecords, t.whole);
    line.Set(ShardCounter::kDeliveredPosition, t.commit);
    readers_[s].CommitTo(t.commit);
    t.commit = 0;
    t.whole = 0;
  }
  process_.Set(ProcessCounter::kCommittedRecords, acked);
}

bool ChangeReader::RingsEmpty() const {
  bool empty = true;
  for (const auto& r : readers_) empty &= r.read_position() >= r.ring().TailPosition();
  return empty;
}

bool ChangeReader::AnyCorrupt() const {
  for (const auto& c : corrupt_at_) {
    if (c.load(std::memory_order_relaxed) != kNotCorrupt) return true;
  }
  return false;
}

bool ChangeReader::AtTheStart() const {
  for (const auto& reader : readers_) {
    if (reader.committed_position() != 0) return false;
  }
  return true;
}

void ChangeReader::AddMessage(std::uint32_t shard, const shm::RingRecord& r) {
  ForEachChangeRecord(r.type, r.payload, r.next_position, [&](const RecordRef& ref) {
    WindowEntry e{};
    e.ref = ref;
    e.ts_ns = ref.record ? ref.record->ts_ns() : 0;
    e.shard = shard;
    entries_.push_back(e);
    if (!ref.record) process_.Add(ProcessCounter::kMalformed, 1);
  });
  entries_.back().last_in_message = true;
}

void ChangeReader::CheckCorruption() {
  for (std::uint32_t s = 0; s < readers_.size(); ++s) {
    if (!readers_[s].corrupted() || corrupt_at_[s].load(std::memory_order_relaxed) != kNotCorrupt)
      continue;
    const std::uint64_t at = readers_[s].read_position();
    corrupt_at_[s].store(at, std::memory_order_relaxed);
    LogError(
        "change ring of shard %u is corrupt at position %llu (a record header no engine writes): "
        "every record before it is delivered, nothing after it can be read. Stop the engine, keep "
        "/dev/shm/%s for inspection, and start the engine with --fresh (README, Operations)",
        s, static_cast<unsigned long long>(at), segment_.name().c_str());
  }
}

}  // namespace hokm::sidecar
