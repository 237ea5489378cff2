// dlq.cc: hokmctl dlq (not built yet: issue 14).
#include "ctl/ctl.h"

namespace hokm::ctl {

void AddDlq(CLI::App& root, const Globals& /*globals*/, Run& run) {
  CLI::App* sub = root.add_subcommand("dlq", "(not built yet)");
  sub->callback([&run] { run = [] { return Fail(kExitUsage, "dlq is not built yet"); }; });
}

}  // namespace hokm::ctl
