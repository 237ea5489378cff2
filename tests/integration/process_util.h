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
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
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

// Where a spawned child's standard streams go, and its environment. A
// path is opened in the child (stdout and stderr created or truncated); a
// null path leaves the stream the parent's. out and err naming the same
// file share one descriptor, so the two streams interleave instead of
// overwriting each other. A null env keeps the parent's environment.
struct SpawnIo {
  const char* in = nullptr;
  const char* out = nullptr;
  const char* err = nullptr;
  const std::vector<std::string>* env = nullptr;
};

// Starts args[0] with args in a child process, its streams as `io` says.
// The child is killed if the forking thread ends first. Returns the
// child's pid.
inline pid_t Spawn(std::vector<std::string> args, const SpawnIo& io) {
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid == 0) {
    DieWithParent(parent);
    if (io.in != nullptr) ::dup2(::open(io.in, O_RDONLY), 0);
    const int out = io.out == nullptr ? -1 : ::open(io.out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (out >= 0) ::dup2(out, 1);
    if (io.err != nullptr) {
      const bool same = io.out != nullptr && std::string_view(io.err) == io.out;
      ::dup2(same ? out : ::open(io.err, O_WRONLY | O_CREAT | O_TRUNC, 0644), 2);
    }
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    if (io.env != nullptr) {
      std::vector<char*> envp;
      for (const std::string& e : *io.env) envp.push_back(const_cast<char*>(e.c_str()));
      envp.push_back(nullptr);
      ::execve(argv[0], argv.data(), envp.data());
    } else {
      ::execv(argv[0], argv.data());
    }
    ::_exit(127);
  }
  return pid;
}

// Starts args[0]; its stdout and stderr go to `log` when given, else stay
// the parent's.
inline pid_t Spawn(std::vector<std::string> args, const char* log = nullptr) {
  return Spawn(std::move(args), SpawnIo{.out = log, .err = log});
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

// The path of `name` in $PATH, or "".
inline std::string FindInPath(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path != nullptr ? path : "/usr/bin:/bin");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    const std::filesystem::path candidate = std::filesystem::path(dir) / name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate.string();
  }
  return "";
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
