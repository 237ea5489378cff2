// game.cc: hokmctl game (not built yet: issue 14).
#include "ctl/ctl.h"

namespace hokm::ctl {

void AddGame(CLI::App& root, const Globals& /*globals*/, Run& run) {
  CLI::App* sub = root.add_subcommand("game", "(not built yet)");
  sub->callback([&run] { run = [] { return Fail(kExitUsage, "game is not built yet"); }; });
}

}  // namespace hokm::ctl
