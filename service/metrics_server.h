// metrics_server.h: a tiny HTTP server for /metrics (Prometheus text
// format), /health (JSON), /livez and /readyz, shared by hokm-engine and
// hokm-sidecar. It binds 127.0.0.1 unless told another address
// (--metrics-bind, e.g. 0.0.0.0 in a container).
//
// Status codes, read by orchestrators and load balancers:
//   /metrics  200 always (the page);
//   /health   200 with the JSON when the process can do its job, 503 with
//             the same JSON (its "reasons" say why) when it cannot;
//   /readyz   the same code as /health, with the same JSON;
//   /livez    200 "ok" while the process runs (its server thread answers).
//
// Thread safety: the server runs on its own thread and calls the handlers
// there; handlers must read only state that is safe to read concurrently
// (atomics, or snapshots taken under the owner's own lock).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "service/prom_text.h"

namespace hokm::service {

// What /health and /readyz answer: the JSON body, and whether the process
// can serve (200) or not (503).
struct Health {
  bool ok = true;
  std::string json;
};

// The checked value of --metrics-bind: "" if `address` is an IPv4 or IPv6
// address to listen on (0.0.0.0 and :: included), else why not.
std::string CheckBindAddress(const std::string& address);

class MetricsServer {
 public:
  using Handler = std::function<std::string()>;
  using HealthHandler = std::function<Health()>;

  // Binds address:port (0 picks a free port) and starts serving the paths
  // above; anything else answers 404. On failure returns nullptr and sets
  // *error. REQUIRES: CheckBindAddress(address) is "".
  static std::unique_ptr<MetricsServer> Start(const std::string& address, std::uint16_t port,
                                              Handler metrics, HealthHandler health,
                                              std::string* error);
  // 127.0.0.1, with a /health that is always 200.
  static std::unique_ptr<MetricsServer> Start(std::uint16_t port, Handler metrics, Handler health,
                                              std::string* error);

  ~MetricsServer();  // stops the thread; in-flight requests are dropped
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  std::uint16_t port() const;

  struct Impl;

 private:
  explicit MetricsServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace hokm::service
