// rebuild_redis.cc: hokmctl rebuild-redis (not built yet: issue 14).
#include "ctl/ctl.h"

namespace hokm::ctl {

void AddRebuildRedis(CLI::App& root, const Globals& /*globals*/, Run& run) {
  CLI::App* sub = root.add_subcommand("rebuild-redis", "(not built yet)");
  sub->callback(
      [&run] { run = [] { return Fail(kExitUsage, "rebuild-redis is not built yet"); }; });
}

}  // namespace hokm::ctl
