// bench_engine.h: a throwaway hokm::Engine for one benchmark, on a segment
// of its own that is removed again when the benchmark ends.
#pragma once

#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "core/engine.h"

namespace hokm::bench {

class BenchEngine {
 public:
  // A fresh engine on segment "hokm-bench-<what>-<pid>", 1,024 game slots;
  // when it cannot be opened the benchmark is skipped with the reason and
  // ok() is false.
  BenchEngine(benchmark::State& state, const char* what, std::size_t ring_bytes,
              std::uint32_t client_slots)
      : name_("hokm-bench-" + std::string(what) + "-" + std::to_string(::getpid())) {
    (void)shm::Segment::Remove(name_);
    EngineOptions o;
    o.shm_name = name_;
    o.capacity = 1024;
    o.ring_bytes = ring_bytes;
    o.client_slots = client_slots;
    o.reuse_existing = false;
    auto opened = Engine::Open(o);
    if (!opened.ok()) {
      state.SkipWithError(opened.status().message().c_str());
      return;
    }
    engine_ = std::move(opened).value();
  }
  ~BenchEngine() {
    engine_.reset();
    (void)shm::Segment::Remove(name_);
  }
  BenchEngine(const BenchEngine&) = delete;
  BenchEngine& operator=(const BenchEngine&) = delete;

  bool ok() const { return engine_ != nullptr; }
  Engine& operator*() const { return *engine_; }

 private:
  std::string name_;
  std::unique_ptr<Engine> engine_;
};

}  // namespace hokm::bench
