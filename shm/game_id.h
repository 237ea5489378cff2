// game_id.h: the layout of a game id, the one place that builds and takes
// apart ids (docs/DESIGN.md §4, §9). The game table issues them
// (game_table.h); the stores only ever see them whole.
//
// Game id (64 bits), growing with time so PostgreSQL can partition the event
// log by id range, and unique across engine hosts by the node bits:
//
//   63                         26 25      20 19                     0
//   +-----------------------------+----------+----------------------+
//   | creation number (38 bits)   | node (6) | slot index (20 bits) |
//   +-----------------------------+----------+----------------------+
//    bit 63 stays 0 (positive bigint), bit 61 or 62 is 1 (the base below)
//
// - slot index: the game's slot in its segment's table (Find is O(1)).
// - node: the engine host's node id, 0..63 (hokm-engine --node-id), set
//   when the segment is created and kept in its header. Two nodes never
//   issue the same id; the sidecar claims its node in PostgreSQL so that one
//   node id serves one segment at a time (sidecar/pg/pg_node.h).
// - creation number: 2^35 + the wall clock in 10 ms units since 2024-01-01
//   UTC, taken per allocation as max(now, the slot's last creation number
//   + 1). Ids are unique within a node because a slot's creation numbers
//   only grow and the slot belongs to one allocator between its pop from
//   the free stack and its game's Free. There is no games-per-second
//   limit: only a slot reused more than once per 10 ms runs its number
//   ahead of the clock.
// - the 2^35 base: every id is at least 2^61, above every id the layout
//   before this one ((100 us units since 2024) << 20 | slot, layout version
//   6 and older) issued until December 2030, so a database holding those
//   games never sees one of their ids again, and id ranges (PostgreSQL
//   partitions) keep growing across the change. Ids stay below 2^63 (a
//   positive PostgreSQL bigint) until mid-2056.
#pragma once

#include <cstdint>

namespace hokm::shm {

inline constexpr int kSlotIndexBits = 20;
inline constexpr int kNodeBits = 6;
inline constexpr int kCreationShift = kSlotIndexBits + kNodeBits;  // 26
inline constexpr int kCreationBits = 64 - kCreationShift;          // 38

inline constexpr std::uint32_t kMaxNodeId = (std::uint32_t{1} << kNodeBits) - 1;  // 63
inline constexpr std::uint64_t kSlotIndexMask = (std::uint64_t{1} << kSlotIndexBits) - 1;
inline constexpr std::uint64_t kNodeMask = kMaxNodeId;
inline constexpr std::uint64_t kMaxCreationNumber = (std::uint64_t{1} << kCreationBits) - 1;

inline constexpr std::uint64_t kCreationEpochUnixNs = 1'704'067'200'000'000'000ull;  // 2024-01-01
inline constexpr std::uint64_t kCreationUnitNs = 10'000'000;                         // 10 ms
inline constexpr std::uint64_t kCreationBase = std::uint64_t{1} << 35;

// REQUIRES: creation <= kMaxCreationNumber, node <= kMaxNodeId,
// slot <= kSlotIndexMask.
constexpr std::uint64_t MakeGameId(std::uint64_t creation, std::uint32_t node, std::uint32_t slot) {
  return (creation << kCreationShift) | (std::uint64_t{node} << kSlotIndexBits) | slot;
}
constexpr std::uint32_t SlotOfId(std::uint64_t game_id) {
  return static_cast<std::uint32_t>(game_id & kSlotIndexMask);
}
constexpr std::uint32_t NodeOf(std::uint64_t game_id) {
  return static_cast<std::uint32_t>((game_id >> kSlotIndexBits) & kNodeMask);
}
constexpr std::uint64_t CreationOf(std::uint64_t game_id) { return game_id >> kCreationShift; }

// The creation number of a wall-clock time (ns since the Unix epoch);
// times before 2024 give kCreationBase.
constexpr std::uint64_t CreationNumberAt(std::uint64_t unix_ns) {
  return kCreationBase +
         (unix_ns > kCreationEpochUnixNs ? (unix_ns - kCreationEpochUnixNs) / kCreationUnitNs : 0);
}
// The first id of creation number `creation` (any node, any slot): ids of
// games created at or after that time are at least this.
constexpr std::uint64_t FirstIdOfCreation(std::uint64_t creation) {
  return creation << kCreationShift;
}

}  // namespace hokm::shm
