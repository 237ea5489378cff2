// sidecar_probe.cc: a small HTTP/1.0 GET (Boost.Beast) and the parsers of
// the sidecar's /metrics and /health (see sidecar_probe.h).
#include "loadgen/verify/sidecar_probe.h"

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>

namespace hokm::loadgen {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

// The value of label `name` in a Prometheus label set `{a="x",b="y"}`.
std::string Label(std::string_view labels, std::string_view name) {
  const std::string key = std::string(name) + "=\"";
  const std::size_t at = labels.find(key);
  if (at == std::string_view::npos) return "";
  const std::size_t start = at + key.size();
  const std::size_t end = labels.find('"', start);
  return end == std::string_view::npos ? "" : std::string(labels.substr(start, end - start));
}

// Calls fn(line) for each line of a Prometheus text page that starts with
// `prefix` (the prefix included).
template <typename Fn>
void ForEachSample(std::string_view text, std::string_view prefix, Fn&& fn) {
  std::size_t at = 0;
  while (at < text.size()) {
    std::size_t end = text.find('\n', at);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line = text.substr(at, end - at);
    at = end + 1;
    if (line.substr(0, prefix.size()) == prefix) fn(line);
  }
}

}  // namespace

Result<HttpUrl> ParseHttpUrl(std::string_view url) {
  constexpr std::string_view kScheme = "http://";
  if (url.substr(0, kScheme.size()) != kScheme) {
    return Status::InvalidArgument(std::string("'") + std::string(url) + "' is not an http:// URL");
  }
  url.remove_prefix(kScheme.size());
  HttpUrl out;
  const std::size_t slash = url.find('/');
  std::string_view authority = url.substr(0, slash);
  out.path = slash == std::string_view::npos ? "/" : std::string(url.substr(slash));
  const std::size_t colon = authority.rfind(':');
  if (colon != std::string_view::npos) {
    const std::string port(authority.substr(colon + 1));
    char* end = nullptr;
    const long p = std::strtol(port.c_str(), &end, 10);
    if (port.empty() || *end != '\0' || p < 1 || p > 65535) {
      return Status::InvalidArgument("bad port in http URL: '" + port + "'");
    }
    out.port = static_cast<std::uint16_t>(p);
    authority = authority.substr(0, colon);
  }
  if (authority.empty()) return Status::InvalidArgument("http URL without a host");
  out.host = std::string(authority);
  return out;
}

HttpUrl HealthUrlOf(HttpUrl url) {
  const std::size_t slash = url.path.rfind('/');
  url.path = (slash == std::string::npos ? std::string() : url.path.substr(0, slash)) + "/health";
  return url;
}

Result<std::string> HttpGet(const HttpUrl& url, std::chrono::milliseconds timeout,
                            bool accept_unavailable) {
  const std::string port = std::to_string(url.port);
  const std::string where = url.host + ":" + port + url.path;
  asio::io_context io;
  beast::error_code ec;
  const auto endpoints = asio::ip::tcp::resolver(io).resolve(url.host, port, ec);
  if (ec) return Status::Unavailable(url.host + ": " + ec.message());

  // One deadline for the whole exchange: connect, send, and read until the
  // server closes (HTTP/1.0).
  beast::tcp_stream stream(io);
  stream.expires_after(timeout);
  http::request<http::empty_body> request{http::verb::get, url.path, 10};
  request.set(http::field::host, url.host);
  beast::flat_buffer buffer;
  http::response<http::string_body> response;
  bool connected = false;
  bool answered = false;
  stream.async_connect(endpoints, [&](beast::error_code connect_error,
                                      const asio::ip::tcp::endpoint&) {
    if (connect_error) return;
    connected = true;
    http::async_write(stream, request, [&](beast::error_code write_error, std::size_t) {
      if (write_error) return;
      http::async_read(stream, buffer, response,
                       [&](beast::error_code read_error, std::size_t) { answered = !read_error; });
    });
  });
  io.run();
  stream.socket().close(ec);
  if (!connected) return Status::Unavailable("cannot connect to " + where);
  if (!answered) return Status::Unavailable("no complete answer from " + where);
  const bool unavailable_ok =
      accept_unavailable && response.result() == http::status::service_unavailable;
  if (response.result() != http::status::ok && !unavailable_ok) {
    return Status::Unavailable(where + " answered HTTP/" + std::to_string(response.version() / 10) +
                               "." + std::to_string(response.version() % 10) + " " +
                               std::to_string(response.result_int()) + " " +
                               std::string(response.reason()));
  }
  return std::move(response.body());
}

Result<SyncLag> ParseSyncLag(std::string_view text) {
  constexpr std::string_view kName = "hokm_sidecar_sync_lag_quantiles_seconds";
  // sink -> quantile -> value
  std::map<std::string, std::map<std::string, double>> quantiles;
  std::map<std::string, double> max;
  ForEachSample(text, kName, [&](std::string_view line) {
    const std::string_view rest = line.substr(kName.size());
    const bool is_max = rest.substr(0, 4) == "_max";
    if (!is_max && (rest.empty() || rest[0] != '{')) return;
    const std::size_t open = rest.find('{');
    const std::size_t close = rest.find('}');
    if (open == std::string_view::npos || close == std::string_view::npos || close < open) return;
    const std::string_view labels = rest.substr(open, close - open + 1);
    const double value = 1000.0 * std::strtod(std::string(rest.substr(close + 1)).c_str(), nullptr);
    const std::string sink = Label(labels, "sink");
    if (is_max) {
      max[sink] = value;
    } else if (const std::string q = Label(labels, "quantile"); !q.empty()) {
      quantiles[sink][q] = value;
    }
  });
  if (quantiles.empty())
    return Status::InvalidArgument(
        "no hokm_sidecar_sync_lag_quantiles_seconds samples on the page");
  SyncLag lag;
  const auto fill = [&](const std::string& sink, LagQuantiles& out) {
    const auto& q = quantiles[sink];
    const auto get = [&](const char* k) {
      const auto it = q.find(k);
      return it == q.end() ? 0.0 : it->second;
    };
    out.p50 = get("0.5");
    out.p99 = get("0.99");
    if (max.count(sink) != 0) {
      out.max = max[sink];
    } else if (q.count("1") != 0) {
      out.max = get("1");
    } else {
      out.max = get("0.999");
    }
  };
  fill("redis", lag.redis);
  fill("postgres", lag.postgres);
  return lag;
}

Result<SyncLagHistograms> ParseSyncLagHistograms(std::string_view text) {
  constexpr std::string_view kName = "hokm_sidecar_sync_lag_seconds_bucket{";
  SyncLagHistograms out;
  ForEachSample(text, kName, [&](std::string_view line) {
    const std::size_t close = line.find('}');
    if (close == std::string_view::npos) return;
    const std::string_view labels = line.substr(kName.size() - 1, close - kName.size() + 2);
    const std::string le = Label(labels, "le");
    const std::string sink = Label(labels, "sink");
    LagHistogram* h = sink == "redis" ? &out.redis : sink == "postgres" ? &out.postgres : nullptr;
    if (h == nullptr || le.empty()) return;
    const double bound = le == "+Inf" ? std::numeric_limits<double>::infinity()
                                      : 1000.0 * std::strtod(le.c_str(), nullptr);
    const double count = std::strtod(std::string(line.substr(close + 1)).c_str(), nullptr);
    h->buckets.emplace_back(bound, static_cast<std::uint64_t>(count));
  });
  if (out.redis.buckets.empty() || out.postgres.buckets.empty()) {
    return Status::InvalidArgument(
        "no hokm_sidecar_sync_lag_seconds buckets for both sinks on the page");
  }
  return out;
}

Result<LagQuantiles> WindowQuantiles(const LagHistogram& before, const LagHistogram& after) {
  const auto& a = after.buckets;
  const auto& b = before.buckets;
  if (!b.empty() && b.size() != a.size())
    return Status::InvalidArgument("the two scrapes have different buckets");
  std::vector<std::uint64_t> delta(a.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    const std::uint64_t was = b.empty() ? 0 : b[i].second;
    if (!b.empty() && b[i].first != a[i].first)
      return Status::InvalidArgument("the two scrapes have different buckets");
    if (a[i].second < was)
      return Status::InvalidArgument("a bucket count went down: the sidecar restarted");
    delta[i] = a[i].second - was;
  }
  LagQuantiles q;
  if (a.empty() || delta.back() == 0) return q;
  const std::uint64_t n = delta.back();  // le="+Inf": every sample
  // The bound reported for bucket i: +Inf reports the highest finite bound.
  const auto bound = [&](std::size_t i) {
    if (std::isfinite(a[i].first) || i == 0) return a[i].first;
    return a[i - 1].first;
  };
  const auto quantile = [&](double p) {
    const auto rank = std::max<std::uint64_t>(
        1, static_cast<std::uint64_t>(std::ceil(p * static_cast<double>(n))));
    for (std::size_t i = 0; i < a.size(); ++i) {
      if (delta[i] >= rank) return bound(i);
    }
    return bound(a.size() - 1);
  };
  q.p50 = quantile(0.5);
  q.p99 = quantile(0.99);
  q.max = quantile(1.0);
  return q;
}

Result<SyncLag> WindowSyncLag(const SyncLagHistograms& before, const SyncLagHistograms& after) {
  auto redis = WindowQuantiles(before.redis, after.redis);
  if (!redis.ok()) return redis.status();
  auto postgres = WindowQuantiles(before.postgres, after.postgres);
  if (!postgres.ok()) return postgres.status();
  return SyncLag{*redis, *postgres};
}

Result<SidecarHealth> ParseSidecarHealth(std::string_view json) {
  try {
    const nlohmann::json j = nlohmann::json::parse(json);
    SidecarHealth h;
    h.lag_records = j.at("lag_records").get<std::uint64_t>();
    h.redis_spill_records = j.at("redis").at("spill_records").get<std::uint64_t>();
    h.postgres_spill_records = j.at("postgres").at("spill_records").get<std::uint64_t>();
    h.engine_attached = j.value("engine_attached", false);
    return h;
  } catch (const std::exception& e) {
    return Status::InvalidArgument(std::string("sidecar /health is not the expected JSON: ") +
                                   e.what());
  }
}

}  // namespace hokm::loadgen
