// main.cc: embeds the hokm engine in a program of its own. Opens an engine on
// a shared-memory segment of its own, seats four bots, plays one game to the
// end and prints every change record the engine published for it, one JSON
// object per line on stdout (a summary goes to stderr). Exits 0 only if the
// game finished; 2 on a usage error. Its command line follows hokm's
// conventions (CLI11): --version, --help, --config FILE, --seed.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

#include "core/engine.h"
#include "core/records/change_batch.h"
#include "core/records/change_json.h"
#include "core/records/record_codec.h"
#include "core/rules/bots.h"
#include "shm/ring.h"

namespace {

using hokm::core::Command;
using hokm::core::CommandResult;
using hokm::core::CommandType;

// Removes the segment when main returns, after the engine has closed.
struct SegmentRemover {
  std::string name;
  ~SegmentRemover() { (void)hokm::shm::Segment::Remove(name); }
};

// What the change ring has handed out so far.
struct RecordLog {
  int records = 0;
  bool game_finished = false;
  bool corrupt = false;
};

// Prints the records published since the last call and commits them, which
// frees their room on the ring. Each ring record is one command's records,
// framed (core/records/change_batch.h), each a FlatBuffers ChangeRecord.
void PrintNewRecords(hokm::shm::RingReader& changes, RecordLog& log) {
  std::string line;
  changes.Peek(
      [&](const hokm::shm::RingRecord& batch) {
        if (batch.type != hokm::core::kChangeBatchType) return;
        const bool framed =
            hokm::core::ForEachFrame(batch.payload, [&](const std::byte* data, std::size_t size) {
              hokm::core::Change change{};
              if (hokm::core::DecodeRecord(data, size, &change) != hokm::core::DecodeError::kOk) {
                log.corrupt = true;
                return;
              }
              line.clear();
              hokm::core::AppendChangeJson(change, line);
              std::printf("%s\n", line.c_str());
              ++log.records;
              if (change.type == hokm::core::RecordType::kGameFinished) log.game_finished = true;
            });
        if (!framed) log.corrupt = true;
      },
      /*max_records=*/1024);
  changes.Commit();
}

// Applies cmd on shard 0 (this thread owns it) and prints what it published.
hokm::ApplyOutcome Apply(hokm::Engine& engine, hokm::shm::RingReader& changes, const Command& cmd,
                         RecordLog& log) {
  const hokm::ApplyOutcome outcome = engine.Apply(0, cmd);
  if (outcome.result != CommandResult::kOk) {
    std::fprintf(stderr, "hokm-embed: command refused: %s\n",
                 hokm::core::CommandResultName(outcome.result));
  }
  PrintNewRecords(changes, log);
  return outcome;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "hokm-embed: plays one Hokm game with four bots on an engine of its own and\n"
      "prints every change record as a JSON line on stdout."};
  std::uint64_t seed = 2024;  // the deals; the same seed plays the same game
  app.add_option("--seed", seed, "the game's seed (the same seed plays the same game)")
      ->capture_default_str();
  // HOKM_EMBED_VERSION: the hokm package's version and the commit this
  // example was configured from (CMakeLists.txt).
  app.set_version_flag("--version", "hokm-embed " HOKM_EMBED_VERSION);
  app.set_config("--config", "", "read flags from this TOML or INI file; the command line wins");
  app.allow_config_extras(CLI::config_extras_mode::error);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;  // help and version: 0; a usage error: 2
  }

  hokm::EngineOptions options;
  options.shm_name = "hokm-embed-" + std::to_string(::getpid());  // /dev/shm/<name>
  options.capacity = 16;                                          // game slots
  options.ring_bytes = 1 << 20;          // the change ring; read after every command
  options.command_ring_bytes = 1 << 16;  // for other processes' commands: unused here
  options.client_slots = 1;
  options.reuse_existing = false;
  SegmentRemover remover{options.shm_name};
  auto opened = hokm::Engine::Open(options);
  if (!opened.ok()) {
    std::fprintf(stderr, "hokm-embed: %s\n", opened.status().message().c_str());
    return 1;
  }
  std::unique_ptr<hokm::Engine> engine = std::move(opened).value();
  hokm::shm::RingReader changes(engine->segment().change_ring(0));
  RecordLog log;

  Command create{};
  create.type = CommandType::kCreateGame;
  create.seed = seed;
  std::memcpy(create.room, "EMBED", 5);
  hokm::ApplyOutcome outcome = Apply(*engine, changes, create, log);
  const std::uint64_t game = outcome.game_id;

  for (std::uint8_t seat = 0; seat < 4 && outcome.result == CommandResult::kOk; ++seat) {
    Command join{};
    join.type = CommandType::kJoin;
    join.game_id = game;
    join.seat = seat;
    join.player_id = 101 + seat;
    outcome = Apply(*engine, changes, join, log);
  }

  // Four seats filled: the hakem is chosen and the first five cards dealt.
  // The bot reads the game's state and answers for whichever seat must act.
  hokm::core::GreedyBot bot;
  hokm::core::GameState state{};
  while (outcome.result == CommandResult::kOk && !log.game_finished && !log.corrupt &&
         engine->Snapshot(game, state)) {
    outcome = Apply(*engine, changes, bot.NextCommand(state), log);
  }

  std::fprintf(stderr, "hokm-embed: game %llu (seed %llu): %d records, %s\n",
               static_cast<unsigned long long>(game), static_cast<unsigned long long>(seed),
               log.records,
               log.game_finished ? "finished"
               : log.corrupt     ? "stopped: a change record did not decode"
                                 : "stopped before the end");
  return log.game_finished ? 0 : 1;
}
