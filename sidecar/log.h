// log.h: hokm-sidecar's log line: "hokm-sidecar: <message>" on stderr, one
// line per call (printf-style format).
#pragma once

#include <cstdio>

namespace hokm::sidecar {

template <typename... Args>
void Log(const char* fmt, Args... args) {
  std::fprintf(stderr, "hokm-sidecar: ");
  std::fprintf(stderr, fmt, args...);
  std::fputc('\n', stderr);
}

}  // namespace hokm::sidecar
