// window.cc: the window of records read and not yet in both stores (see
// window.h).
#include "sidecar/window.h"

#include <algorithm>

namespace hokm::sidecar {

void Window::Append(std::vector<WindowEntry>& entries) {
  if (entries.empty()) return;
  bool wake = false;
  {
    std::lock_guard lock(mu_);
    entries_.insert(entries_.end(), entries.begin(), entries.end());
    // Wake the workers only when one waits for an index now present: a
    // worker filling a batch sleeps through the appends in between (each
    // wake-up is a context switch; sidecar/README.md, Measurements, has
    // their share of the CPU).
    wake = !waiting_.empty() && base_ + entries_.size() > *waiting_.begin();
  }
  entries.clear();
  if (wake) cv_.notify_all();
}

std::size_t Window::Take(std::uint64_t from, std::size_t max, std::vector<WindowEntry>& out) {
  out.clear();
  std::lock_guard lock(mu_);
  if (from < base_) from = base_;
  const std::uint64_t end = base_ + entries_.size();
  if (from >= end) return 0;
  std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(end - from, max));
  auto first = entries_.begin() + static_cast<std::ptrdiff_t>(from - base_);
  while (n > 0 && !first[static_cast<std::ptrdiff_t>(n) - 1].last_in_message) --n;
  if (n == 0) {  // one message larger than max
    while (first + static_cast<std::ptrdiff_t>(n) != entries_.end()) {
      if (first[static_cast<std::ptrdiff_t>(n++)].last_in_message) break;
    }
    if (!first[static_cast<std::ptrdiff_t>(n) - 1].last_in_message) n = 0;
  }
  out.assign(first, first + static_cast<std::ptrdiff_t>(n));
  return n;
}

void Window::WaitFor(std::uint64_t index, Clock::time_point deadline) {
  std::unique_lock lock(mu_);
  const auto at = waiting_.insert(index);
  cv_.wait_until(lock, deadline, [&] { return base_ + entries_.size() > index || woken_; });
  waiting_.erase(at);
  woken_ = false;
}

void Window::WakeAll() {
  {
    std::lock_guard lock(mu_);
    woken_ = true;
  }
  cv_.notify_all();
}

void Window::Trim(std::uint64_t upto, std::vector<ShardTrim>& shards) {
  std::lock_guard lock(mu_);
  while (base_ < upto && !entries_.empty()) {
    const WindowEntry& e = entries_.front();
    ShardTrim& t = shards[e.shard];
    if (e.ref.position > t.count_above) ++t.partial;
    if (e.last_in_message) {
      t.commit = e.ref.position;
      t.whole += t.partial;
      t.partial = 0;
    }
    entries_.pop_front();
    ++base_;
  }
}

std::uint64_t Window::End() const {
  std::lock_guard lock(mu_);
  return base_ + entries_.size();
}

std::uint64_t Window::TsAt(std::uint64_t index) const {
  std::lock_guard lock(mu_);
  if (index < base_ || index >= base_ + entries_.size()) return 0;
  return entries_[static_cast<std::size_t>(index - base_)].ts_ns;
}

}  // namespace hokm::sidecar
