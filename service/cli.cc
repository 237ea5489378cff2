// cli.cc: the shared command-line conventions (cli.h); the one service file
// that includes CLI11.
#include "service/cli.h"

#include <CLI/CLI.hpp>

#include "service/build_info.h"
#include "service/log.h"

namespace hokm::service {

std::string VersionLine(std::string_view binary) {
  std::string line(binary);
  line += ' ';
  line += Version();
  line += " (commit ";
  line += Commit();
  line += ')';
  return line;
}

void AddCommonFlags(CLI::App& app, std::string_view binary, CommonFlags* flags) {
  flags->binary = binary;
  app.set_version_flag("--version", VersionLine(binary), "Print the version and commit, exit 0");
  app.set_config("--config", "",
                 "Read flags from this file: TOML or INI, one `flag-name = value` a line "
                 "(a subcommand's under [subcommand]); a flag on the command line wins");
  // A misspelt key in a config file is a usage error, as it is on the command line.
  app.allow_config_extras(CLI::config_extras_mode::error);
  app.add_option("--log-format", flags->log_format,
                 "text (UTC timestamp, level, binary, message) or json (one object a line: "
                 "ts, level, logger, msg); logs go to stderr")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  app.add_option("--log-level", flags->log_level, "the least severe level logged")
      ->check(CLI::IsMember({"debug", "info", "warn", "error"}))
      ->capture_default_str();
  const std::string name(binary);
  app.failure_message([name](const CLI::App* a, const CLI::Error& e) {
    return name + ": " + CLI::FailureMessage::simple(a, e);
  });
}

std::optional<int> ParseCommandLine(CLI::App& app, int argc, char** argv,
                                    const CommonFlags& flags) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // Help and version are "errors" of exit code 0 to CLI11; every other
    // one is a usage error, whatever CLI11's own code (105, 109, ...).
    return app.exit(e) == 0 ? 0 : kExitUsage;
  }
  LogOptions options;
  options.binary = flags.binary;
  // Both checked by CLI11 (IsMember).
  (void)ParseLogFormat(flags.log_format, &options.format);
  (void)ParseLogLevel(flags.log_level, &options.level);
  InitLog(options);
  return std::nullopt;
}

}  // namespace hokm::service
