// stop_signal.h: how a hokm process learns it should stop. SIGTERM and
// SIGINT set one process-wide flag (a relaxed atomic store, the only thing
// the handler does, so it is async-signal-safe); the process's loops poll
// StopRequested() and wind down.
#pragma once

#include <atomic>

namespace hokm::service {

// Installs the handlers (no SA_RESTART: a blocking call in the thread that
// takes the signal returns EINTR, so a nap or wait ends at once).
void StopOnSignals();

// The flag the handlers set; loops poll it (or pass it on, e.g. to
// Sidecar::Run).
std::atomic<bool>& StopFlag();

inline bool StopRequested() { return StopFlag().load(std::memory_order_relaxed); }

}  // namespace hokm::service
