// resp_command.h: one Redis command's arguments, formatted in the Redis
// protocol (RESP) by the sink itself: hiredis's own formatting (an sds per
// argument) was a large share of the sidecar's CPU (sidecar/README.md,
// Measurements).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/records/text.h"

namespace hokm::sidecar {

// Arguments of one command: bytes in one arena, spans taken at the end
// (the arena may move while it grows).
class RespCommand {
 public:
  void Clear() {
    arena_.clear();
    spans_.clear();
  }
  void Add(std::string_view s) {
    Begin();
    arena_.append(s);
    End();
  }
  void AddUint(std::uint64_t v) {
    Begin();
    core::AppendUint(v, arena_);
    End();
  }
  // For arguments written straight into the arena (the event JSON).
  void Begin() { start_ = arena_.size(); }
  void End() { spans_.push_back({start_, arena_.size() - start_}); }
  std::string& arena() { return arena_; }
  std::size_t size() const { return spans_.size(); }
  std::string_view Arg(std::size_t i) const {
    return std::string_view(arena_).substr(spans_[i].first, spans_[i].second);
  }

  // Appends the arguments as one command in RESP.
  void AppendResp(std::string& out) const {
    out += '*';
    core::AppendUint(spans_.size(), out);
    out += "\r\n";
    for (const auto& [at, len] : spans_) {
      out += '$';
      core::AppendUint(len, out);
      out += "\r\n";
      out.append(arena_, at, len);
      out += "\r\n";
    }
  }

 private:
  std::string arena_;
  std::vector<std::pair<std::size_t, std::size_t>> spans_;
  std::size_t start_ = 0;
};

}  // namespace hokm::sidecar
