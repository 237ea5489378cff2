// spill_queue.cc: segment files of length/crc-framed records; see spill_queue.h.
#include "sidecar/spill_queue.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/crc.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

namespace hokm::sidecar {

namespace fs = std::filesystem;

namespace {

constexpr std::size_t kFrameHeader = 16;
constexpr std::size_t kReadChunk = 8u << 20;
constexpr std::uint32_t kMaxRecord = 16u << 20;

std::uint32_t Crc(const std::uint8_t* position_le, const std::uint8_t* data, std::size_t size) {
  boost::crc_32_type crc;
  crc.process_bytes(position_le, 8);
  crc.process_bytes(data, size);
  return crc.checksum();
}

void Put32(std::uint8_t* p, std::uint32_t v) { std::memcpy(p, &v, 4); }
void Put64(std::uint8_t* p, std::uint64_t v) { std::memcpy(p, &v, 8); }
std::uint32_t Get32(const std::uint8_t* p) {
  std::uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
std::uint64_t Get64(const std::uint8_t* p) {
  std::uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

Status Errno(const std::string& what, const fs::path& path) {
  return Status::IoError("spill: " + what + " " + path.string() + ": " + std::strerror(errno));
}

// Parses whole, valid frames from buf; returns the bytes they span and calls
// on_frame(position, data, size, end_offset_in_buf) for each.
template <typename F>
std::size_t ParseFrames(const std::uint8_t* buf, std::size_t len, std::size_t max_frames,
                        F&& on_frame) {
  std::size_t at = 0, frames = 0;
  while (frames < max_frames && len - at >= kFrameHeader) {
    const std::uint32_t size = Get32(buf + at);
    if (size > kMaxRecord || len - at - kFrameHeader < size) break;
    if (Crc(buf + at + 8, buf + at + kFrameHeader, size) != Get32(buf + at + 4)) break;
    on_frame(Get64(buf + at + 8), buf + at + kFrameHeader, size, at + kFrameHeader + size);
    at += kFrameHeader + size;
    ++frames;
  }
  return at;
}

Status ReadFile(const fs::path& path, std::uint64_t offset, std::size_t max,
                std::vector<std::uint8_t>& out) {
  out.clear();
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Errno("open", path);
  // Size the buffer to what the file holds: resize() zero-fills, and a
  // replay Peek of a few records must not clear kReadChunk (8 MiB) each time.
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    return Errno("stat", path);
  }
  const auto file_size = static_cast<std::uint64_t>(st.st_size);
  max = static_cast<std::size_t>(
      std::min<std::uint64_t>(max, file_size > offset ? file_size - offset : 0));
  out.resize(max);
  std::size_t got = 0;
  while (got < max) {
    const ssize_t n = ::pread(fd, out.data() + got, max - got, static_cast<off_t>(offset + got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ::close(fd);
      return Errno("read", path);
    }
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  ::close(fd);
  out.resize(got);
  return Status::Ok();
}

}  // namespace

fs::path SpillQueue::SegmentPath(std::uint64_t segment) const {
  char name[32];
  std::snprintf(name, sizeof name, "spill-%08llu.log", static_cast<unsigned long long>(segment));
  return dir_ / name;
}

Result<std::unique_ptr<SpillQueue>> SpillQueue::Open(const fs::path& dir,
                                                     std::uint64_t segment_bytes) {
  std::unique_ptr<SpillQueue> q(new SpillQueue());
  q->dir_ = dir;
  q->segment_bytes_ = segment_bytes;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Status::IoError("spill: cannot create " + dir.string() + ": " + ec.message());
  Status s = q->ScanExisting();
  if (!s.ok()) return s;
  return q;
}

SpillQueue::~SpillQueue() {
  if (write_fd_ >= 0) ::close(write_fd_);
}

Status SpillQueue::ScanExisting() {
  // Every filesystem call here takes an error_code: a spill directory left
  // in any state must give a Status, never an exception.
  std::error_code ec;
  std::vector<std::uint64_t> segments;
  for (fs::directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) {
    unsigned long long n = 0;
    if (std::sscanf(it->path().filename().c_str(), "spill-%llu.log", &n) == 1)
      segments.push_back(n);
  }
  if (ec) return Status::IoError("spill: cannot list " + dir_.string() + ": " + ec.message());
  std::sort(segments.begin(), segments.end());

  read_segment_ = segments.empty() ? 1 : segments.front();
  read_offset_ = 0;
  if (std::ifstream cursor(dir_ / "cursor"); cursor) {
    unsigned long long seg = 0, off = 0;
    if (cursor >> seg >> off &&
        std::find(segments.begin(), segments.end(), seg) != segments.end()) {
      read_segment_ = seg;
      read_offset_ = off;
      // A cursor past the end of its segment (the file was cut short after
      // the cursor was written) means the segment was replayed to its end.
      const std::uintmax_t size = fs::file_size(SegmentPath(seg), ec);
      if (ec)
        return Status::IoError("spill: cannot stat " + SegmentPath(seg).string() + ": " +
                               ec.message());
      if (read_offset_ > size) read_offset_ = size;
    }
  }
  // Segments wholly before the cursor were replayed already.
  for (std::uint64_t seg : segments) {
    if (seg < read_segment_ && !fs::remove(SegmentPath(seg), ec) && ec) {
      return Status::IoError("spill: cannot remove " + SegmentPath(seg).string() + ": " +
                             ec.message());
    }
  }

  // Count what is left and cut a torn tail off each remaining segment.
  pending_records_ = 0;
  std::uint64_t bytes = 0;
  std::vector<std::uint8_t> buf;
  for (std::uint64_t seg : segments) {
    if (seg < read_segment_) continue;
    std::uint64_t offset = seg == read_segment_ ? read_offset_ : 0;
    std::uint64_t valid_end = offset;
    for (;;) {
      Status s = ReadFile(SegmentPath(seg), offset, kReadChunk, buf);
      if (!s.ok()) return s;
      std::size_t frames = 0;
      const std::size_t used = ParseFrames(
          buf.data(), buf.size(), SIZE_MAX,
          [&](std::uint64_t, const std::uint8_t*, std::uint32_t, std::size_t) { ++frames; });
      pending_records_ += frames;
      bytes += used;
      valid_end = offset + used;
      if (used == 0 || buf.size() < kReadChunk) break;
      offset += used;
    }
    const std::uintmax_t size = fs::file_size(SegmentPath(seg), ec);
    if (!ec && size != valid_end) fs::resize_file(SegmentPath(seg), valid_end, ec);
    if (ec) {
      return Status::IoError("spill: cannot cut the torn tail of " + SegmentPath(seg).string() +
                             ": " + ec.message());
    }
  }
  bytes_.store(bytes, std::memory_order_relaxed);
  return OpenWriteSegment(segments.empty() ? read_segment_ : segments.back());
}

Status SpillQueue::OpenWriteSegment(std::uint64_t segment) {
  if (write_fd_ >= 0) ::close(write_fd_);
  const fs::path path = SegmentPath(segment);
  write_fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (write_fd_ < 0) return Errno("open", path);
  write_segment_ = segment;
  write_offset_ = static_cast<std::uint64_t>(::lseek(write_fd_, 0, SEEK_END));
  // Make the new file's name durable too.
  const int dir_fd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    ::fsync(dir_fd);
    ::close(dir_fd);
  }
  return Status::Ok();
}

void SpillQueue::Append(const std::uint8_t* data, std::uint32_t size, std::uint64_t position) {
  const std::size_t at = write_buffer_.size();
  write_buffer_.resize(at + kFrameHeader + size);
  std::uint8_t* frame = write_buffer_.data() + at;
  Put32(frame, size);
  Put64(frame + 8, position);
  std::memcpy(frame + kFrameHeader, data, size);
  Put32(frame + 4, Crc(frame + 8, frame + kFrameHeader, size));
}

Status SpillQueue::Sync() {
  if (write_buffer_.empty()) return Status::Ok();
  std::size_t frames = 0;
  ParseFrames(write_buffer_.data(), write_buffer_.size(), SIZE_MAX,
              [&](std::uint64_t, const std::uint8_t*, std::uint32_t, std::size_t) { ++frames; });
  std::size_t done = 0;
  while (done < write_buffer_.size()) {
    const ssize_t n = ::write(write_fd_, write_buffer_.data() + done, write_buffer_.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      // Cut the partial frame so the file stays parseable; the caller keeps
      // the ring position where it was and retries.
      ::ftruncate(write_fd_, static_cast<off_t>(write_offset_));
      return Errno("write", SegmentPath(write_segment_));
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fdatasync(write_fd_) != 0) return Errno("fdatasync", SegmentPath(write_segment_));
  write_offset_ += write_buffer_.size();
  bytes_.fetch_add(write_buffer_.size(), std::memory_order_relaxed);
  pending_records_ += frames;
  write_buffer_.clear();
  if (write_offset_ >= segment_bytes_) return OpenWriteSegment(write_segment_ + 1);
  return Status::Ok();
}

Status SpillQueue::Peek(std::size_t max_records, std::vector<SpilledRecord>& out) {
  out.clear();
  peeked_ends_.clear();
  if (Status s = Sync(); !s.ok()) return s;
  while (pending_records_ > 0) {
    Status s = ReadFile(SegmentPath(read_segment_), read_offset_, kReadChunk, read_buffer_);
    if (!s.ok()) return s;
    ParseFrames(
        read_buffer_.data(), read_buffer_.size(), max_records,
        [&](std::uint64_t position, const std::uint8_t* data, std::uint32_t size, std::size_t end) {
          out.push_back({position, data, size});
          peeked_ends_.push_back(read_offset_ + end);
        });
    peeked_segment_ = read_segment_;
    if (!out.empty() || read_segment_ >= write_segment_) break;
    // This segment is replayed to its end: move to the next one.
    fs::remove(SegmentPath(read_segment_));
    ++read_segment_;
    read_offset_ = 0;
  }
  return Status::Ok();
}

Status SpillQueue::Pop(std::size_t n) {
  if (n == 0) return Status::Ok();
  if (n > peeked_ends_.size()) return Status::InvalidArgument("spill: Pop beyond the last Peek");
  const std::uint64_t new_offset = peeked_ends_[n - 1];
  bytes_.fetch_sub(new_offset - read_offset_, std::memory_order_relaxed);
  read_offset_ = new_offset;
  pending_records_ -= n;
  peeked_ends_.clear();
  if (pending_records_ == 0 && read_segment_ == write_segment_ && write_buffer_.empty()) {
    // Fully replayed: start afresh so the files do not grow without bound.
    ::close(write_fd_);
    write_fd_ = -1;
    fs::remove(SegmentPath(read_segment_));
    ++read_segment_;
    read_offset_ = 0;
    if (Status s = OpenWriteSegment(read_segment_); !s.ok()) return s;
  }
  return WriteCursor();
}

Status SpillQueue::WriteCursor() {
  // Not fsync'd: a stale cursor only replays records the sinks drop as duplicates.
  const fs::path tmp = dir_ / "cursor.tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << read_segment_ << ' ' << read_offset_ << '\n';
    if (!out) return Status::IoError("spill: cannot write " + tmp.string());
  }
  std::error_code ec;
  fs::rename(tmp, dir_ / "cursor", ec);
  if (ec) return Status::IoError("spill: cannot rename cursor: " + ec.message());
  return Status::Ok();
}

}  // namespace hokm::sidecar
