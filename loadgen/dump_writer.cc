// dump_writer.cc: per-thread JSON-line buffers and part files, concatenated
// in game order at the end (see dump_writer.h).
#include "loadgen/dump_writer.h"

#include <cerrno>
#include <cstring>

#include "core/change_json.h"

namespace hokm::loadgen {
namespace {

constexpr std::size_t kFlushBytes = std::size_t{1} << 20;

Status IoError(const std::string& what, const std::string& path) {
  return Status::IoError(what + " " + path + ": " + std::strerror(errno));
}

}  // namespace

void DumpWriter::Part::Append(const core::Change& c) {
  core::AppendChangeJson(c, buffer_);
  buffer_ += '\n';
  if (buffer_.size() >= kFlushBytes) Flush();
}

void DumpWriter::Part::Flush() {
  if (!buffer_.empty() && status_.ok() &&
      std::fwrite(buffer_.data(), 1, buffer_.size(), file_) != buffer_.size()) {
    status_ = IoError("cannot write", path_);
  }
  buffer_.clear();
}

Result<std::unique_ptr<DumpWriter>> DumpWriter::Open(const std::string& path, int parts) {
  std::unique_ptr<DumpWriter> w(new DumpWriter());
  for (int i = 0; i < parts; ++i) {
    auto part = std::make_unique<Part>();
    part->path_ = i == 0 ? path : path + ".part" + std::to_string(i);
    part->file_ = std::fopen(part->path_.c_str(), "wb");
    if (part->file_ == nullptr) {
      return IoError("--dump: cannot create", part->path_);
    }
    part->buffer_.reserve(kFlushBytes + 4096);
    w->parts_.push_back(std::move(part));
  }
  return w;
}

DumpWriter::~DumpWriter() {
  for (std::size_t i = 0; i < parts_.size(); ++i) {
    Part& p = *parts_[i];
    if (p.file_ != nullptr) std::fclose(p.file_);
    if (i > 0) std::remove(p.path_.c_str());
  }
}

Status DumpWriter::Finish() {
  Status result;
  for (auto& part : parts_) {
    part->Flush();
    if (result.ok() && !part->status_.ok()) result = part->status_;
  }
  Part& target = *parts_[0];
  std::vector<char> chunk(kFlushBytes);
  for (std::size_t i = 1; i < parts_.size(); ++i) {
    Part& p = *parts_[i];
    if (result.ok() && std::fflush(p.file_) != 0) result = IoError("cannot write", p.path_);
    std::fclose(p.file_);
    p.file_ = nullptr;
    if (result.ok()) {
      std::FILE* in = std::fopen(p.path_.c_str(), "rb");
      if (in == nullptr) {
        result = IoError("cannot reopen", p.path_);
      } else {
        std::size_t n;
        while (result.ok() && (n = std::fread(chunk.data(), 1, chunk.size(), in)) > 0) {
          if (std::fwrite(chunk.data(), 1, n, target.file_) != n) {
            result = IoError("cannot write", target.path_);
          }
        }
        if (result.ok() && std::ferror(in)) result = IoError("cannot read", p.path_);
        std::fclose(in);
      }
    }
    std::remove(p.path_.c_str());
  }
  if (std::fclose(target.file_) != 0 && result.ok()) result = IoError("cannot write", target.path_);
  target.file_ = nullptr;
  return result;
}

}  // namespace hokm::loadgen
