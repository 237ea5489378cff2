#include "service/stop_signal.h"

#include <signal.h>

namespace hokm::service {

namespace {

std::atomic<bool> g_stop{false};
static_assert(std::atomic<bool>::is_always_lock_free, "set from a signal handler");

void OnStopSignal(int) { g_stop.store(true, std::memory_order_relaxed); }

}  // namespace

void StopOnSignals() {
  struct sigaction sa {};
  sa.sa_handler = OnStopSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
}

std::atomic<bool>& StopFlag() { return g_stop; }

}  // namespace hokm::service
