// url.cc: parsing and redaction of the Redis and PostgreSQL URLs.
//
// Error messages name the part at fault but never echo a value: a password
// with an unencoded '/' or '@' can end up in any part, so no part is safe to
// print before parsing has succeeded.
#include "sidecar/url.h"

#include <charconv>
#include <optional>

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
    case UrlError::kMissingUser:
      return "missing user";
    case UrlError::kMissingDatabase:
      return "missing database";
    case UrlError::kBadQuery:
      return "bad query";
    case UrlError::kNulByte:
      return "NUL byte";
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
  return s + UrlHostPort(host, port) + "/" + std::to_string(db);
}

std::string RedisUrl::HostPort() const { return HostPortOf(host, port); }

std::string PgUrl::Redacted() const {
  std::string s = "postgresql://" + PercentEncode(user);
  if (!password.empty()) s += ":***";
  s += '@';
  s += UrlHostPort(host, port);
  s += '/';
  s += PercentEncode(dbname);
  char sep = '?';
  for (const auto& [k, v] : params) {
    s += sep;
    s += PercentEncode(k);
    s += '=';
    s += k == "password" ? std::string("***") : PercentEncode(v);
    sep = '&';
  }
  return s;
}

std::string PgUrl::HostPort() const { return HostPortOf(host, port); }

std::string PgUrl::ConnInfo() const {
  std::string s;
  AppendConnValue(s, "host", host);
  AppendConnValue(s, "port", std::to_string(port));
  AppendConnValue(s, "dbname", dbname);
  AppendConnValue(s, "user", user);
  if (!password.empty()) AppendConnValue(s, "password", password);
  for (const auto& [k, v] : params) AppendConnValue(s, k, v);
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
  // holding '/' still parses.
  const std::size_t at = rest.rfind('@');
  const std::size_t slash = rest.find('/', at == std::string_view::npos ? 0 : at);
  const std::string_view authority = rest.substr(0, slash);
  Authority a;
  if (auto f = ParseAuthority("redis", authority, &a)) return Fail(*f, error);
  RedisUrl out;
  out.host = std::move(a.host);
  out.port = a.port.value_or(6379);
  out.username = std::move(a.user);
  out.password = std::move(a.password);
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
  return out;
}

Result<PgUrl> ParsePgUrl(std::string_view url, UrlError* error) {
  if (error) *error = UrlError::kNone;
  if (url.empty()) return Fail({UrlError::kEmpty, "postgresql URL is empty"}, error);
  if (auto f = NulByte("postgresql", url)) return Fail(*f, error);
  std::string_view rest;
  for (std::string_view scheme :
       {std::string_view("postgresql://"), std::string_view("postgres://")}) {
    if (url.substr(0, scheme.size()) == scheme) {
      rest = url.substr(scheme.size());
      break;
    }
  }
  if (rest.data() == nullptr) {
    return Fail(
        {UrlError::kBadScheme, "postgresql URL must start with postgresql:// or postgres://"},
        error);
  }
  const std::size_t at = rest.rfind('@', rest.find('?'));
  const std::size_t slash = rest.find('/', at == std::string_view::npos ? 0 : at);
  const std::size_t query_mark = rest.find('?', at == std::string_view::npos ? 0 : at);
  const std::string_view authority = rest.substr(0, std::min(slash, query_mark));
  Authority a;
  if (auto f = ParseAuthority("postgresql", authority, &a)) return Fail(*f, error);
  if (a.user.empty())
    return Fail({UrlError::kMissingUser, "postgresql URL: no user (postgresql://user@host/db)"},
                error);
  PgUrl out;
  out.host = std::move(a.host);
  out.port = a.port.value_or(5432);
  out.user = std::move(a.user);
  out.password = std::move(a.password);
  if (slash == std::string_view::npos ||
      (query_mark != std::string_view::npos && query_mark < slash)) {
    return Fail(
        {UrlError::kMissingDatabase, "postgresql URL: no database (postgresql://user@host/db)"},
        error);
  }
  const std::string_view db =
      rest.substr(slash + 1, query_mark == std::string_view::npos ? std::string_view::npos
                                                                  : query_mark - slash - 1);
  if (db.empty()) {
    return Fail(
        {UrlError::kMissingDatabase, "postgresql URL: no database (postgresql://user@host/db)"},
        error);
  }
  if (!PercentDecode(db, &out.dbname)) {
    return Fail(
        {UrlError::kBadPercentEncoding, "postgresql URL: bad %-escape in the database name"},
        error);
  }
  if (query_mark != std::string_view::npos) {
    std::string_view query = rest.substr(query_mark + 1);
    while (!query.empty()) {
      const std::size_t amp = query.find('&');
      const std::string_view pair = query.substr(0, amp);
      query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
      if (pair.empty()) continue;
      const std::size_t eq = pair.find('=');
      if (eq == std::string_view::npos || eq == 0) {
        return Fail(
            {UrlError::kBadQuery, "postgresql URL: a ?key=value parameter lacks its key or '='"},
            error);
      }
      std::string key;
      std::string value;
      if (!PercentDecode(pair.substr(0, eq), &key) || !PercentDecode(pair.substr(eq + 1), &value)) {
        return Fail({UrlError::kBadPercentEncoding,
                     "postgresql URL: bad %-escape in a ?key=value parameter"},
                    error);
      }
      // A key goes into the connection string as a keyword: anything but a
      // plain word would be read by libpq as another keyword (" user",
      // "a='b' host") than the one the sink checks for.
      for (char c : key) {
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_')) {
          return Fail({UrlError::kBadQuery,
                       "postgresql URL: a ?key=value key holds a character other than letters, "
                       "digits and '_'"},
                      error);
        }
      }
      out.params[std::move(key)] = std::move(value);
    }
  }
  return out;
}

}  // namespace hokm::sidecar
