// replay.cc: hokmctl replay (not built yet: issue 14).
#include "ctl/ctl.h"

namespace hokm::ctl {

void AddReplay(CLI::App& root, const Globals& /*globals*/, Run& run) {
  CLI::App* sub = root.add_subcommand("replay", "(not built yet)");
  sub->callback([&run] { run = [] { return Fail(kExitUsage, "replay is not built yet"); }; });
}

}  // namespace hokm::ctl
