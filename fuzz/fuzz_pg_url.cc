// fuzz_pg_url.cc: ParsePgUrl over any string (HOKM_PG_URL / --pg-url), and
// the libpq connection string the sink builds from it, read back by libpq's
// own parser (PQconninfoParse).
//
// Invariants: failure sets a UrlError, success sets none; the Redacted()
// form parses again to the same server, user, database and parameters
// (passwords as "***"); libpq reads ConnInfo() back to exactly the host,
// port, dbname, user and password parsed, unless a ?k=v parameter set that
// keyword itself (it comes later and wins) or named a keyword libpq does not
// know (then libpq refuses, which the sink reports).
#include <libpq-fe.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <string_view>

#include "fuzz/fuzz_check.h"
#include "sidecar/url.h"

namespace {

bool KnownToLibpq(const std::string& keyword) {
  static const std::map<std::string, bool> known = [] {
    std::map<std::string, bool> m;
    PQconninfoOption* defaults = PQconndefaults();
    for (PQconninfoOption* o = defaults; o != nullptr && o->keyword != nullptr; ++o)
      m[o->keyword] = true;
    PQconninfoFree(defaults);
    return m;
  }();
  return known.count(keyword) != 0;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  hokm::sidecar::UrlError error = hokm::sidecar::UrlError::kEmpty;
  auto url = hokm::sidecar::ParsePgUrl(text, &error);
  if (!url.ok()) {
    HOKM_FUZZ_CHECK(error != hokm::sidecar::UrlError::kNone, "a refused URL says why");
    HOKM_FUZZ_CHECK(!url.status().message().empty(), "a refused URL has a message");
    return 0;
  }
  HOKM_FUZZ_CHECK(error == hokm::sidecar::UrlError::kNone, "an accepted URL has no error");
  HOKM_FUZZ_CHECK(
      !url->host.empty() && url->port != 0 && !url->user.empty() && !url->dbname.empty(),
      "host, port, user and database are set");

  const std::string redacted = url->Redacted();
  auto again = hokm::sidecar::ParsePgUrl(redacted);
  HOKM_FUZZ_CHECK(again.ok(), "the redacted form parses");
  HOKM_FUZZ_CHECK(again->host == url->host && again->port == url->port &&
                      again->user == url->user && again->dbname == url->dbname &&
                      again->params.size() == url->params.size(),
                  "the redacted form names the same server, user, database and parameters");
  HOKM_FUZZ_CHECK(again->password == (url->password.empty() ? "" : "***"),
                  "the redacted form hides the password, and only it");
  HOKM_FUZZ_CHECK(again->Redacted() == redacted, "redaction is a fixed point");

  const std::string conninfo = url->ConnInfo();
  bool all_known = true;
  for (const auto& [k, v] : url->params) all_known = all_known && KnownToLibpq(k);
  char* message = nullptr;
  PQconninfoOption* options = PQconninfoParse(conninfo.c_str(), &message);
  if (options == nullptr) {
    HOKM_FUZZ_CHECK(!all_known, "libpq reads back every connection string of known keywords");
    PQfreemem(message);
    return 0;
  }
  const std::map<std::string, std::string> expected = {{"host", url->host},
                                                       {"port", std::to_string(url->port)},
                                                       {"dbname", url->dbname},
                                                       {"user", url->user},
                                                       {"password", url->password}};
  for (PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
    const auto it = expected.find(o->keyword);
    if (it == expected.end() || url->params.count(o->keyword) != 0) continue;
    if (it->first == "password" && url->password.empty()) continue;
    if (o->val == nullptr || it->second != o->val) {
      std::fprintf(stderr, "libpq read %s='%s', the URL had '%s'\n", o->keyword,
                   o->val ? o->val : "(null)", it->second.c_str());
    }
    HOKM_FUZZ_CHECK(o->val != nullptr && it->second == o->val, "libpq reads back what was parsed");
  }
  PQconninfoFree(options);
  return 0;
}
