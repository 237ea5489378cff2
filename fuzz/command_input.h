// command_input.h: the input format of fuzz_command_request, shared with the
// seed generator (make_corpus.cc) so seeds and target agree.
//
// A run of ring records for a shard's command ring:
//
//   tag < 0xF0 : a 64-byte CommandRequest follows (record type 1)
//   tag >= 0xF0: record type (tag - 0xF0), then one byte n, then n bytes
//
// Inputs cannot know the game ids the engine hands out, so a request whose
// command.game_id is below kGameIndexLimit names the game_id-th game created
// by this input instead (when there is one).
#pragma once

#include <cstdint>

namespace hokm::fuzz {

inline constexpr std::uint8_t kRawRecordTag = 0xF0;
inline constexpr std::uint64_t kGameIndexLimit = 16;
inline constexpr int kMaxRecordsPerInput = 256;

}  // namespace hokm::fuzz
