// cli_test.cc: the command-line conventions (service/cli.h) on every built
// binary: --version prints the version and commit and exits 0, an unknown
// flag exits 2 with a message on stderr, and --config FILE sets a flag (the
// command line winning over it). No server is needed: each config sets a
// flag whose effect shows before any store is reached.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "service/build_info.h"
#include "tests/integration/process_util.h"

namespace hokm::service {
namespace {

struct Ran {
  int code = 0;
  std::string out;
  std::string err;
};

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string dir = ::testing::TempDir() + "hokm-cli-XXXXXX";
    ASSERT_NE(::mkdtemp(dir.data()), nullptr);
    dir_ = dir;
  }
  void TearDown() override {
    for (const char* f : {"/out", "/err", "/config.toml"}) std::remove((dir_ + f).c_str());
    ::rmdir(dir_.c_str());
  }

  std::string WriteConfig(const std::string& text) {
    const std::string path = dir_ + "/config.toml";
    std::ofstream(path) << text;
    return path;
  }

  // Runs args with stdout and stderr apart, with an environment that has no
  // HOKM_* variable (only the sanitizers' options pass).
  Ran Run(std::vector<std::string> args) {
    const std::string out = dir_ + "/out", err = dir_ + "/err";
    std::vector<std::string> env = {"PATH=/usr/bin:/bin"};
    for (const char* name : {"ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"}) {
      if (const char* v = std::getenv(name)) env.push_back(std::string(name) + "=" + v);
    }
    const pid_t pid =
        proc::Spawn(std::move(args), {.out = out.c_str(), .err = err.c_str(), .env = &env});
    Ran r;
    r.code = proc::WaitExit(pid, std::chrono::seconds(20));
    r.out = ReadAll(out);
    r.err = ReadAll(err);
    return r;
  }

  // --version and an unknown flag, the same on every binary.
  // `before`: what the binary needs ahead of the unknown flag (hokmctl: a
  // subcommand, else it complains of the missing one first).
  void CheckVersionAndUsage(const std::string& bin, const std::string& name,
                            std::vector<std::string> before = {}) {
    const Ran v = Run({bin, "--version"});
    EXPECT_EQ(v.code, 0) << v.err;
    EXPECT_EQ(v.out,
              name + " " + std::string(Version()) + " (commit " + std::string(Commit()) + ")\n");
    before.insert(before.begin(), bin);
    before.push_back("--no-such-flag");
    const Ran bad = Run(before);
    EXPECT_EQ(bad.code, 2) << bad.err;
    EXPECT_NE(bad.err.find("no-such-flag"), std::string::npos) << bad.err;
    EXPECT_EQ(bad.out, "");
  }

  std::string dir_;
};

#ifdef HOKM_ENGINE_BIN
TEST_F(CliTest, Engine) {
  CheckVersionAndUsage(HOKM_ENGINE_BIN, "hokm-engine");
  // The file's --ring-mb reaches the check (3 is no power of two) ...
  const std::string config = WriteConfig("ring-mb = 3\nlog-format = \"json\"\n");
  const Ran r = Run({HOKM_ENGINE_BIN, "--config", config});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--ring-mb must be a power of two, not 3"), std::string::npos) << r.err;
  // ... and the command line's wins (5: still not a power of two, but named).
  const Ran wins = Run({HOKM_ENGINE_BIN, "--config", config, "--ring-mb", "5"});
  EXPECT_EQ(wins.code, 2);
  EXPECT_NE(wins.err.find("not 5"), std::string::npos) << wins.err;
  // A misspelt key in the file is a usage error too.
  const Ran typo = Run({HOKM_ENGINE_BIN, "--config", WriteConfig("ring-mbb = 4\n")});
  EXPECT_EQ(typo.code, 2);
  EXPECT_NE(typo.err.find("ring-mbb"), std::string::npos) << typo.err;
}
#endif

#ifdef HOKM_SIDECAR_BIN
TEST_F(CliTest, Sidecar) {
  CheckVersionAndUsage(HOKM_SIDECAR_BIN, "hokm-sidecar");
  const std::string config = WriteConfig("batch-max-records = 0\n");
  const Ran r = Run({HOKM_SIDECAR_BIN, "--config", config});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--batch-max-records"), std::string::npos) << r.err;
  // The command line's value passes the range: the next complaint is the URLs.
  const Ran wins = Run({HOKM_SIDECAR_BIN, "--config", config, "--batch-max-records", "5"});
  EXPECT_EQ(wins.code, 2);
  EXPECT_NE(wins.err.find("give --redis-url"), std::string::npos) << wins.err;
}
#endif

#ifdef HOKM_LOADGEN_BIN
TEST_F(CliTest, Loadgen) {
  CheckVersionAndUsage(HOKM_LOADGEN_BIN, "hokm-loadgen");
  const Ran r = Run({HOKM_LOADGEN_BIN, "--config", WriteConfig("ring-mb = 3\n")});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--ring-mb must be a power of two"), std::string::npos) << r.err;
}
#endif

#ifdef HOKMCTL_BIN
TEST_F(CliTest, Hokmctl) {
  CheckVersionAndUsage(HOKMCTL_BIN, "hokmctl", {"status"});
  const std::string name = "hokm-wt-cli-none-" + std::to_string(::getpid());
  const Ran r =
      Run({HOKMCTL_BIN, "--config", WriteConfig("shm-name = \"" + name + "\"\n"), "status"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find(name), std::string::npos) << r.err;
}
#endif

#ifdef HOKM_BENCH_BIN
TEST_F(CliTest, Bench) {
  CheckVersionAndUsage(HOKM_BENCH_BIN, "hokm-bench");
  const std::string config =
      WriteConfig("benchmark_list_tests = true\nbenchmark_filter = \"BM_DecodeRecord\"\n");
  const Ran r = Run({HOKM_BENCH_BIN, "--config", config});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("BM_DecodeRecord"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("BM_EncodeRecord"), std::string::npos) << r.out;
  const Ran wins = Run({HOKM_BENCH_BIN, "--config", config, "--benchmark_filter=BM_EncodeRecord"});
  EXPECT_NE(wins.out.find("BM_EncodeRecord"), std::string::npos) << wins.out;
  EXPECT_EQ(wins.out.find("BM_DecodeRecord"), std::string::npos) << wins.out;
}
#endif

}  // namespace
}  // namespace hokm::service
