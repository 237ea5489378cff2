// metrics_server.cc: Boost.Beast implementation of the metrics server (see
// metrics_server.h).
#include "service/metrics_server.h"

// Boost 1.74's asio/awaitable.hpp uses std::exchange without including
// <utility>; GCC 12 in C++20 mode no longer pulls it in transitively.
#include <utility>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <thread>

namespace hokm::service {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

struct MetricsServer::Impl {
  asio::io_context ioc{1};
  tcp::acceptor acceptor{ioc};
  Handler metrics;
  HealthHandler health;
  std::thread thread;
  std::uint16_t port = 0;

  void Accept();
};

namespace {

// One connection: read requests, answer, until the peer closes or 5 s idle.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, MetricsServer::Impl* server)
      : stream_(std::move(socket)), server_(server) {}

  void Read() {
    request_ = {};
    stream_.expires_after(std::chrono::seconds(5));
    http::async_read(stream_, buffer_, request_,
                     [self = shared_from_this()](beast::error_code ec, std::size_t) {
                       if (!ec) self->Answer();
                     });
  }

 private:
  void Answer() {
    auto response = std::make_shared<http::response<http::string_body>>();
    response->version(request_.version());
    response->keep_alive(request_.keep_alive());
    std::string_view target(request_.target().data(), request_.target().size());
    if (request_.method() != http::verb::get) {
      response->result(http::status::method_not_allowed);
      response->body() = "GET only\n";
    } else if (target == "/metrics") {
      response->set(http::field::content_type, "text/plain; version=0.0.4");
      response->body() = server_->metrics();
    } else if (target == "/health" || target == "/readyz") {
      Health health = server_->health();
      response->result(health.ok ? http::status::ok : http::status::service_unavailable);
      response->set(http::field::content_type, "application/json");
      response->body() = std::move(health.json);
    } else if (target == "/livez") {
      // Answered by the server's own thread: that it answers is the news.
      response->set(http::field::content_type, "text/plain");
      response->body() = "ok\n";
    } else {
      response->result(http::status::not_found);
      response->body() = "try /metrics, /health, /readyz or /livez\n";
    }
    response->prepare_payload();
    http::async_write(stream_, *response,
                      [self = shared_from_this(), response](beast::error_code ec, std::size_t) {
                        if (!ec && response->keep_alive()) self->Read();
                      });
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  http::request<http::string_body> request_;
  MetricsServer::Impl* server_;
};

}  // namespace

void MetricsServer::Impl::Accept() {
  acceptor.async_accept([this](beast::error_code ec, tcp::socket socket) {
    if (ec) return;  // acceptor closed
    std::make_shared<Session>(std::move(socket), this)->Read();
    Accept();
  });
}

std::string CheckBindAddress(const std::string& address) {
  beast::error_code ec;
  (void)asio::ip::make_address(address, ec);
  if (ec) return "'" + address + "' is not an IPv4 or IPv6 address (e.g. 127.0.0.1, 0.0.0.0, ::)";
  return "";
}

std::unique_ptr<MetricsServer> MetricsServer::Start(const std::string& address, std::uint16_t port,
                                                    Handler metrics, HealthHandler health,
                                                    std::string* error) {
  auto impl = std::make_unique<Impl>();
  impl->metrics = std::move(metrics);
  impl->health = std::move(health);
  beast::error_code ec;
  const asio::ip::address ip = asio::ip::make_address(address, ec);
  if (ec) {
    if (error) *error = "metrics server: " + CheckBindAddress(address);
    return nullptr;
  }
  tcp::endpoint endpoint(ip, port);
  impl->acceptor.open(endpoint.protocol(), ec);
  if (!ec) impl->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl->acceptor.bind(endpoint, ec);
  if (!ec) impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    if (error)
      *error = "metrics server: cannot listen on " + address + ":" + std::to_string(port) + ": " +
               ec.message();
    return nullptr;
  }
  impl->port = impl->acceptor.local_endpoint().port();
  impl->Accept();
  Impl* raw = impl.get();
  impl->thread = std::thread([raw] { raw->ioc.run(); });
  return std::unique_ptr<MetricsServer>(new MetricsServer(std::move(impl)));
}

std::unique_ptr<MetricsServer> MetricsServer::Start(std::uint16_t port, Handler metrics,
                                                    Handler health, std::string* error) {
  return Start(
      "127.0.0.1", port, std::move(metrics),
      [health = std::move(health)] {
        return Health{true, health()};
      },
      error);
}

MetricsServer::MetricsServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

MetricsServer::~MetricsServer() {
  impl_->ioc.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

std::uint16_t MetricsServer::port() const { return impl_->port; }

}  // namespace hokm::service
