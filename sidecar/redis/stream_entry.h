// stream_entry.h: one entry of a game's stream (hokm:g:{ID},
// sidecar/redis/redis_sink.h) as XRANGE and XREVRANGE reply it:
// [id, [field, value, ...]]. The sink's probe, loadgen's --verify and the
// integration tests read entries through this one parser.
#pragma once

#include <hiredis/hiredis.h>

#include <cstdint>
#include <optional>
#include <string_view>

namespace hokm::sidecar {

struct StreamEntry {
  std::uint64_t seq = 0;               // the ID's first part: the entry's last game_seq
  const redisReply* fields = nullptr;  // [field, value, ...]; lives as long as the reply

  // The value of field name ("" when absent).
  std::string_view Field(std::string_view name) const;
};

// The entry, or nullopt when entry is not [id "<seq>-<n>", [field, value, ...]].
std::optional<StreamEntry> ParseStreamEntry(const redisReply* entry);

}  // namespace hokm::sidecar
