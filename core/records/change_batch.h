// change_batch.h: how one command's change records travel as ONE ring
// record, so they are published all together or not at all.
//
// Ring record type kChangeBatchType; its payload is a run of frames:
//
//   0          4          8                        8 + size   (padded to 8)
//   +----------+----------+------------------------+---------+
//   | size u32 | zero u32 | ChangeRecord FlatBuffer| 0 fill  |  next frame ...
//   +----------+----------+------------------------+---------+
//
// Frames start 8-byte aligned (ring payloads are), so FlatBuffers reads the
// record in place. size > 0; a frame never crosses the payload's end.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

namespace hokm::core {

inline constexpr std::int32_t kChangeBatchType = 1;
inline constexpr std::size_t kFrameHeaderBytes = 8;

constexpr std::size_t FrameBytes(std::size_t record_size) {
  return kFrameHeaderBytes + ((record_size + 7) & ~std::size_t{7});
}

// Appends one frame at out + at; returns the new end. REQUIRES: room for
// FrameBytes(size) bytes.
inline std::size_t AppendFrame(std::byte* out, std::size_t at, const void* record,
                               std::uint32_t size) {
  const std::uint32_t header[2] = {size, 0};
  std::memcpy(out + at, header, sizeof header);
  std::memcpy(out + at + kFrameHeaderBytes, record, size);
  const std::size_t end = at + FrameBytes(size);
  std::memset(out + at + kFrameHeaderBytes + size, 0, end - at - kFrameHeaderBytes - size);
  return end;
}

// Walks the frames of a batch payload: on_record(const std::byte*, size) for
// each whole frame. Returns false (after the whole frames before it) when the
// payload is not a well-formed run of frames.
template <typename F>
bool ForEachFrame(std::span<const std::byte> payload, F&& on_record) {
  std::size_t at = 0;
  while (at < payload.size()) {
    if (payload.size() - at < kFrameHeaderBytes) return false;
    std::uint32_t size;
    std::memcpy(&size, payload.data() + at, sizeof size);
    if (size == 0 || FrameBytes(size) > payload.size() - at) return false;
    on_record(payload.data() + at + kFrameHeaderBytes, static_cast<std::size_t>(size));
    at += FrameBytes(size);
  }
  return true;
}

}  // namespace hokm::core
