// alloc_counter.h: counts every operator new in a test binary that links
// alloc_counter.cc, so tests can show a hot path does not allocate.
#pragma once

namespace hokm::core::testing {

// Allocations made so far by any thread of this process.
long AllocationCount();

}  // namespace hokm::core::testing
