// sidecar_probe.cc: a minimal HTTP/1.0 GET over a blocking socket and the
// parsers of the sidecar's /metrics and /health (see sidecar_probe.h).
#include "loadgen/verify/sidecar_probe.h"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>

namespace hokm::loadgen {
namespace {

std::uint64_t NowMs() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::steady_clock::now().time_since_epoch())
                                        .count());
}

// Waits for fd to be ready for `events` until deadline_ms; false on timeout.
bool WaitFd(int fd, short events, std::uint64_t deadline_ms) {
  for (;;) {
    const std::uint64_t now = NowMs();
    if (now >= deadline_ms) return false;
    pollfd p{fd, events, 0};
    const int r = ::poll(&p, 1, static_cast<int>(deadline_ms - now));
    if (r > 0) return true;
    if (r == 0) return false;
    if (errno != EINTR) return false;
  }
}

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

Result<std::string> HttpGet(const HttpUrl& url, std::chrono::milliseconds timeout) {
  const std::uint64_t deadline = NowMs() + static_cast<std::uint64_t>(timeout.count());
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* addresses = nullptr;
  const std::string port = std::to_string(url.port);
  if (const int rc = ::getaddrinfo(url.host.c_str(), port.c_str(), &hints, &addresses); rc != 0) {
    return Status::Unavailable(url.host + ": " + gai_strerror(rc));
  }
  const std::string where = url.host + ":" + port + url.path;
  int fd = -1;
  for (addrinfo* a = addresses; a != nullptr && fd < 0; a = a->ai_next) {
    fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    if (::connect(fd, a->ai_addr, a->ai_addrlen) != 0 && errno != EINPROGRESS) {
      ::close(fd);
      fd = -1;
      continue;
    }
    int err = 0;
    socklen_t len = sizeof err;
    if (!WaitFd(fd, POLLOUT, deadline) || ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
      ::close(fd);
      fd = -1;
    }
  }
  ::freeaddrinfo(addresses);
  if (fd < 0) return Status::Unavailable("cannot connect to " + where);

  const std::string request = "GET " + url.path + " HTTP/1.0\r\nHost: " + url.host + "\r\n\r\n";
  std::size_t sent = 0;
  while (sent < request.size()) {
    if (!WaitFd(fd, POLLOUT, deadline)) break;
    const ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<std::size_t>(n);
  }
  std::string response;
  if (sent == request.size()) {
    char buffer[16384];
    while (WaitFd(fd, POLLIN, deadline)) {
      const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
      if (n <= 0) break;
      response.append(buffer, static_cast<std::size_t>(n));
    }
  }
  ::close(fd);
  const std::size_t body = response.find("\r\n\r\n");
  if (body == std::string::npos) return Status::Unavailable("no complete answer from " + where);
  const std::size_t space = response.find(' ');
  if (space == std::string::npos || response.compare(space + 1, 3, "200") != 0) {
    return Status::Unavailable(where + " answered " + response.substr(0, response.find('\r')));
  }
  return response.substr(body + 4);
}

Result<SyncLag> ParseSyncLag(std::string_view text) {
  constexpr std::string_view kName = "hokm_sidecar_sync_lag_ms";
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
    const double value = std::strtod(std::string(rest.substr(close + 1)).c_str(), nullptr);
    const std::string sink = Label(labels, "sink");
    if (is_max) {
      max[sink] = value;
    } else if (const std::string q = Label(labels, "quantile"); !q.empty()) {
      quantiles[sink][q] = value;
    }
  });
  if (quantiles.empty()) return Status::InvalidArgument("no hokm_sidecar_sync_lag_ms samples on the page");
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
  constexpr std::string_view kName = "hokm_sidecar_sync_lag_histogram_ms_bucket{";
  SyncLagHistograms out;
  ForEachSample(text, kName, [&](std::string_view line) {
    const std::size_t close = line.find('}');
    if (close == std::string_view::npos) return;
    const std::string_view labels = line.substr(kName.size() - 1, close - kName.size() + 2);
    const std::string le = Label(labels, "le");
    const std::string sink = Label(labels, "sink");
    LagHistogram* h = sink == "redis" ? &out.redis : sink == "postgres" ? &out.postgres : nullptr;
    if (h == nullptr || le.empty()) return;
    const double bound = le == "+Inf" ? std::numeric_limits<double>::infinity() : std::strtod(le.c_str(), nullptr);
    const double count = std::strtod(std::string(line.substr(close + 1)).c_str(), nullptr);
    h->buckets.emplace_back(bound, static_cast<std::uint64_t>(count));
  });
  if (out.redis.buckets.empty() || out.postgres.buckets.empty()) {
    return Status::InvalidArgument("no hokm_sidecar_sync_lag_histogram_ms buckets for both sinks on the page");
  }
  return out;
}

Result<LagQuantiles> WindowQuantiles(const LagHistogram& before, const LagHistogram& after) {
  const auto& a = after.buckets;
  const auto& b = before.buckets;
  if (!b.empty() && b.size() != a.size()) return Status::InvalidArgument("the two scrapes have different buckets");
  std::vector<std::uint64_t> delta(a.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    const std::uint64_t was = b.empty() ? 0 : b[i].second;
    if (!b.empty() && b[i].first != a[i].first) return Status::InvalidArgument("the two scrapes have different buckets");
    if (a[i].second < was) return Status::InvalidArgument("a bucket count went down: the sidecar restarted");
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
    const auto rank = std::max<std::uint64_t>(1, static_cast<std::uint64_t>(std::ceil(p * static_cast<double>(n))));
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
    return Status::InvalidArgument(std::string("sidecar /health is not the expected JSON: ") + e.what());
  }
}

}  // namespace hokm::loadgen
