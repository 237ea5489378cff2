// ctl_run.h: running the real hokmctl binary (HOKM_CTL_BIN) from a test and
// collecting its exit code and standard output.
#pragma once

#include <sys/wait.h>

#include <cstdio>
#include <string>
#include <vector>

namespace hokm::ctl::testing {

struct CtlResult {
  int exit_code = -1;  // -1: it did not exit normally
  std::string out;     // standard output (standard error goes to the test's)
};

// Runs HOKM_CTL_BIN with `args` (each single-quoted for the shell).
inline CtlResult RunCtl(const std::vector<std::string>& args) {
  std::string command = HOKM_CTL_BIN;
  for (const std::string& a : args) {
    command += " '";
    for (char c : a) command += c == '\'' ? std::string("'\\''") : std::string(1, c);
    command += "'";
  }
  CtlResult r;
  std::FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return r;
  char buffer[4096];
  std::size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) r.out.append(buffer, n);
  const int status = ::pclose(pipe);
  if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  return r;
}

}  // namespace hokm::ctl::testing
