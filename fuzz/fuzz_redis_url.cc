// fuzz_redis_url.cc: ParseRedisUrl over any string (HOKM_REDIS_URL and
// --redis-url come from whoever starts the sidecar).
//
// Invariants: failure sets a UrlError, success sets none; a parsed URL has a
// host and a port in 1..65535; its Redacted() form (what the logs show)
// parses again to the same host, port, user and db, with "***" for the
// password exactly when there is one.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz/fuzz_check.h"
#include "sidecar/url.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  hokm::sidecar::UrlError error = hokm::sidecar::UrlError::kEmpty;
  auto url = hokm::sidecar::ParseRedisUrl(text, &error);
  if (!url.ok()) {
    HOKM_FUZZ_CHECK(error != hokm::sidecar::UrlError::kNone, "a refused URL says why");
    HOKM_FUZZ_CHECK(!url.status().message().empty(), "a refused URL has a message");
    return 0;
  }
  HOKM_FUZZ_CHECK(error == hokm::sidecar::UrlError::kNone, "an accepted URL has no error");
  HOKM_FUZZ_CHECK(!url->host.empty() && url->port != 0 && url->db >= 0,
                  "host, port and db are set");
  HOKM_FUZZ_CHECK(!url->HostPort().empty(), "HostPort renders");

  const std::string redacted = url->Redacted();
  auto again = hokm::sidecar::ParseRedisUrl(redacted);
  HOKM_FUZZ_CHECK(again.ok(), "the redacted form parses");
  HOKM_FUZZ_CHECK(again->host == url->host && again->port == url->port && again->db == url->db &&
                      again->username == url->username,
                  "the redacted form names the same server, user and db");
  HOKM_FUZZ_CHECK(again->password == (url->password.empty() ? "" : "***"),
                  "the redacted form hides the password, and only it");
  HOKM_FUZZ_CHECK(again->Redacted() == redacted, "redaction is a fixed point");
  return 0;
}
