// fuzz_pg_url.cc: ParsePgUrl over any string (HOKM_PG_URL / DATABASE_URL /
// --pg-url): a URL or a key=value string, checked by libpq's own parser
// (PQconninfoParse), and the two strings made from it: Redacted() for logs
// and ConnInfo() for libpq.
//
// Invariants: failure sets a UrlError and a message, success sets none; the Redacted() form
// parses again to the same keywords and values, the password (when set) as
// "***", and is a fixed point; libpq reads ConnInfo() back to exactly the
// keywords and values parsed.
#include <libpq-fe.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <map>
#include <string>
#include <string_view>

#include "fuzz/fuzz_check.h"
#include "sidecar/url.h"

namespace {

// What libpq reads s as; false when it refuses.
bool LibpqReads(const std::string& s, std::map<std::string, std::string>* out) {
  char* message = nullptr;
  PQconninfoOption* options = PQconninfoParse(s.c_str(), &message);
  PQfreemem(message);
  if (options == nullptr) return false;
  for (PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
    if (o->val != nullptr) (*out)[o->keyword] = o->val;
  }
  PQconninfoFree(options);
  return true;
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

  const std::string redacted = url->Redacted();
  auto again = hokm::sidecar::ParsePgUrl(redacted);
  if (!again.ok()) std::fprintf(stderr, "redacted: %s\n", redacted.c_str());
  HOKM_FUZZ_CHECK(again.ok(), "the redacted form parses");
  std::map<std::string, std::string> expected = url->params;
  if (expected.count("password") != 0) expected["password"] = "***";
  HOKM_FUZZ_CHECK(again->params == expected,
                  "the redacted form has the same keywords and values, the password as ***");
  HOKM_FUZZ_CHECK(again->Redacted() == redacted, "redaction is a fixed point");

  std::map<std::string, std::string> read;
  HOKM_FUZZ_CHECK(LibpqReads(url->ConnInfo(), &read), "libpq reads the connection string back");
  HOKM_FUZZ_CHECK(read == url->params, "libpq reads back exactly what was parsed");
  return 0;
}
