// cli.h: the command-line conventions every binary shares, wired on its
// CLI11 app: --version ("hokm-engine 0.1.0 (commit 9d86f91012dd)", exit 0),
// --help (exit 0), usage errors (the message on stderr, exit 2),
// --config FILE (CLI11's TOML/INI config: `name = value` per flag; a flag
// given on the command line wins), --log-format text|json and --log-level
// (service/log.h). Only cli.cc and the main.cc files include CLI11: its
// header is expensive to compile.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace CLI {
class App;
}  // namespace CLI

namespace hokm::service {

// The exit code of a usage error, on every binary.
inline constexpr int kExitUsage = 2;

// The shared flags' values, filled by the parse.
struct CommonFlags {
  std::string binary;
  std::string log_format = "text";
  std::string log_level = "info";
};

// "hokm-engine 0.1.0 (commit 9d86f91012dd)": what --version prints.
std::string VersionLine(std::string_view binary);

// Adds --version, --config, --log-format and --log-level to app and makes
// its usage errors name the binary. REQUIRES: *flags outlives the parse.
void AddCommonFlags(CLI::App& app, std::string_view binary, CommonFlags* flags);

// Parses the command line. --help or --version: printed on stdout, returns
// 0; a usage error: printed on stderr, returns kExitUsage; otherwise sets
// up the log (InitLog) from the flags and returns nullopt: main goes on.
std::optional<int> ParseCommandLine(CLI::App& app, int argc, char** argv, const CommonFlags& flags);

}  // namespace hokm::service
