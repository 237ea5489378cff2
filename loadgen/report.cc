// report.cc: the human summary and the --json summary of a loadgen run.
#include "loadgen/report.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

namespace hokm::loadgen {

double CardPlaysPerSecond(const RunStats& stats) {
  return stats.wall_s > 0 ? static_cast<double>(stats.card_plays) / stats.wall_s : 0.0;
}

void PrintSummary(std::FILE* out, const LoadgenOptions& options, const RunStats& stats) {
  std::fprintf(out, "hokm-loadgen: embedded, bots %s, %d thread%s, seed %llu\n",
               BotKindName(options.bots), options.threads, options.threads == 1 ? "" : "s",
               static_cast<unsigned long long>(options.seed));
  std::fprintf(out, "  games              %llu (team A %llu, team B %llu)\n",
               static_cast<unsigned long long>(stats.games),
               static_cast<unsigned long long>(stats.team_wins[0]),
               static_cast<unsigned long long>(stats.team_wins[1]));
  std::fprintf(out, "  card plays         %llu\n",
               static_cast<unsigned long long>(stats.card_plays));
  std::fprintf(out, "  change records     %llu\n", static_cast<unsigned long long>(stats.records));
  std::fprintf(out, "  wall time          %.3f s\n", stats.wall_s);
  std::fprintf(out, "  card plays per sec %.0f\n", CardPlaysPerSecond(stats));
  if (!options.dump_path.empty()) {
    std::fprintf(out, "  dump               %s (parts joined in %.3f s)\n",
                 options.dump_path.c_str(), stats.dump_s);
  }
}

std::string SummaryJson(const LoadgenOptions& options, const RunStats& stats) {
  const nlohmann::json j = {
      {"games", stats.games},
      {"card_plays", stats.card_plays},
      {"card_plays_per_sec", CardPlaysPerSecond(stats)},
      {"wall_s", stats.wall_s},
      {"mode", "embedded"},
      {"bots", BotKindName(options.bots)},
      {"threads", options.threads},
      {"seed", options.seed},
      {"records", stats.records},
      {"commands", stats.commands},
      {"team_wins", {stats.team_wins[0], stats.team_wins[1]}},
  };
  return j.dump();
}

Status WriteSummaryJson(const std::string& path, const LoadgenOptions& options,
                        const RunStats& stats) {
  std::ofstream out(path, std::ios::trunc);
  if (!out) return Status::IoError("--json: cannot create " + path + ": " + std::strerror(errno));
  out << SummaryJson(options, stats) << '\n';
  out.close();
  if (!out) return Status::IoError("--json: cannot write " + path + ": " + std::strerror(errno));
  return Status::Ok();
}

}  // namespace hokm::loadgen
