// dump_writer.h: `--dump`: every change record as one JSON line
// (core/records/change_json.h), in game-id then game_seq order, from many threads
// that play many games at once.
//
// A runner keeps each running game's lines in memory (GameFlow) and hands a
// game's whole text to its thread's Part when the game ends. Each Part
// appends games to its own file "<path>.part<i>" and remembers where each
// game's text lies; Finish() copies the games of all parts into `path` in
// ascending game id and removes the parts, so the file reads as if one
// thread had played the games one after the other. Memory is the text of
// the games running at once: --dump is for small runs.
//
// Thread safety: each Part is used by one thread at a time; Open and Finish
// by the owner only, while no Part is in use.
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "shm/status.h"

namespace hokm::loadgen {

class DumpWriter {
 public:
  class Part {
   public:
    // Appends one whole game's lines (each ending in '\n'). The first write
    // error sticks and is returned by Finish.
    void AppendGame(std::uint64_t game_id, std::string_view text);

   private:
    friend class DumpWriter;
    struct Extent {
      std::uint64_t game_id;
      std::uint64_t offset;
      std::uint64_t length;
    };
    std::string path_;
    std::FILE* file_ = nullptr;
    std::uint64_t size_ = 0;
    std::vector<Extent> games_;
    Status status_;
  };

  // Creates (truncates) path and the part files beside it.
  static Result<std::unique_ptr<DumpWriter>> Open(const std::string& path, int parts);

  ~DumpWriter();  // closes and removes the part files
  DumpWriter(const DumpWriter&) = delete;
  DumpWriter& operator=(const DumpWriter&) = delete;

  Part& part(int i) { return *parts_[static_cast<std::size_t>(i)]; }

  // Writes every part's games into the target in ascending game id and
  // removes the parts. Returns the first error of any part or of the copy.
  Status Finish();

 private:
  DumpWriter() = default;
  std::string path_;
  std::vector<std::unique_ptr<Part>> parts_;
};

}  // namespace hokm::loadgen
