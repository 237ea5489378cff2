// alloc_counter.cc: replaces the global operator new/delete with counting
// versions over malloc/free (its own file, so no caller inlines them).
#include "alloc_counter.h"

#include <atomic>
#include <cstdlib>
#include <new>

namespace {
std::atomic<long> g_allocations{0};
}  // namespace

void* operator new(std::size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace hokm::core::testing {

long AllocationCount() { return g_allocations.load(std::memory_order_relaxed); }

}  // namespace hokm::core::testing
