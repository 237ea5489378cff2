// main.cc: hokm-bench's main, in place of Google Benchmark's: --version and
// --config FILE are handled before Google Benchmark parses its own flags
// (--benchmark_*), and a flag it does not know exits 2, the project's usage
// error (benchmark_main exits 1).
#include <benchmark/benchmark.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "service/cli.h"

namespace {

constexpr int kExitUsage = hokm::service::kExitUsage;

// The config file's `benchmark_name = value` lines (CLI11's TOML/INI
// reader, as the other binaries) as --benchmark_name=value flags.
bool ReadConfig(const std::string& path, std::vector<std::string>* flags) {
  std::vector<CLI::ConfigItem> items;
  try {
    items = CLI::ConfigTOML().from_file(path);
  } catch (const CLI::Error& e) {
    std::fprintf(stderr, "hokm-bench: --config %s: %s\n", path.c_str(), e.what());
    return false;
  }
  for (const CLI::ConfigItem& item : items) {
    if (!item.parents.empty() || item.name == "++" || item.name == "--") continue;
    std::string flag = "--" + item.name + "=";
    for (std::size_t i = 0; i < item.inputs.size(); ++i) flag += (i ? "," : "") + item.inputs[i];
    flags->push_back(std::move(flag));
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> from_config;
  std::vector<char*> given;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--version") {
      std::printf("%s\n", hokm::service::VersionLine("hokm-bench").c_str());
      return 0;
    }
    if (arg == "--config" || arg.starts_with("--config=")) {
      std::string path;
      if (arg == "--config") {
        if (i + 1 == argc) {
          std::fprintf(stderr, "hokm-bench: --config needs a file\n");
          return kExitUsage;
        }
        path = argv[++i];
      } else {
        path = arg.substr(std::string_view("--config=").size());
      }
      if (!ReadConfig(path, &from_config)) return kExitUsage;
      continue;
    }
    given.push_back(argv[i]);
  }
  // The file's flags first: Google Benchmark takes the last value of a flag
  // given twice, so the command line's own win.
  std::vector<char*> args{argv[0]};
  for (std::string& flag : from_config) args.push_back(flag.data());
  args.insert(args.end(), given.begin(), given.end());
  int n = static_cast<int>(args.size());
  args.push_back(nullptr);
  benchmark::Initialize(&n, args.data());
  if (benchmark::ReportUnrecognizedArguments(n, args.data())) return kExitUsage;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
