// text.h: the decimal and JSON-string text every writer of record text
// shares (the JSON forms, the public state, Redis arguments, COPY rows).
#pragma once

#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>

namespace hokm::core {

// Appends v in decimal (a JSON number, a RESP length, a COPY field).
inline void AppendUint(std::uint64_t v, std::string& out) {
  char buf[20];  // 2^64 - 1 has 20 digits
  const auto res = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, res.ptr);
}

// Appends s as a JSON string literal (quotes included); '"' and '\' are
// escaped, control characters become \u00XX, bytes >= 0x80 are copied (the
// caller passes UTF-8).
inline void AppendJsonString(std::string_view s, std::string& out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(ch);
    } else if (c < 0x20) {
      out.append("\\u00");
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    } else {
      out.push_back(ch);
    }
  }
  out.push_back('"');
}

}  // namespace hokm::core
