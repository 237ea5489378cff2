// metrics_server.h: a tiny loopback HTTP server for /metrics (Prometheus
// text format) and /health (JSON), shared by hokm-engine and hokm-sidecar.
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

class MetricsServer {
 public:
  using Handler = std::function<std::string()>;

  // Binds 127.0.0.1:port (0 picks a free port) and starts serving:
  //   GET /metrics -> metrics() as text/plain; version=0.0.4
  //   GET /health  -> health() as application/json
  // Anything else answers 404. On failure returns nullptr and sets *error.
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
