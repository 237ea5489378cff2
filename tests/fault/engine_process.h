// engine_process.h: for the tests that run hokm-engine as a process: waiting
// until it serves a segment.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>

#include "shm/segment.h"
#include "tests/integration/process_util.h"

namespace hokm::proc {

// Waits (bounded by `budget`) until segment `name` exists and `pid` is its
// engine; the segment attached, else nullopt.
inline std::optional<shm::Segment> AttachWhenServing(
    const std::string& name, pid_t pid,
    std::chrono::milliseconds budget = std::chrono::seconds(20)) {
  std::optional<shm::Segment> segment;
  WaitUntil(
      [&] {
        auto s = shm::Segment::Attach(name);
        if (!s.ok() || s->engine_pid() != pid) return false;
        segment.emplace(std::move(s).value());
        return true;
      },
      budget);
  return segment;
}

}  // namespace hokm::proc
