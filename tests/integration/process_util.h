// process_util.h: bounded waits for the integration tests that run the real
// binaries: polling a condition with a deadline, and reaping a child.
#pragma once

#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <functional>
#include <thread>

namespace hokm::proc {

// Polls `done` until true or the budget ends: waiting on a condition, bounded.
inline bool WaitUntil(const std::function<bool()>& done, std::chrono::milliseconds budget) {
  const auto deadline = std::chrono::steady_clock::now() + budget;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return done();
}

// The child's exit code, -signal, or -1000 when it had to be killed at the
// deadline.
inline int WaitExit(pid_t pid, std::chrono::seconds budget) {
  int status = 0;
  const bool exited = WaitUntil([&] { return ::waitpid(pid, &status, WNOHANG) == pid; }, budget);
  if (!exited) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
    return -1000;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
}

}  // namespace hokm::proc
