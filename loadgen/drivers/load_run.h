// load_run.h: one loadgen run from start to end: opens what the mode needs
// (the in-process engine, hokm-engine's segment, or the baseline's stores),
// runs the threads with a progress line every second on a terminal, and
// gathers their totals. Verification and reports are main.cc's.
//
// Thread safety: driven by the main thread; the runner threads it starts
// are joined before Play returns.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "loadgen/options.h"
#include "loadgen/run_stats.h"
#include "shm/status.h"

namespace hokm {
class Engine;
namespace shm {
class Segment;
}  // namespace shm
}  // namespace hokm

namespace hokm::loadgen {

struct SeedSetup;

class LoadRun {
 public:
  explicit LoadRun(const LoadgenOptions& options);
  ~LoadRun();

  // Opens the engine / attaches the segment / prepares the baseline, and
  // waits for the sidecar when asked (--wait-for-sidecar).
  Status Open();
  // Plays until the end condition, SIGINT or SIGTERM.
  Result<std::unique_ptr<RunTotals>> Play();

  // The segment whose change rings the run published on (embedded, shm);
  // null otherwise. Valid while this LoadRun lives.
  const shm::Segment* segment() const;

 private:
  void PrintProgress(const std::vector<std::unique_ptr<ThreadResult>>& results,
                     std::uint64_t games_started, double elapsed_s);

  const LoadgenOptions& options_;
  std::unique_ptr<Engine> engine_;         // embedded
  std::unique_ptr<shm::Segment> segment_;  // shm
  std::unique_ptr<SeedSetup> seed_;        // --baseline seed
  std::uint64_t last_progress_plays_ = 0;
  std::uint64_t last_progress_ns_ = 0;
};

// Installs SIGINT/SIGTERM handlers that end the run early but cleanly,
// ignores SIGPIPE, and sets a 1 us timer slack for the short naps.
void InstallStopSignals();

}  // namespace hokm::loadgen
