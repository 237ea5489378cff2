// status.cc: hokmctl status (not built yet: issue 14).
#include "ctl/ctl.h"

namespace hokm::ctl {

void AddStatus(CLI::App& root, const Globals& /*globals*/, Run& run) {
  CLI::App* sub = root.add_subcommand("status", "(not built yet)");
  sub->callback([&run] { run = [] { return Fail(kExitUsage, "status is not built yet"); }; });
}

}  // namespace hokm::ctl
