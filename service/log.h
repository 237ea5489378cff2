// log.h: the binaries' log lines, on stderr: a thin API over spdlog, which
// only log.cc includes (its headers are heavy, and every file that logs
// includes this one).
//
// Text (the default): "2026-12-01T04:22:15.123Z info hokm-engine: serving ...",
// UTC. Json: one object per line, {"ts":"...","level":"info",
// "logger":"hokm-engine","msg":"..."}, for log collectors.
//
// Repeated identical warnings and errors are rate-limited instead of
// flooding or being silenced: the first is written; the same level and text
// again within the repeat window (10 s) is counted, and once the window has
// passed one line says "<message> (repeated N times in the last 10 s)". The
// count is written by the next log line of any kind after the window, or
// at exit. Debug and info lines are never held back.
//
// Thread safety: every function may be called from any thread; InitLog is
// meant for main() before other threads log (a line logged concurrently
// goes to the old or the new configuration).
#pragma once

#include <chrono>
#include <cstdarg>
#include <functional>
#include <ostream>
#include <string>
#include <string_view>

namespace hokm::service {

enum class LogLevel { kDebug, kInfo, kWarn, kError };
enum class LogFormat { kText, kJson };

struct LogOptions {
  std::string binary = "hokm";  // the text line's prefix, json's "logger"
  LogFormat format = LogFormat::kText;
  LogLevel level = LogLevel::kInfo;  // the least severe level written
  std::chrono::milliseconds repeat_window{10'000};
  std::ostream* out = nullptr;  // nullptr: stderr (tests pass a stream)
  // The clock of the repeat windows (tests move their own); empty: steady_clock.
  std::function<std::chrono::steady_clock::time_point()> now;
};

// "text"/"json", "debug"/"info"/"warn"/"error"; false for anything else.
bool ParseLogFormat(std::string_view name, LogFormat* format);
bool ParseLogLevel(std::string_view name, LogLevel* level);

// Replaces the configuration (first writing the repeat counts pending under
// the old one). Before any call, lines go to stderr as text, at info, with
// the program's name.
void InitLog(const LogOptions& options);

void Log(LogLevel level, std::string_view message);
inline void LogDebug(std::string_view message) { Log(LogLevel::kDebug, message); }
inline void LogInfo(std::string_view message) { Log(LogLevel::kInfo, message); }
inline void LogWarn(std::string_view message) { Log(LogLevel::kWarn, message); }
inline void LogError(std::string_view message) { Log(LogLevel::kError, message); }

// printf into a std::string, for the callers that format that way.
std::string Printf(const char* format, ...) __attribute__((format(printf, 1, 2)));
std::string VPrintf(const char* format, std::va_list args);

// Writes the counts of the repeats held back so far, window passed or not
// (InitLog registers it to run at exit).
void FlushLogRepeats();

}  // namespace hokm::service
