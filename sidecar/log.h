// log.h: hokm-sidecar's printf-style log calls, a shim over the binaries'
// log module (service/log.h: timestamp, level, --log-format, repeats
// rate-limited). Log is info; LogWarn and LogError for what went wrong.
#pragma once

#include "service/log.h"

namespace hokm::sidecar {

template <typename... Args>
void Log(const char* fmt, Args... args) {
  service::LogInfo(service::Printf(fmt, args...));
}

template <typename... Args>
void LogWarn(const char* fmt, Args... args) {
  service::LogWarn(service::Printf(fmt, args...));
}

template <typename... Args>
void LogError(const char* fmt, Args... args) {
  service::LogError(service::Printf(fmt, args...));
}

}  // namespace hokm::sidecar
