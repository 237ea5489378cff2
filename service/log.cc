// log.cc: the log module (log.h) over spdlog: the one file that includes
// spdlog's headers. spdlog writes the lines (pattern, UTC timestamp, level,
// the sink's lock); the repeat windows are kept here, under one mutex.
#include "service/log.h"

#include <errno.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <unordered_map>

namespace hokm::service {
namespace {

using Clock = std::chrono::steady_clock;

// Distinct messages tracked for repeats at once; past it a new message is
// written without tracking (a flood of distinct lines is not held back).
constexpr std::size_t kMaxTracked = 1024;

constexpr const char* kTextPattern = "%Y-%m-%dT%H:%M:%S.%eZ %l %n: %v";
constexpr const char* kJsonPattern =
    R"({"ts":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l","logger":"%n","msg":"%v"})";

struct Repeat {
  Clock::time_point start;  // of the window; the first line was written then
  std::uint64_t count = 0;  // identical lines held back since start
  LogLevel level = LogLevel::kInfo;
  std::string message;
};

struct State {
  std::mutex mu;
  LogOptions options;                               // guarded by mu
  std::shared_ptr<spdlog::logger> logger;           // guarded by mu; null until first use
  std::unordered_map<std::string, Repeat> repeats;  // guarded by mu; key: level + message
  bool flush_at_exit = false;                       // guarded by mu
};

// Never destroyed: threads that outlive main's return may still log.
State& TheState() {
  static State* state = new State();
  return *state;
}

spdlog::level::level_enum SpdLevel(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return spdlog::level::debug;
    case LogLevel::kInfo:
      return spdlog::level::info;
    case LogLevel::kWarn:
      return spdlog::level::warn;
    case LogLevel::kError:
      return spdlog::level::err;
  }
  return spdlog::level::info;
}

std::string JsonEscape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (const char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out;
}

std::shared_ptr<spdlog::logger> MakeLogger(const LogOptions& o) {
  spdlog::sink_ptr sink;
  if (o.out != nullptr) {
    sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(*o.out, /*force_flush=*/true);
  } else {
    sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  }
  const bool json = o.format == LogFormat::kJson;
  // Not registered in spdlog's registry: a second InitLog replaces it freely.
  auto logger = std::make_shared<spdlog::logger>(json ? JsonEscape(o.binary) : o.binary, sink);
  logger->set_pattern(json ? kJsonPattern : kTextPattern, spdlog::pattern_time_type::utc);
  logger->set_level(SpdLevel(o.level));
  logger->flush_on(spdlog::level::trace);  // a line is out before a crash
  return logger;
}

// REQUIRES: s.mu held.
void EnsureLogger(State& s) {
  if (s.logger) return;
  s.options.binary = program_invocation_short_name;
  s.logger = MakeLogger(s.options);
}

// REQUIRES: s.mu held.
void Emit(State& s, LogLevel level, std::string_view message) {
  if (s.options.format == LogFormat::kJson) {
    const std::string escaped = JsonEscape(message);
    s.logger->log(SpdLevel(level), spdlog::string_view_t(escaped.data(), escaped.size()));
  } else {
    s.logger->log(SpdLevel(level), spdlog::string_view_t(message.data(), message.size()));
  }
}

std::string WindowText(std::chrono::milliseconds window) {
  const auto ms = static_cast<unsigned long long>(window.count());
  return ms % 1000 == 0 ? std::to_string(ms / 1000) + " s" : std::to_string(ms) + " ms";
}

// REQUIRES: s.mu held.
void EmitRepeats(State& s, const Repeat& r) {
  Emit(s, r.level,
       r.message + " (repeated " + std::to_string(r.count) + (r.count == 1 ? " time" : " times") +
           " in the last " + WindowText(s.options.repeat_window) + ")");
}

// Ends the windows that have passed: their counts are written, and a
// message still repeating keeps being held back in a new window (one line
// per window for a steady flood). REQUIRES: s.mu held.
void Sweep(State& s, Clock::time_point now) {
  for (auto it = s.repeats.begin(); it != s.repeats.end();) {
    Repeat& r = it->second;
    if (now - r.start < s.options.repeat_window) {
      ++it;
    } else if (r.count != 0) {
      EmitRepeats(s, r);
      r.start = now;
      r.count = 0;
      ++it;
    } else {
      it = s.repeats.erase(it);
    }
  }
}

// REQUIRES: s.mu held.
void FlushLocked(State& s) {
  if (!s.logger) return;
  for (const auto& [key, r] : s.repeats) {
    if (r.count != 0) EmitRepeats(s, r);
  }
  s.repeats.clear();
}

}  // namespace

bool ParseLogFormat(std::string_view name, LogFormat* format) {
  if (name == "text") {
    *format = LogFormat::kText;
  } else if (name == "json") {
    *format = LogFormat::kJson;
  } else {
    return false;
  }
  return true;
}

bool ParseLogLevel(std::string_view name, LogLevel* level) {
  if (name == "debug") {
    *level = LogLevel::kDebug;
  } else if (name == "info") {
    *level = LogLevel::kInfo;
  } else if (name == "warn") {
    *level = LogLevel::kWarn;
  } else if (name == "error") {
    *level = LogLevel::kError;
  } else {
    return false;
  }
  return true;
}

void InitLog(const LogOptions& options) {
  State& s = TheState();
  std::lock_guard lock(s.mu);
  FlushLocked(s);
  s.options = options;
  if (s.options.binary.empty()) s.options.binary = program_invocation_short_name;
  s.logger = MakeLogger(s.options);
  if (!s.flush_at_exit) {
    s.flush_at_exit = true;
    std::atexit(FlushLogRepeats);
  }
}

void Log(LogLevel level, std::string_view message) {
  State& s = TheState();
  std::lock_guard lock(s.mu);
  EnsureLogger(s);
  if (level < s.options.level) return;
  const Clock::time_point now = s.options.now ? s.options.now() : Clock::now();
  Sweep(s, now);
  if (level >= LogLevel::kWarn) {
    std::string key(1, static_cast<char>('0' + static_cast<int>(level)));
    key += message;
    if (auto it = s.repeats.find(key); it != s.repeats.end()) {
      ++it->second.count;
      return;
    }
    if (s.repeats.size() < kMaxTracked) {
      s.repeats.emplace(std::move(key), Repeat{now, 0, level, std::string(message)});
    }
  }
  Emit(s, level, message);
}

std::string VPrintf(const char* format, std::va_list args) {
  std::va_list again;
  va_copy(again, args);
  char small[256];
  const int n = std::vsnprintf(small, sizeof small, format, args);
  std::string out;
  if (n < 0) {
    out = format;  // a bad format: its text rather than nothing
  } else if (static_cast<std::size_t>(n) < sizeof small) {
    out.assign(small, static_cast<std::size_t>(n));
  } else {
    out.resize(static_cast<std::size_t>(n) + 1);
    std::vsnprintf(out.data(), out.size(), format, again);
    out.resize(static_cast<std::size_t>(n));
  }
  va_end(again);
  return out;
}

std::string Printf(const char* format, ...) {
  std::va_list args;
  va_start(args, format);
  std::string out = VPrintf(format, args);
  va_end(args);
  return out;
}

void FlushLogRepeats() {
  State& s = TheState();
  std::lock_guard lock(s.mu);
  FlushLocked(s);
}

}  // namespace hokm::service
