// ctl_run.h: running the real hokmctl binary (HOKM_CTL_BIN) from a test:
// its exit code, standard output and standard error, bounded in time.
// (run_hokmctl.h adds the test servers' URLs.)
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/integration/process_util.h"

namespace hokm::ctl::testing {

struct CtlResult {
  int exit_code = -1;  // as proc::WaitExit: -signal, or -1000 when killed at the deadline
  std::string out;     // standard output
  std::string err;     // standard error

  // stdout parsed as JSON (discarded when it is not).
  nlohmann::json Json() const { return nlohmann::json::parse(out, nullptr, false); }
  // For failure messages.
  std::string Text() const {
    return "exit " + std::to_string(exit_code) + "\n--- stdout\n" + out + "--- stderr\n" + err;
  }
};

inline std::string ReadWhole(const std::string& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Runs HOKM_CTL_BIN with `args`, stdin /dev/null (not a terminal); killed
// if it runs past `budget`.
inline CtlResult RunCtl(const std::vector<std::string>& args,
                        std::chrono::seconds budget = std::chrono::seconds(60)) {
  std::vector<std::string> argv = {HOKM_CTL_BIN};
  argv.insert(argv.end(), args.begin(), args.end());
  char out_path[] = "/tmp/hokmctl-out-XXXXXX";
  char err_path[] = "/tmp/hokmctl-err-XXXXXX";
  const int out_fd = ::mkstemp(out_path);
  const int err_fd = ::mkstemp(err_path);
  CtlResult r;
  if (out_fd < 0 || err_fd < 0) return r;
  const pid_t pid =
      proc::Spawn(std::move(argv), {.in = "/dev/null", .out = out_path, .err = err_path});
  r.exit_code = proc::WaitExit(pid, budget);
  ::close(out_fd);
  ::close(err_fd);
  r.out = ReadWhole(out_path);
  r.err = ReadWhole(err_path);
  std::remove(out_path);
  std::remove(err_path);
  return r;
}

}  // namespace hokm::ctl::testing
