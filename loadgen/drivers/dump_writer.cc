// dump_writer.cc: per-thread part files of whole games, merged by game id at
// the end (see dump_writer.h).
#include "loadgen/drivers/dump_writer.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace hokm::loadgen {
namespace {

Status IoError(const std::string& what, const std::string& path) {
  return Status::IoError("--dump: " + what + " " + path + ": " + std::strerror(errno));
}

}  // namespace

void DumpWriter::Part::AppendGame(std::uint64_t game_id, std::string_view text) {
  if (!status_.ok() || text.empty()) return;
  if (std::fwrite(text.data(), 1, text.size(), file_) != text.size()) {
    status_ = IoError("cannot write", path_);
    return;
  }
  games_.push_back({game_id, size_, text.size()});
  size_ += text.size();
}

Result<std::unique_ptr<DumpWriter>> DumpWriter::Open(const std::string& path, int parts) {
  std::unique_ptr<DumpWriter> w(new DumpWriter());
  w->path_ = path;
  std::FILE* target = std::fopen(path.c_str(), "wb");
  if (target == nullptr) return IoError("cannot create", path);
  std::fclose(target);
  for (int i = 0; i < parts; ++i) {
    auto part = std::make_unique<Part>();
    part->path_ = path + ".part" + std::to_string(i);
    part->file_ = std::fopen(part->path_.c_str(), "w+b");
    if (part->file_ == nullptr) return IoError("cannot create", part->path_);
    w->parts_.push_back(std::move(part));
  }
  return w;
}

DumpWriter::~DumpWriter() {
  for (auto& p : parts_) {
    if (p->file_ != nullptr) std::fclose(p->file_);
    std::remove(p->path_.c_str());
  }
}

Status DumpWriter::Finish() {
  struct Source {
    Part::Extent extent;
    std::size_t part;
  };
  std::vector<Source> games;
  for (std::size_t i = 0; i < parts_.size(); ++i) {
    Part& p = *parts_[i];
    if (!p.status_.ok()) return p.status_;
    if (std::fflush(p.file_) != 0) return IoError("cannot write", p.path_);
    for (const Part::Extent& e : p.games_) games.push_back({e, i});
  }
  std::sort(games.begin(), games.end(),
            [](const Source& a, const Source& b) { return a.extent.game_id < b.extent.game_id; });
  std::FILE* out = std::fopen(path_.c_str(), "wb");
  if (out == nullptr) return IoError("cannot create", path_);
  std::vector<char> buffer;
  Status result;
  for (const Source& g : games) {
    Part& p = *parts_[g.part];
    buffer.resize(g.extent.length);
    if (std::fseek(p.file_, static_cast<long>(g.extent.offset), SEEK_SET) != 0 ||
        std::fread(buffer.data(), 1, buffer.size(), p.file_) != buffer.size()) {
      result = IoError("cannot read back", p.path_);
      break;
    }
    if (std::fwrite(buffer.data(), 1, buffer.size(), out) != buffer.size()) {
      result = IoError("cannot write", path_);
      break;
    }
  }
  if (std::fclose(out) != 0 && result.ok()) result = IoError("cannot write", path_);
  for (auto& p : parts_) {
    std::fclose(p->file_);
    p->file_ = nullptr;
    std::remove(p->path_.c_str());
  }
  return result;
}

}  // namespace hokm::loadgen
