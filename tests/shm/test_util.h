// test_util.h: helpers for the shared-memory tests: unique segment names,
// deadlines that bound every loop, and forked child processes.
#pragma once

#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <ctime>
#include <functional>
#include <string>

#include "shm/segment.h"

namespace hokm::shm::testing {

// A name no other test (or concurrent test run) uses.
inline std::string UniqueName(const std::string& what) {
  static std::atomic<int> counter{0};
  return "hokm-test-" + what + "-" + std::to_string(::getpid()) + "-" +
         std::to_string(counter.fetch_add(1));
}

class Deadline {
 public:
  explicit Deadline(std::chrono::milliseconds budget)
      : end_(std::chrono::steady_clock::now() + budget) {}
  bool Expired() const { return std::chrono::steady_clock::now() >= end_; }

 private:
  std::chrono::steady_clock::time_point end_;
};

// Removes the segment when the test ends, whatever happens.
class ScopedSegmentName {
 public:
  explicit ScopedSegmentName(std::string name) : name_(std::move(name)) {
    (void)Segment::Remove(name_);
  }
  ~ScopedSegmentName() { (void)Segment::Remove(name_); }
  const std::string& name() const { return name_; }

 private:
  std::string name_;
};

// Runs `body` in a forked child; the child exits with body's return value
// (without running the parent's atexit handlers or destructors).
inline pid_t ForkChild(const std::function<int()>& body) {
  const pid_t pid = ::fork();
  if (pid == 0) ::_exit(body());
  return pid;
}

// Waits for the child to exit; returns its exit code, or -signal if killed,
// or -1000 if it did not end within the budget (it is killed then). Waits on
// SIGCHLD (blocked in this thread, so none is lost between the checks).
inline int WaitChild(pid_t pid, std::chrono::milliseconds budget) {
  sigset_t child_signal;
  sigemptyset(&child_signal);
  sigaddset(&child_signal, SIGCHLD);
  sigset_t previous;
  ::pthread_sigmask(SIG_BLOCK, &child_signal, &previous);
  Deadline deadline(budget);
  int status = 0;
  int result = -1000;
  for (;;) {
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) {
      if (WIFEXITED(status)) {
        result = WEXITSTATUS(status);
      } else if (WIFSIGNALED(status)) {
        result = -WTERMSIG(status);
      } else {
        result = -3000;
      }
      break;
    }
    if (r < 0) {
      result = -2000;
      break;
    }
    if (deadline.Expired()) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      break;
    }
    timespec slice{0, 50'000'000};  // wakes early on SIGCHLD
    ::sigtimedwait(&child_signal, nullptr, &slice);
  }
  ::pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  return result;
}

}  // namespace hokm::shm::testing
