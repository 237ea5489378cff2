// check.cc: hokmctl check (not built yet: issue 14).
#include "ctl/ctl.h"

namespace hokm::ctl {

void AddCheck(CLI::App& root, const Globals& /*globals*/, Run& run) {
  CLI::App* sub = root.add_subcommand("check", "(not built yet)");
  sub->callback([&run] { run = [] { return Fail(kExitUsage, "check is not built yet"); }; });
}

}  // namespace hokm::ctl
