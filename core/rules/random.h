// random.h: the deterministic generator behind every shuffle and bot choice
// (splitmix64); its whole state is one uint64_t, so it lives in GameState.
#pragma once

#include <cstdint>

namespace hokm::core {

// Advances state and returns the next 64 random bits (splitmix64, Steele et
// al.): one add and two multiplies, and every 64-bit seed is a good seed.
inline std::uint64_t NextRandom(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// Maps 32 random bits to [0, n) by multiply-shift (Lemire); the bias is below
// n / 2^32, far under anything a card game can observe. REQUIRES: n > 0.
constexpr std::uint32_t ScaleBelow(std::uint32_t bits, std::uint32_t n) {
  return static_cast<std::uint32_t>((std::uint64_t{bits} * n) >> 32);
}

// A uniform draw from [0, n). REQUIRES: n > 0.
inline std::uint32_t RandomBelow(std::uint64_t& state, std::uint32_t n) {
  return ScaleBelow(static_cast<std::uint32_t>(NextRandom(state) >> 32), n);
}

// A well-mixed 64-bit value derived from two (seed, index): for per-game and
// per-bot seeds that do not collide or correlate across indices.
constexpr std::uint64_t MixSeed(std::uint64_t seed, std::uint64_t index) {
  std::uint64_t z = seed + (index + 1) * 0x9E3779B97F4A7C15ULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

}  // namespace hokm::core
