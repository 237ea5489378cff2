// prom_text.cc: the Prometheus text-format lines; see prom_text.h.
#include "service/prom_text.h"

#include <charconv>
#include <cmath>

#include "service/build_info.h"

namespace hokm::service {

std::string PromText::Number(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char buffer[64];
  // Counters and sizes are integers: plain digits (awk and people read
  // them too) as long as a double holds them exactly.
  const bool integral = value == std::floor(value) && std::fabs(value) < 9007199254740992.0;
  const auto result =
      integral ? std::to_chars(buffer, buffer + sizeof buffer, value, std::chars_format::fixed)
               : std::to_chars(buffer, buffer + sizeof buffer, value);
  return std::string(buffer, result.ptr);
}

std::string PromText::LabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (const char c : value) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

void PromText::Family(const char* name, const char* kind, const char* help) {
  text_ += "# HELP ";
  text_ += name;
  text_ += ' ';
  // HELP text escapes backslash and newline only.
  for (const char* c = help; *c != '\0'; ++c) {
    if (*c == '\\') {
      text_ += "\\\\";
    } else if (*c == '\n') {
      text_ += "\\n";
    } else {
      text_ += *c;
    }
  }
  text_ += "\n# TYPE ";
  text_ += name;
  text_ += ' ';
  text_ += kind;
  text_ += '\n';
}

void PromText::Sample(const char* name, double value, const std::string& labels) {
  text_ += name;
  if (!labels.empty()) {
    text_ += '{';
    text_ += labels;
    text_ += '}';
  }
  text_ += ' ';
  text_ += Number(value);
  text_ += '\n';
}

void PromText::Gauge(const char* name, double value, const char* help, const std::string& labels) {
  Family(name, "gauge", help);
  Sample(name, value, labels);
}

void PromText::Counter(const char* name, double value, const char* help,
                       const std::string& labels) {
  Family(name, "counter", help);
  Sample(name, value, labels);
}

void PromText::SummarySeries(const char* name, std::span<const Quantile> quantiles, double sum,
                             std::uint64_t count, const std::string& labels) {
  const std::string prefix = labels.empty() ? std::string() : labels + ",";
  for (const Quantile& q : quantiles) {
    Sample(name, q.value, prefix + "quantile=\"" + q.q + "\"");
  }
  Sample((std::string(name) + "_sum").c_str(), sum, labels);
  Sample((std::string(name) + "_count").c_str(), static_cast<double>(count), labels);
}

void PromText::BuildInfo() {
  Gauge("hokm_build_info", 1,
        "which build answers: its version and the commit it was built from (always 1)",
        "version=\"" + LabelValue(Version()) + "\",commit=\"" + LabelValue(Commit()) + "\"");
}

}  // namespace hokm::service
