// run_hokmctl.h: runs the real hokmctl binary (ctl_run.h) against the test
// servers (tests/integration/stores.h): their URLs and a segment name of
// the test's own.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include "tests/ctl/ctl_run.h"
#include "tests/integration/stores.h"

namespace hokm::ctl::testing {

using CtlRun = CtlResult;

// hokmctl --redis-url .. --pg-url .. --shm-name shm_name <args...> (each of the
// three unless args has it).
inline CtlRun RunHokmctl(const std::vector<std::string>& args, const std::string& shm_name,
                         std::chrono::seconds budget = std::chrono::seconds(120)) {
  std::vector<std::string> argv;
  const auto global = [&](const std::string& flag, const std::string& value) {
    if (std::find(args.begin(), args.end(), flag) != args.end()) return;  // args set it
    argv.push_back(flag);
    argv.push_back(value);
  };
  global("--redis-url", sidecar::integration::RedisUrlString());
  global("--pg-url", sidecar::integration::PgUrlString());
  global("--shm-name", shm_name);
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCtl(argv, budget);
}

// A segment name of this test process's own: $HOKM_SHM_NAME (else hokm),
// "-ctl-", the pid and `what`.
inline std::string TestSegmentName(const std::string& what) {
  return sidecar::integration::EnvOr("HOKM_SHM_NAME", "hokm") + "-ctl-" +
         std::to_string(::getpid()) + "-" + what;
}

}  // namespace hokm::ctl::testing
