// fuzz_spill_segment.cc: a spill directory as a crash (or anyone with write
// access) may leave it: an arbitrary segment file, optionally a second one,
// and optionally an arbitrary cursor. SpillQueue::Open recovers it, one
// new record is appended, and everything is replayed with Peek and Pop.
//
// Invariants: Open either fails with a Status or recovers; replay returns
// exactly pending_records() old records followed by the new one, intact
// (a recovered queue keeps accepting and delivering records), within a
// bounded number of Peek calls.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "fuzz/fuzz_check.h"
#include "fuzz/ring_input.h"
#include "sidecar/spill_queue.h"

namespace {

namespace fs = std::filesystem;

void WriteFile(const fs::path& path, const std::string& bytes) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  HOKM_FUZZ_CHECK(fd >= 0, "the scratch directory is writable");
  HOKM_FUZZ_CHECK(::write(fd, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()),
                  "the scratch file is written");
  ::close(fd);
}

// tmpfs when there is one: fsync is free there and this runs per input.
fs::path ScratchDir() {
  const fs::path base = fs::exists("/dev/shm") ? fs::path("/dev/shm") : fs::temp_directory_path();
  return base / ("hokm-fuzz-spill-" + std::to_string(::getpid()));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const fs::path dir = ScratchDir();
  if (size < 1) return -1;
  // Takes up to n bytes from the front of the input.
  auto take = [&](std::size_t n) {
    n = std::min(n, size);
    std::string bytes(reinterpret_cast<const char*>(data), n);
    data += n;
    size -= n;
    return bytes;
  };
  auto take_length = [&](std::size_t width) {
    std::size_t n = 0;
    const std::string b = take(width);
    for (std::size_t i = 0; i < b.size(); ++i)
      n |= static_cast<std::size_t>(static_cast<std::uint8_t>(b[i])) << (8 * i);
    return n;
  };
  fs::remove_all(dir);
  fs::create_directories(dir);

  const auto flags = static_cast<std::uint8_t>(take(1)[0]);
  const std::uint32_t first_segment = 1 + (flags >> 4);
  const std::string cursor = take(take_length(1));
  if (flags & 1) WriteFile(dir / "cursor", cursor);
  const std::string second = take(take_length(2));
  char name[32];
  if (flags & 2) {
    std::snprintf(name, sizeof name, "spill-%08u.log", first_segment + 1);
    WriteFile(dir / name, second);
  }
  std::snprintf(name, sizeof name, "spill-%08u.log", first_segment);
  WriteFile(dir / name, take(size));

  // Small segments, so Sync rolls over to the next file too.
  auto opened = hokm::sidecar::SpillQueue::Open(dir, (flags & 4) ? 64 : 1u << 20);
  if (!opened.ok()) return 0;
  hokm::sidecar::SpillQueue& queue = **opened;
  const std::uint64_t recovered = queue.pending_records();

  const std::string fresh = "the record appended after recovery";
  queue.Append(reinterpret_cast<const std::uint8_t*>(fresh.data()),
               static_cast<std::uint32_t>(fresh.size()), 0xF00D);
  if (!queue.Sync().ok()) return 0;
  HOKM_FUZZ_CHECK(queue.pending_records() == recovered + 1, "Sync counts the appended record");

  std::uint64_t replayed = 0;
  std::string last;
  std::uint64_t last_position = 0;
  std::vector<hokm::sidecar::SpilledRecord> batch;
  for (int peeks = 0; !queue.empty(); ++peeks) {
    HOKM_FUZZ_CHECK(peeks < 10000, "replay ends");
    HOKM_FUZZ_CHECK(queue.Peek((flags & 8) ? 4 : 1, batch).ok(),
                    "Peek of a recovered queue succeeds");
    HOKM_FUZZ_CHECK(!batch.empty(), "Peek returns records while some are pending");
    for (const auto& r : batch) {
      last.assign(reinterpret_cast<const char*>(r.data), r.size);
      last_position = r.position;
    }
    replayed += batch.size();
    HOKM_FUZZ_CHECK(queue.Pop(batch.size()).ok(), "Pop of what was peeked succeeds");
  }
  HOKM_FUZZ_CHECK(replayed == recovered + 1, "replay returns every pending record once");
  HOKM_FUZZ_CHECK(last == fresh && last_position == 0xF00D,
                  "the appended record comes back last, intact");
  return 0;
}
