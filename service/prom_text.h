// prom_text.h: Prometheus text-format output, built by the engine and the
// sidecar and served by service/metrics_server.h. Kept apart from the server
// so code that only renders metrics does not pull in Boost.Beast.
#pragma once

#include <string>
#include <utility>

namespace hokm::service {

// Appends Prometheus text-format lines: "# TYPE name kind" once per call
// and "name{labels} value".
class PromText {
 public:
  void Gauge(const char* name, double value, const std::string& labels = {});
  void Counter(const char* name, double value, const std::string& labels = {});
  // Several samples of one metric under one TYPE line, e.g. per shard.
  void Type(const char* name, const char* kind);
  void Sample(const char* name, double value, const std::string& labels = {});
  std::string Take() { return std::move(text_); }

 private:
  std::string text_;
};

}  // namespace hokm::service
