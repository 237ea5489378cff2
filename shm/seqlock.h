// seqlock.h: a sequence lock over plain words in shared memory: one writer
// publishes a value, any number of readers take consistent snapshots and
// retry on a torn read; readers never block the writer.
//
// Shared format: one 64-bit sequence word guarding N 64-bit data words.
//
//   sequence:  bits 63..1 = number of completed writes, bit 0 = write in progress
//   data:      N words, each read and written whole with relaxed atomics
//
// Writer:  seq := s+1 (odd); release fence; store words; seq := s+2 (release).
// Reader:  s1 := seq (acquire); if odd retry; load words; acquire fence;
//          s2 := seq; if s1 != s2 retry.
// (Boehm, "Can Seqlocks Get Along With Programming Language Memory Models?",
// 2012, the fence-based variant.)
//
// Thread safety: Store is for the single writer of the cell (two writers at
// once corrupt it). Load may run in any thread or process concurrently with
// Store. Every data access is a std::atomic_ref access, so there is no data
// race in the C++ model and ThreadSanitizer sees none; the writer's own plain
// reads of the data (GameTable::Unsafe) do not race either, since only the
// writer stores.
//
// Aliasing: the value's bytes are moved to and from uint64_t words with
// memcpy (allowed for any trivially copyable type); the atomic accesses go
// through the compiler's __atomic builtins, which GCC and Clang treat as
// touching memory of any type, so the writer may also read the cell through
// its real type.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "shm/tsan.h"

// ThreadSanitizer does not model fences: under it the fences are replaced by
// release data stores and acquire data loads, stronger with the same effect.
namespace hokm::shm::seqlock {

#if defined(HOKM_TSAN)
inline constexpr std::memory_order kDataStoreOrder = std::memory_order_release;
inline constexpr std::memory_order kDataLoadOrder = std::memory_order_acquire;
inline void WriterFence() {}
inline void ReaderFence() {}
#else
inline constexpr std::memory_order kDataStoreOrder = std::memory_order_relaxed;
inline constexpr std::memory_order kDataLoadOrder = std::memory_order_relaxed;
inline void WriterFence() { std::atomic_thread_fence(std::memory_order_release); }
inline void ReaderFence() { std::atomic_thread_fence(std::memory_order_acquire); }
#endif

inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// Publishes `bytes` bytes from `src` into the cell's words at `dst`.
// REQUIRES: single writer; bytes % 8 == 0; dst 8-byte aligned.
inline void Store(std::uint64_t& sequence, void* dst, const void* src, std::size_t bytes) {
  std::atomic_ref<std::uint64_t> seq(sequence);
  const std::uint64_t s = seq.load(std::memory_order_relaxed);  // only we store it
  seq.store(s + 1, std::memory_order_relaxed);
  // Release fence: pairs with the acquire fence in Load. If a reader's load
  // sees any word stored below, its second read of the sequence sees s+1 or
  // later, so it retries.
  WriterFence();
  auto* out = static_cast<std::uint64_t*>(dst);
  const auto* in = static_cast<const std::byte*>(src);
  for (std::size_t i = 0; i < bytes / 8; ++i) {
    std::uint64_t word;
    std::memcpy(&word, in + i * 8, 8);
    std::atomic_ref<std::uint64_t>(out[i]).store(word, kDataStoreOrder);
  }
  // Release: pairs with the acquire load of the sequence in Load.
  seq.store(s + 2, std::memory_order_release);
}

// Copies a consistent snapshot of the cell into `dst`. Tries at most
// `max_attempts` times (a writer that died mid-write leaves the sequence odd
// for good); returns false if no attempt was consistent. `*sequence_out`
// gets the (even) sequence of the snapshot.
// REQUIRES: bytes % 8 == 0; src 8-byte aligned; bytes <= 256.
[[nodiscard]] inline bool Load(const std::uint64_t& sequence, const void* src, void* dst,
                               std::size_t bytes, int max_attempts = 1 << 20,
                               std::uint64_t* sequence_out = nullptr) {
  std::atomic_ref<std::uint64_t> seq(const_cast<std::uint64_t&>(sequence));
  auto* in = static_cast<std::uint64_t*>(const_cast<void*>(src));
  std::uint64_t words[32];
  const std::size_t n = bytes / 8;
  for (int attempt = 0; attempt < max_attempts; ++attempt) {
    // Acquire: pairs with the final release store in Store.
    const std::uint64_t s1 = seq.load(std::memory_order_acquire);
    if (s1 & 1) {
      CpuRelax();
      continue;
    }
    for (std::size_t i = 0; i < n; ++i) {
      words[i] = std::atomic_ref<std::uint64_t>(in[i]).load(kDataLoadOrder);
    }
    // Acquire fence: pairs with the release fence in Store (see there).
    ReaderFence();
    const std::uint64_t s2 = seq.load(std::memory_order_relaxed);
    if (s1 == s2) {
      std::memcpy(dst, words, n * 8);
      if (sequence_out != nullptr) *sequence_out = s1;
      return true;
    }
    CpuRelax();
  }
  return false;
}

}  // namespace hokm::shm::seqlock
