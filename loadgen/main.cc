// main.cc: hokm-loadgen: plays Hokm games with bots and reports card plays
// per second; see `hokm-loadgen --help`.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "loadgen/embedded_runner.h"
#include "loadgen/options.h"
#include "loadgen/report.h"

int main(int argc, char** argv) {
  using namespace hokm::loadgen;
  LoadgenOptions options;
  CLI::App app{
      "hokm-loadgen: plays complete Hokm games with computer players and reports the rate.\n"
      "Embedded mode: rules and bots in this process, one game state per game."};
  AddOptions(app, &options);
  CLI11_PARSE(app, argc, argv);

  const hokm::Result<RunStats> run = RunEmbedded(options);
  if (!run.ok()) {
    std::fprintf(stderr, "hokm-loadgen: %s\n", run.status().message().c_str());
    return 1;
  }
  PrintSummary(stdout, options, run.value());
  if (!options.json_path.empty()) {
    const hokm::Status s = WriteSummaryJson(options.json_path, options, run.value());
    if (!s.ok()) {
      std::fprintf(stderr, "hokm-loadgen: %s\n", s.message().c_str());
      return 1;
    }
  }
  return 0;
}
