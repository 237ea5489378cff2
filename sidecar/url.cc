// url.cc: parsing and redaction of the Redis URL, checking (by libpq) and
// redaction of PostgreSQL connection strings.
//
// Error messages name the part at fault but never echo a value: a password
// with an unencoded '/' or '@' can end up in any part, so no part is safe to
// print before parsing has succeeded. That is why libpq's own messages,
// which quote the string they refuse, are not passed on but classified.
#include "sidecar/url.h"

#include <libpq-fe.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <memory>
#include <optional>
#include <vector>

namespace hokm::sidecar {
namespace {

struct Authority {
  std::string user;
  std::string password;
  bool has_password = false;
  std::string host;
  std::optional<std::uint16_t> port;
};

struct Failure {
  UrlError code;
  std::string message;
};

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Percent-decodes s into *out; false on a malformed escape.
bool PercentDecode(std::string_view s, std::string* out) {
  out->clear();
  out->reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out->push_back(s[i]);
      continue;
    }
    if (i + 2 >= s.size()) return false;
    const int hi = HexValue(s[i + 1]);
    const int lo = HexValue(s[i + 2]);
    if (hi < 0 || lo < 0) return false;
    out->push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return true;
}

bool IsHostChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '-' || c == '_' || c == '%';
}

bool IsIpv6Char(char c) { return HexValue(c) >= 0 || c == ':' || c == '.' || c == '%'; }

std::optional<Failure> ParseAuthority(std::string_view kind, std::string_view authority,
                                      Authority* out) {
  const std::size_t at = authority.rfind('@');
  if (at != std::string_view::npos) {
    const std::string_view userinfo = authority.substr(0, at);
    authority.remove_prefix(at + 1);
    const std::size_t colon = userinfo.find(':');
    const std::string_view user = userinfo.substr(0, colon);
    if (!PercentDecode(user, &out->user)) {
      return Failure{UrlError::kBadPercentEncoding,
                     std::string(kind) + " URL: bad %-escape in the user name"};
    }
    if (colon != std::string_view::npos) {
      out->has_password = true;
      if (!PercentDecode(userinfo.substr(colon + 1), &out->password)) {
        return Failure{UrlError::kBadPercentEncoding,
                       std::string(kind) + " URL: bad %-escape in the password"};
      }
    }
  }
  std::string_view host;
  std::string_view port;
  bool has_port = false;
  const bool ipv6 = !authority.empty() && authority.front() == '[';
  if (ipv6) {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      return Failure{UrlError::kBadHost,
                     std::string(kind) + " URL: '[' of an IPv6 host is not closed"};
    }
    host = authority.substr(1, close - 1);
    for (char c : host) {
      if (!IsIpv6Char(c))
        return Failure{UrlError::kBadHost, std::string(kind) + " URL: bad IPv6 host"};
    }
    std::string_view rest = authority.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':')
        return Failure{UrlError::kBadHost, std::string(kind) + " URL: junk after ']'"};
      port = rest.substr(1);
      has_port = true;
    }
  } else {
    const std::size_t colon = authority.find(':');
    host = authority.substr(0, colon);
    if (colon != std::string_view::npos) {
      port = authority.substr(colon + 1);
      has_port = true;
    }
    for (char c : host) {
      if (!IsHostChar(c))
        return Failure{UrlError::kBadHost,
                       std::string(kind) + " URL: host has a character a host name cannot hold"};
    }
  }
  if (host.empty()) return Failure{UrlError::kMissingHost, std::string(kind) + " URL: no host"};
  if (!PercentDecode(host, &out->host)) {
    return Failure{UrlError::kBadPercentEncoding,
                   std::string(kind) + " URL: bad %-escape in the host"};
  }
  // An IPv6 address has a ':' (else "[%25]" would be a host "%").
  if (ipv6 && out->host.find(':') == std::string::npos) {
    return Failure{UrlError::kBadHost, std::string(kind) + " URL: bad IPv6 host"};
  }
  // An escape must not bring in what the raw check refused ('@', '/', ':'
  // in a name...): the host would name another server than it seems to.
  for (char c : out->host) {
    if (ipv6 ? !IsIpv6Char(c) : !IsHostChar(c) || c == '%') {
      return Failure{UrlError::kBadHost, std::string(kind) +
                                             " URL: a %-escape in the host decodes to a character "
                                             "a host name cannot hold"};
    }
  }
  if (has_port) {
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (port.empty() || ec != std::errc() || end != port.data() + port.size() || value == 0 ||
        value > 65535) {
      return Failure{UrlError::kBadPort,
                     std::string(kind) + " URL: port is not a number in 1..65535"};
    }
    out->port = static_cast<std::uint16_t>(value);
  }
  return std::nullopt;
}

// s with every byte but RFC 3986's unreserved ones as %XX: a user name,
// database or parameter that reads back the same from a rendered URL.
std::string PercentEncode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : s) {
    const auto b = static_cast<unsigned char>(c);
    if ((b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9') || b == '-' ||
        b == '.' || b == '_' || b == '~') {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[b >> 4]);
      out.push_back(kHex[b & 15]);
    }
  }
  return out;
}

std::string HostPortOf(const std::string& host, std::uint16_t port) {
  const bool ipv6 = host.find(':') != std::string::npos;
  return (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

Status Fail(const Failure& f, UrlError* error) {
  if (error) *error = f.code;
  return Status::InvalidArgument(f.message);
}

// libpq keyword/value quoting: single quotes, with ' and \ escaped.
void AppendConnValue(std::string& out, std::string_view key, std::string_view value) {
  if (!out.empty()) out.push_back(' ');
  out.append(key);
  out.append("='");
  for (char c : value) {
    if (c == '\'' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('\'');
}

// host:port as written in a URL: an IPv6 zone's '%' becomes %25.
std::string UrlHostPort(const std::string& host, std::uint16_t port) {
  std::string escaped;
  for (char c : host) {
    if (c == '%') {
      escaped += "%25";
    } else {
      escaped.push_back(c);
    }
  }
  return HostPortOf(escaped, port);
}

// A NUL anywhere in the URL, raw or as %00 (which is never anything else:
// a '%' starts an escape), is refused before any part is looked at.
std::optional<Failure> NulByte(std::string_view kind, std::string_view url) {
  if (url.find('\0') == std::string_view::npos && url.find("%00") == std::string_view::npos) {
    return std::nullopt;
  }
  return Failure{UrlError::kNulByte, std::string(kind) + " URL holds a NUL byte (raw or %00)"};
}

}  // namespace

const char* UrlErrorName(UrlError e) {
  switch (e) {
    case UrlError::kNone:
      return "none";
    case UrlError::kEmpty:
      return "empty";
    case UrlError::kBadScheme:
      return "bad scheme";
    case UrlError::kBadPercentEncoding:
      return "bad percent-encoding";
    case UrlError::kMissingHost:
      return "missing host";
    case UrlError::kBadHost:
      return "bad host";
    case UrlError::kBadPort:
      return "bad port";
    case UrlError::kBadDatabase:
      return "bad database";
    case UrlError::kBadQuery:
      return "bad query";
    case UrlError::kNulByte:
      return "NUL byte";
    case UrlError::kBadSyntax:
      return "bad syntax";
    case UrlError::kUnknownOption:
      return "unknown option";
  }
  return "unknown";
}

std::string RedisUrl::Redacted() const {
  std::string s = "redis://";
  if (!password.empty() || !username.empty()) {
    s += PercentEncode(username);
    if (!password.empty()) s += ":***";
    s += "@";
  }
  return s + Seeds() + "/" + std::to_string(db);
}

std::string RedisUrl::HostPort() const { return HostPortOf(host, port); }

std::string RedisUrl::Seeds() const {
  std::string s = UrlHostPort(host, port);
  for (const Seed& seed : more_seeds) s += "," + UrlHostPort(seed.host, seed.port);
  return s;
}

Result<RedisUrl> ParseRedisUrl(std::string_view url, UrlError* error) {
  if (error) *error = UrlError::kNone;
  if (url.empty()) return Fail({UrlError::kEmpty, "redis URL is empty"}, error);
  if (auto f = NulByte("redis", url)) return Fail(*f, error);
  constexpr std::string_view kScheme = "redis://";
  if (url.substr(0, kScheme.size()) != kScheme) {
    return Fail({UrlError::kBadScheme,
                 "redis URL must start with redis:// (TLS, rediss://, is not supported)"},
                error);
  }
  std::string_view rest = url.substr(kScheme.size());
  // The authority ends at the first '/' after the last '@', so a password
  // holding '/' still parses. After the user info: host[:port] seeds
  // separated by ','.
  const std::size_t at = rest.rfind('@');
  const std::size_t slash = rest.find('/', at == std::string_view::npos ? 0 : at);
  const std::string_view authority = rest.substr(0, slash);
  const std::size_t hosts_at = at == std::string_view::npos ? 0 : at + 1;
  const std::size_t comma = authority.find(',', hosts_at);
  Authority a;
  if (auto f = ParseAuthority("redis", authority.substr(0, comma), &a)) return Fail(*f, error);
  RedisUrl out;
  out.host = std::move(a.host);
  out.port = a.port.value_or(6379);
  out.username = std::move(a.user);
  out.password = std::move(a.password);
  for (std::size_t from = comma; from != std::string_view::npos;) {
    const std::size_t next = authority.find(',', from + 1);
    const std::string_view seed = authority.substr(
        from + 1, next == std::string_view::npos ? std::string_view::npos : next - from - 1);
    Authority s;
    if (auto f = ParseAuthority("redis", seed, &s)) return Fail(*f, error);
    out.more_seeds.push_back({std::move(s.host), s.port.value_or(6379)});
    from = next;
  }
  out.cluster = !out.more_seeds.empty();
  if (slash != std::string_view::npos) {
    const std::string_view db = rest.substr(slash + 1);
    if (!db.empty()) {
      int value = 0;
      const auto [end, ec] = std::from_chars(db.data(), db.data() + db.size(), value);
      if (ec != std::errc() || end != db.data() + db.size() || value < 0) {
        return Fail(
            {UrlError::kBadDatabase, "redis URL: database (/db) is not a number in 0..2147483647"},
            error);
      }
      out.db = value;
    }
  }
  if (out.cluster && out.db != 0) {
    return Fail(
        {UrlError::kBadDatabase, "redis URL: a cluster (several seeds) has only database 0"},
        error);
  }
  return out;
}

namespace {

// libpq's keywords (PQconndefaults), for the "did you mean" of an unknown one.
const std::vector<std::string>& LibpqKeywords() {
  static const std::vector<std::string> keywords = [] {
    std::vector<std::string> out;
    PQconninfoOption* defaults = PQconndefaults();
    for (PQconninfoOption* o = defaults; o != nullptr && o->keyword != nullptr; ++o) {
      out.emplace_back(o->keyword);
    }
    PQconninfoFree(defaults);
    return out;
  }();
  return keywords;
}

std::size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

// The known keyword the unknown one quoted in libpq's message is a typo of
// (at most 2 edits away), "" when none. Only a known keyword is ever
// printed: the unknown one may be a piece of a password.
std::string NearestKeyword(std::string_view libpq_message) {
  const std::size_t open = libpq_message.find('"');
  const std::size_t close = libpq_message.rfind('"');
  if (open == std::string_view::npos || close <= open + 1) return "";
  const std::string_view token = libpq_message.substr(open + 1, close - open - 1);
  if (token.size() < 3 || token.size() > 64) return "";
  std::string best;
  std::size_t best_distance = 3;
  for (const std::string& k : LibpqKeywords()) {
    const std::size_t d = EditDistance(token, k);
    if (d < best_distance) {
      best_distance = d;
      best = k;
    }
  }
  return best;
}

// libpq's message for a string it refused, turned into ours: its messages
// quote the string, password and all, so they are classified, never
// passed on (libpq's C locale wording; another gives kBadSyntax).
Failure ClassifyLibpqRefusal(std::string_view libpq_message) {
  const auto has = [&](std::string_view what) {
    return libpq_message.find(what) != std::string_view::npos;
  };
  if (has("invalid connection option") || has("invalid URI query parameter")) {
    std::string text =
        "postgresql URL: a keyword or ?parameter libpq does not know (see \"Parameter Key "
        "Words\" in libpq's documentation)";
    if (const std::string k = NearestKeyword(libpq_message); !k.empty()) {
      text += "; did you mean " + k + "?";
    }
    return {UrlError::kUnknownOption, text};
  }
  if (has("forbidden value %00")) {
    return {UrlError::kNulByte, "postgresql URL holds a NUL byte (%00)"};
  }
  if (has("percent-encoded token")) {
    return {UrlError::kBadPercentEncoding,
            "postgresql URL: a '%' not followed by two hex digits (write '%' as %25)"};
  }
  if (has("key/value separator")) {
    return {UrlError::kBadQuery,
            "postgresql URL: a ?parameter lacks its '=' or has two (write '=' and '&' in values "
            "as %3D and %26)"};
  }
  if (has("IPv6 host")) {
    return {UrlError::kBadHost,
            "postgresql URL: an IPv6 host's '[' is not closed, or the brackets are empty"};
  }
  if (has("unexpected character")) {
    std::string text = "postgresql URL: an unexpected character after a host";
    if (const std::size_t at = libpq_message.find("at position "); at != std::string_view::npos) {
      const std::string_view rest = libpq_message.substr(at + 12);
      text += " at position " + std::string(rest.substr(0, rest.find_first_not_of("0123456789")));
    }
    return {UrlError::kBadSyntax, text + " (expected ':', '/', '?' or ',')"};
  }
  if (has("unterminated quoted string")) {
    return {UrlError::kBadSyntax, "postgresql connection string: a quoted value is not closed"};
  }
  if (has("missing \"=\"")) {
    return {UrlError::kBadSyntax,
            "postgresql connection string: a word without '=' (keyword=value pairs expected; a URL "
            "starts with postgresql://; quote a value holding spaces: password='a b')"};
  }
  return {UrlError::kBadSyntax, "postgresql connection string: libpq cannot read it"};
}

// Every comma-separated port libpq read is empty (its default) or 1..65535;
// libpq itself checks only when connecting.
bool PortsValid(std::string_view ports) {
  while (true) {
    const std::size_t comma = ports.find(',');
    const std::string_view port = ports.substr(0, comma);
    if (!port.empty()) {
      unsigned value = 0;
      const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
      if (ec != std::errc() || end != port.data() + port.size() || value == 0 || value > 65535) {
        return false;
      }
    }
    if (comma == std::string_view::npos) return true;
    ports.remove_prefix(comma + 1);
  }
}

bool IsPlainPgHost(const std::string& host) {
  return !host.empty() &&
         std::all_of(host.begin(), host.end(), [](char c) { return IsHostChar(c) && c != '%'; });
}

bool IsPlainIpv6Host(const std::string& host) {
  return host.find(':') != std::string::npos && std::all_of(host.begin(), host.end(), [](char c) {
           return HexValue(c) >= 0 || c == ':' || c == '.';
         });
}

bool IsPlainPort(const std::string& port) {
  return !port.empty() &&
         std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::string FirstEnv(const char* preferred, const char* fallback) {
  for (const char* name : {preferred, fallback}) {
    const char* v = std::getenv(name);
    if (v != nullptr && *v != '\0') return v;
  }
  return "";
}

}  // namespace

const std::string& PgUrl::Get(const std::string& keyword) const {
  static const std::string kUnset;
  const auto it = params.find(keyword);
  return it == params.end() ? kUnset : it->second;
}

std::string PgUrl::Redacted() const {
  std::map<std::string, std::string> query = params;  // what the authority and path do not hold
  std::string s = "postgresql://";
  if (!user().empty()) {
    s += PercentEncode(user());
    query.erase("user");
    if (params.count("password") != 0) {
      s += ":***";
      query.erase("password");
    }
    s += '@';
  }
  const std::string& h = host();
  if (IsPlainPgHost(h) || IsPlainIpv6Host(h)) {
    s += IsPlainIpv6Host(h) ? "[" + h + "]" : h;
    query.erase("host");
    if (const std::string& port = Get("port"); IsPlainPort(port)) {
      s += ":" + port;
      query.erase("port");
    }
  }
  s += '/';
  if (!dbname().empty()) {
    s += PercentEncode(dbname());
    query.erase("dbname");
  }
  char sep = '?';
  for (const auto& [k, v] : query) {
    s += sep;
    s += PercentEncode(k);
    s += '=';
    s += k == "password" ? std::string("***") : PercentEncode(v);
    sep = '&';
  }
  return s;
}

std::string PgUrl::HostPort() const {
  std::string h = host().empty() ? Get("hostaddr") : host();
  if (h.empty()) {
    h = "local socket";
  } else if (h.find(':') != std::string::npos && h.find(',') == std::string::npos) {
    h = "[" + h + "]";
  }
  const std::string& port = Get("port");
  return h + ":" + (port.empty() ? std::string("5432") : port);
}

std::string PgUrl::ConnInfo() const {
  std::string s;
  for (const auto& [k, v] : params) AppendConnValue(s, k, v);
  return s;
}

Result<PgUrl> ParsePgUrl(std::string_view url, UrlError* error) {
  if (error) *error = UrlError::kNone;
  if (url.empty()) return Fail({UrlError::kEmpty, "postgresql URL is empty"}, error);
  if (url.find('\0') != std::string_view::npos) {
    return Fail({UrlError::kNulByte, "postgresql URL holds a NUL byte"}, error);
  }
  const bool is_url = url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0;
  const std::size_t scheme_end = url.find("://");
  if (!is_url && scheme_end != std::string_view::npos && scheme_end < url.find('=')) {
    return Fail({UrlError::kBadScheme,
                 "postgresql URL must start with postgresql:// or postgres:// (or be a libpq "
                 "keyword=value string)"},
                error);
  }
  const std::string text(url);
  char* message = nullptr;
  const std::unique_ptr<PQconninfoOption, void (*)(PQconninfoOption*)> options(
      PQconninfoParse(text.c_str(), &message), &PQconninfoFree);
  if (!options) {
    const std::string why = message != nullptr ? message : "out of memory";
    PQfreemem(message);
    return Fail(ClassifyLibpqRefusal(why), error);
  }
  PgUrl out;
  for (const PQconninfoOption* o = options.get(); o->keyword != nullptr; ++o) {
    if (o->val != nullptr) out.params[o->keyword] = o->val;
  }
  if (!PortsValid(out.Get("port"))) {
    return Fail({UrlError::kBadPort, "postgresql URL: a port is not a number in 1..65535"}, error);
  }
  return out;
}

std::string RedisUrlFromEnv() { return FirstEnv("HOKM_REDIS_URL", "REDIS_URL"); }
std::string PgUrlFromEnv() { return FirstEnv("HOKM_PG_URL", "DATABASE_URL"); }

}  // namespace hokm::sidecar
