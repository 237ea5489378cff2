// rating.h: the player rating both sinks keep (PostgreSQL players.rating and
// the Redis leaderboard, hokm:lb:{S} in sidecar/redis/keys.h), as fixed
// steps rather than Elo.
//
// A player starts at kRatingBase; each finished game moves every seated
// winner up by kRatingStep and every seated loser down by kRatingStep;
// abandoned games do not count. Fixed steps commute, so the rating depends
// only on which games finished, not on the order or batching in which a sink
// saw them: PostgreSQL and Redis agree exactly, and a replay from any
// checkpoint lands on the same numbers. (Elo would make each store's value
// depend on the order it applied concurrent games in.) The step equals an
// Elo K of 32 between equally rated teams.
//
// schemas/postgres/001_core.sql repeats kRatingBase as the column default.
#pragma once

namespace hokm::sidecar {

inline constexpr int kRatingBase = 1500;
inline constexpr int kRatingStep = 16;

}  // namespace hokm::sidecar
