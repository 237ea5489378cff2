// run_hokmctl.h: runs the real hokmctl binary (HOKMCTL_BIN) against the
// test servers (tests/integration/stores.h) and gives its exit code,
// stdout and stderr. stdin is /dev/null: not a terminal.
#pragma once

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "tests/integration/process_util.h"
#include "tests/integration/stores.h"

namespace hokm::ctl::testing {

struct CtlRun {
  int exit_code = -1;  // as proc::WaitExit gives it
  std::string out;
  std::string err;

  // stdout parsed as JSON (discarded when it is not).
  nlohmann::json Json() const { return nlohmann::json::parse(out, nullptr, false); }
  // For failure messages.
  std::string Text() const {
    return "exit " + std::to_string(exit_code) + "\n--- stdout\n" + out + "--- stderr\n" + err;
  }
};

inline std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// hokmctl --redis-url .. --pg-url .. --shm-name shm_name <args...> (each of the
// three unless args has it).
inline CtlRun RunHokmctl(const std::vector<std::string>& args, const std::string& shm_name,
                         std::chrono::seconds budget = std::chrono::seconds(120)) {
  char out_path[] = "/tmp/hokmctl-test-out-XXXXXX";
  char err_path[] = "/tmp/hokmctl-test-err-XXXXXX";
  const int out_fd = ::mkstemp(out_path);
  const int err_fd = ::mkstemp(err_path);
  std::vector<std::string> argv = {HOKMCTL_BIN};
  const auto global = [&](const std::string& flag, const std::string& value) {
    if (std::find(args.begin(), args.end(), flag) != args.end()) return;  // args set it
    argv.push_back(flag);
    argv.push_back(value);
  };
  global("--redis-url", sidecar::integration::RedisUrlString());
  global("--pg-url", sidecar::integration::PgUrlString());
  global("--shm-name", shm_name);
  argv.insert(argv.end(), args.begin(), args.end());
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int null_fd = ::open("/dev/null", O_RDONLY);
    ::dup2(null_fd, 0);
    ::dup2(out_fd, 1);
    ::dup2(err_fd, 2);
    std::vector<char*> raw;
    for (auto& a : argv) raw.push_back(a.data());
    raw.push_back(nullptr);
    ::execv(raw[0], raw.data());
    ::_exit(127);
  }
  CtlRun run;
  run.exit_code = proc::WaitExit(pid, budget);
  ::close(out_fd);
  ::close(err_fd);
  run.out = ReadAll(out_path);
  run.err = ReadAll(err_path);
  ::unlink(out_path);
  ::unlink(err_path);
  return run;
}

// A segment name of this test process's own: $HOKM_SHM_NAME (else hokm),
// "-ctl-", the pid and `what`.
inline std::string TestSegmentName(const std::string& what) {
  return sidecar::integration::EnvOr("HOKM_SHM_NAME", "hokm") + "-ctl-" +
         std::to_string(::getpid()) + "-" + what;
}

}  // namespace hokm::ctl::testing
