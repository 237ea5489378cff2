// dump_writer.h: `--dump`: every change record as one JSON line
// (core/change_json.h), in game-id then game_seq order, from many threads.
//
// Each runner thread owns one Part and plays a contiguous range of game ids,
// parts in ascending order. Part 0 writes straight into the target file;
// part i > 0 into "<path>.part<i>" beside it. Finish() appends parts 1.. to
// the target in order and removes them, so the file reads as if one thread
// had played every game; no thread waits for another while playing.
//
// Thread safety: each Part is used by one thread at a time; Open and Finish
// by the owner only, while no Part is in use.
#pragma once

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "core/change.h"
#include "shm/status.h"

namespace hokm::loadgen {

class DumpWriter {
 public:
  class Part {
   public:
    // Buffers c's line; writes the buffer out once it passes 1 MiB.
    void Append(const core::Change& c);
    // Writes out what is buffered. The first write error sticks.
    void Flush();

   private:
    friend class DumpWriter;
    std::string path_;
    std::FILE* file_ = nullptr;
    std::string buffer_;
    Status status_;
  };

  // Creates (truncates) path and the part files.
  static Result<std::unique_ptr<DumpWriter>> Open(const std::string& path, int parts);

  ~DumpWriter();  // closes and removes part files Finish did not consume
  DumpWriter(const DumpWriter&) = delete;
  DumpWriter& operator=(const DumpWriter&) = delete;

  Part& part(int i) { return *parts_[static_cast<std::size_t>(i)]; }

  // Flushes every part, appends parts 1.. to the target in order, removes
  // them. Returns the first error of any part or of the concatenation.
  Status Finish();

 private:
  DumpWriter() = default;
  std::vector<std::unique_ptr<Part>> parts_;
};

}  // namespace hokm::loadgen
