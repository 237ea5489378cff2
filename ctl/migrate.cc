// migrate.cc: hokmctl migrate (not built yet: issue 14).
#include "ctl/ctl.h"

namespace hokm::ctl {

void AddMigrate(CLI::App& root, const Globals& /*globals*/, Run& run) {
  CLI::App* sub = root.add_subcommand("migrate", "(not built yet)");
  sub->callback([&run] { run = [] { return Fail(kExitUsage, "migrate is not built yet"); }; });
}

}  // namespace hokm::ctl
