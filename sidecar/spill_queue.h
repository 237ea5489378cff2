// spill_queue.h: a durable, ordered backlog of change records for one sink
// whose store is down. Records are appended and fsync'd before the ring
// position may advance past them, and replayed in order on recovery.
//
// On disk, in <dir>/: segment files spill-<NNNNNNNN>.log of frames
//
//   0        4        8                16
//   +--------+--------+----------------+----------------------+
//   | len    | crc32  | ring position  | record bytes (len)   |
//   +--------+--------+----------------+----------------------+
//   little-endian; crc32 covers the position and the record bytes.
//
// and `cursor` ("<segment> <offset>\n"): where replay resumes. A frame cut
// short by a crash (or failing its crc) ends the segment: it was never
// acknowledged, so the ring still holds it. Replaying a frame twice is
// harmless: every sink is idempotent on (game_id, game_seq).
//
// Thread safety: none; owned by the sidecar's delivery thread. bytes() is
// mirrored into an atomic for the metrics thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "shm/status.h"

namespace hokm::sidecar {

struct SpilledRecord {
  std::uint64_t position;    // ring position after this record
  const std::uint8_t* data;  // valid until the next Peek or Pop
  std::uint32_t size;
};

class SpillQueue {
 public:
  // Opens (creating if needed) the backlog in dir, dropping a torn tail.
  static Result<std::unique_ptr<SpillQueue>> Open(const std::filesystem::path& dir,
                                                  std::uint64_t segment_bytes = 64u << 20);
  ~SpillQueue();

  // Buffers one record; Sync() makes everything appended durable.
  void Append(const std::uint8_t* data, std::uint32_t size, std::uint64_t position);
  [[nodiscard]] Status Sync();

  // Up to max_records of the oldest records not yet popped, in order.
  [[nodiscard]] Status Peek(std::size_t max_records, std::vector<SpilledRecord>& out);
  // Drops the first n records returned by the last Peek (they were delivered).
  [[nodiscard]] Status Pop(std::size_t n);

  bool empty() const { return pending_records_ == 0; }
  std::uint64_t pending_records() const { return pending_records_; }
  std::uint64_t bytes() const { return bytes_.load(std::memory_order_relaxed); }
  const std::filesystem::path& dir() const { return dir_; }

 private:
  SpillQueue() = default;
  std::filesystem::path SegmentPath(std::uint64_t segment) const;
  Status OpenWriteSegment(std::uint64_t segment);
  Status WriteCursor();
  Status ScanExisting();

  std::filesystem::path dir_;
  std::uint64_t segment_bytes_ = 0;
  // Write side.
  int write_fd_ = -1;
  std::uint64_t write_segment_ = 0;
  std::uint64_t write_offset_ = 0;
  std::vector<std::uint8_t> write_buffer_;
  // Read side.
  std::uint64_t read_segment_ = 0;
  std::uint64_t read_offset_ = 0;
  std::vector<std::uint8_t> read_buffer_;
  std::vector<std::uint64_t> peeked_ends_;  // offset after each peeked frame
  std::uint64_t peeked_segment_ = 0;
  std::uint64_t pending_records_ = 0;
  std::atomic<std::uint64_t> bytes_{0};
};

}  // namespace hokm::sidecar
