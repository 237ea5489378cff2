// prom_text.cc: the Prometheus text-format lines; see prom_text.h.
#include "service/prom_text.h"

#include <cmath>
#include <cstdio>

namespace hokm::service {

namespace {
void AppendSample(std::string& text, const char* name, double value, const std::string& labels) {
  char number[64];
  if (std::isfinite(value) && value == std::floor(value) && std::fabs(value) < 1e15) {
    std::snprintf(number, sizeof number, "%.0f", value);
  } else {
    std::snprintf(number, sizeof number, "%.6g", value);
  }
  text += name;
  if (!labels.empty()) {
    text += '{';
    text += labels;
    text += '}';
  }
  text += ' ';
  text += number;
  text += '\n';
}
}  // namespace

void PromText::Type(const char* name, const char* kind) {
  text_ += "# TYPE ";
  text_ += name;
  text_ += ' ';
  text_ += kind;
  text_ += '\n';
}

void PromText::Sample(const char* name, double value, const std::string& labels) {
  AppendSample(text_, name, value, labels);
}

void PromText::Gauge(const char* name, double value, const std::string& labels) {
  Type(name, "gauge");
  Sample(name, value, labels);
}

void PromText::Counter(const char* name, double value, const std::string& labels) {
  Type(name, "counter");
  Sample(name, value, labels);
}

}  // namespace hokm::service
