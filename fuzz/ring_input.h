// ring_input.h: the input layouts of fuzz_ring_reader and fuzz_spill_segment,
// shared with the seed generator (make_corpus.cc).
//
// fuzz_ring_reader:
//   0       8       16          16 + kRingScriptBytes
//   +-------+-------+-----------+------------------------------+
//   | head  | tail  | script    | data region (zero-filled     |
//   | u64   | u64   | Peek/Commit ops | to kRingCapacity)      |
//   +-------+-------+-----------+------------------------------+
//
// fuzz_spill_segment:
//   flags u8 | cursor_len u8 | cursor | second_len u16 | second segment | first segment (the rest)
//   flags: bit 0 write the cursor, bit 1 write the second segment file,
//   bit 2 small segments (64 bytes), bit 3 Peek 4 records at a time (else
//   1), bits 4-7 the first segment number - 1.
#pragma once

#include <cstddef>

namespace hokm::fuzz {

inline constexpr std::size_t kRingCapacity = 1024;
inline constexpr std::size_t kRingScriptBytes = 16;
inline constexpr std::size_t kRingPrefixBytes = 16 + kRingScriptBytes;

}  // namespace hokm::fuzz
