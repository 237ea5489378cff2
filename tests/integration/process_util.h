// process_util.h: for the tests that run the real binaries: starting a
// child, polling a condition with a deadline, and reaping a child.
#pragma once

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <string>
#include <thread>
#include <vector>

namespace hokm::proc {

// In a forked child: SIGKILL when the forking thread ends. A test that dies
// (a failed sanitizer check ends it with _exit) leaves no engine or sidecar
// behind holding ctest's output pipe open until the test's timeout.
// `parent` is the forker's pid, read before fork(): it may have died already.
inline void DieWithParent(pid_t parent) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) ::_exit(1);
}

// Starts args[0] with args in a child process; its stdout and stderr go to
// `log` when given, else stay the parent's. The child is killed if the
// forking thread ends first. Returns the child's pid.
inline pid_t Spawn(std::vector<std::string> args, const char* log = nullptr) {
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid == 0) {
    DieWithParent(parent);
    if (log != nullptr) {
      const int fd = ::open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  return pid;
}

// A loopback port nobody listens on right now (for a server a test starts).
inline int FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

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
