// pg_text.cc: PostgreSQL text formats for the PostgreSQL sink.
#include "sidecar/pg/pg_text.h"

#include <charconv>

#include "core/records/text.h"

namespace hokm::sidecar {
namespace {

// Writes v as exactly width digits, zero-padded.
void AppendPadded(std::uint32_t v, int width, std::string& out) {
  char buf[10];
  for (int k = width - 1; k >= 0; --k) {
    buf[k] = static_cast<char>('0' + v % 10);
    v /= 10;
  }
  out.append(buf, static_cast<std::size_t>(width));
}

}  // namespace

void AppendPgTimestamp(std::uint64_t ts_ns, std::string& out) {
  const std::uint64_t us = ts_ns / 1000;
  const std::uint64_t secs = us / 1'000'000;
  const auto days = static_cast<std::int64_t>(secs / 86'400);
  const auto sod = static_cast<std::uint32_t>(secs % 86'400);
  // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
  const std::int64_t z = days + 719'468;
  const std::int64_t era = (z >= 0 ? z : z - 146'096) / 146'097;
  const auto doe = static_cast<std::uint32_t>(z - era * 146'097);
  const std::uint32_t yoe = (doe - doe / 1460 + doe / 36'524 - doe / 146'096) / 365;
  const std::uint32_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const std::uint32_t mp = (5 * doy + 2) / 153;
  const std::uint32_t day = doy - (153 * mp + 2) / 5 + 1;
  const std::uint32_t month = mp < 10 ? mp + 3 : mp - 9;
  const auto year =
      static_cast<std::uint32_t>(static_cast<std::int64_t>(yoe) + era * 400 + (month <= 2 ? 1 : 0));
  AppendPadded(year, 4, out);
  out.push_back('-');
  AppendPadded(month, 2, out);
  out.push_back('-');
  AppendPadded(day, 2, out);
  out.push_back(' ');
  AppendPadded(sod / 3600, 2, out);
  out.push_back(':');
  AppendPadded(sod / 60 % 60, 2, out);
  out.push_back(':');
  AppendPadded(sod % 60, 2, out);
  out.push_back('.');
  AppendPadded(static_cast<std::uint32_t>(us % 1'000'000), 6, out);
  out.append("+00");
}

void AppendPgQuoted(std::string_view s, std::string& out) {
  out.push_back('\'');
  for (char c : s) {
    if (c == '\'') out.push_back('\'');
    out.push_back(c);
  }
  out.push_back('\'');
}

void AppendPgBytea(const std::uint8_t* bytes, std::size_t size, std::string& out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.append("'\\x");
  for (std::size_t k = 0; k < size; ++k) {
    out.push_back(kHex[bytes[k] >> 4]);
    out.push_back(kHex[bytes[k] & 15]);
  }
  out.append("'::bytea");
}

void AppendPgInt(std::uint64_t v, std::string& out) { core::AppendUint(v, out); }

void AppendCopyText(std::string_view s, std::string& out) {
  std::size_t plain = 0;  // s[plain, i) not yet appended
  for (std::size_t i = 0; i < s.size(); ++i) {
    char escaped;
    switch (s[i]) {
      case '\\':
        escaped = '\\';
        break;
      case '\t':
        escaped = 't';
        break;
      case '\n':
        escaped = 'n';
        break;
      case '\r':
        escaped = 'r';
        break;
      default:
        continue;
    }
    out.append(s.data() + plain, i - plain);
    out += '\\';
    out += escaped;
    plain = i + 1;
  }
  out.append(s.data() + plain, s.size() - plain);
}

}  // namespace hokm::sidecar
