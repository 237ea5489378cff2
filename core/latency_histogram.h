// latency_histogram.h: a fixed-size log-linear histogram of non-negative
// integers (nanoseconds, microseconds...) with ~6% relative error, cheap to
// record into and to read quantiles from. No allocation.
//
// Bucket of v: below 16 exact; above, 16 sub-buckets per power of two.
//
// Thread safety: Record from one thread at a time (relaxed atomics), read
// (Quantile, Count, Max) from any thread; a read racing a Record may be off
// by that one sample.
#pragma once

#include <atomic>
#include <bit>
#include <cstdint>

namespace hokm::core {

class LatencyHistogram {
 public:
  static constexpr int kSubBits = 4;
  static constexpr int kSub = 1 << kSubBits;
  static constexpr int kBuckets = (64 - kSubBits + 1) * kSub;

  void Record(std::uint64_t v) {
    Add(buckets_[BucketOf(v)], 1);
    Add(count_, 1);
    Add(sum_, v);
    if (v > max_.load(std::memory_order_relaxed)) max_.store(v, std::memory_order_relaxed);
  }
  // Adds another histogram's samples (e.g. per-thread ones at the end).
  void Merge(const LatencyHistogram& other) {
    for (int i = 0; i < kBuckets; ++i)
      Add(buckets_[i], other.buckets_[i].load(std::memory_order_relaxed));
    Add(count_, other.Count());
    Add(sum_, other.sum_.load(std::memory_order_relaxed));
    if (other.Max() > Max()) max_.store(other.Max(), std::memory_order_relaxed);
  }

  std::uint64_t Count() const { return count_.load(std::memory_order_relaxed); }
  // Samples in bucket i (0 <= i < kBuckets), all of them <= UpperBound(i).
  std::uint64_t BucketCount(int i) const { return buckets_[i].load(std::memory_order_relaxed); }
  std::uint64_t Max() const { return max_.load(std::memory_order_relaxed); }
  std::uint64_t Sum() const { return sum_.load(std::memory_order_relaxed); }
  double Mean() const {
    const auto n = Count();
    return n ? static_cast<double>(sum_.load(std::memory_order_relaxed)) / static_cast<double>(n)
             : 0.0;
  }
  // The upper bound of the bucket holding quantile q (0..1), capped at Max().
  std::uint64_t Quantile(double q) const {
    const std::uint64_t n = Count();
    if (n == 0) return 0;
    auto rank = static_cast<std::uint64_t>(q * static_cast<double>(n));
    if (rank >= n) rank = n - 1;
    std::uint64_t seen = 0;
    for (int i = 0; i < kBuckets; ++i) {
      seen += buckets_[i].load(std::memory_order_relaxed);
      if (seen > rank) {
        const std::uint64_t upper = UpperBound(i);
        return upper < Max() ? upper : Max();
      }
    }
    return Max();
  }

  static int BucketOf(std::uint64_t v) {
    if (v < kSub) return static_cast<int>(v);
    const int msb = 63 - std::countl_zero(v);  // >= kSubBits
    const int shift = msb - kSubBits;
    const int sub = static_cast<int>((v >> shift) & (kSub - 1));
    return (shift + 1) * kSub + sub;
  }
  static std::uint64_t UpperBound(int bucket) {
    if (bucket < kSub) return static_cast<std::uint64_t>(bucket);
    const int shift = bucket / kSub - 1;
    const std::uint64_t sub = static_cast<std::uint64_t>(bucket % kSub);
    return ((kSub + sub + 1) << shift) - 1;
  }

 private:
  static void Add(std::atomic<std::uint64_t>& a, std::uint64_t v) {
    a.store(a.load(std::memory_order_relaxed) + v, std::memory_order_relaxed);
  }
  std::atomic<std::uint64_t> buckets_[kBuckets]{};
  std::atomic<std::uint64_t> count_{0};
  std::atomic<std::uint64_t> sum_{0};
  std::atomic<std::uint64_t> max_{0};
};

}  // namespace hokm::core
