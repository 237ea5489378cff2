// prom_text.h: Prometheus text-format output (exposition format 0.0.4),
// built by the engine and the sidecar and served by
// service/metrics_server.h. Kept apart from the server so code that only
// renders metrics does not pull in Boost.Beast.
//
// The conventions both endpoints follow (checked by `promtool check
// metrics` in the tests): every family has # HELP and # TYPE, once, before
// its samples; base units (_seconds, _bytes); counters end in _total;
// summaries carry _sum and _count beside their quantiles, histograms their
// buckets, _sum and _count; values are printed at full precision (the
// shortest text that reads back to the same double).
//
// Thread safety: a PromText is one page being built; not shared.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>

namespace hokm::service {

class PromText {
 public:
  // "# HELP name help" and "# TYPE name kind" (kind: counter, gauge,
  // summary, histogram). Samples of the family follow with Sample().
  void Family(const char* name, const char* kind, const char* help);
  // One sample line: `name{labels} value` (labels without the braces, or
  // empty).
  void Sample(const char* name, double value, const std::string& labels = {});
  // A family of one sample.
  void Gauge(const char* name, double value, const char* help, const std::string& labels = {});
  void Counter(const char* name, double value, const char* help, const std::string& labels = {});

  // One labelled series of a summary (after Family(name, "summary", ...)):
  // name{labels,quantile="q"} for each (q, value), then name_sum and
  // name_count.
  struct Quantile {
    const char* q;  // "0.5", "0.99"...
    double value;
  };
  void SummarySeries(const char* name, std::span<const Quantile> quantiles, double sum,
                     std::uint64_t count, const std::string& labels = {});

  // hokm_build_info{version="...",commit="..."} 1 (service/build_info.h),
  // the family every hokm endpoint carries.
  void BuildInfo();

  std::string Take() { return std::move(text_); }

  // A sample value as Prometheus reads it: integers below 2^53 in plain
  // digits, others the shortest round-trip text (std::to_chars), NaN,
  // +Inf, -Inf.
  static std::string Number(double value);
  // `value` escaped for a label value (backslash, double quote, newline).
  static std::string LabelValue(std::string_view value);

 private:
  std::string text_;
};

}  // namespace hokm::service
