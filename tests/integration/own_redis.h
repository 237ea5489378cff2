// own_redis.h: a redis-server of the test's own on a free loopback port
// (with an append-only file, so a restart keeps what it had), for the
// tests that stop Redis under a running sidecar and start it again.
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>

#include "tests/integration/http_util.h"
#include "tests/integration/process_util.h"
#include "tests/integration/stores.h"

namespace hokm::sidecar::integration {

class OwnRedis {
 public:
  explicit OwnRedis(std::filesystem::path dir) : dir_(std::move(dir)), port_(proc::FreePort()) {
    std::filesystem::create_directories(dir_);
  }
  ~OwnRedis() { Stop(); }
  std::string Url() const { return "redis://127.0.0.1:" + std::to_string(port_) + "/0"; }
  // Starts redis-server; with `empty`, its files from before are deleted
  // first: a restart that lost everything (no persistence, a failover to
  // an empty replica). False when it does not answer within 20 s (or
  // redis-server is not installed: see its log in the directory).
  bool Start(bool empty = false) {
    if (empty) {
      for (const auto& f : std::filesystem::directory_iterator(dir_)) {
        if (f.path().filename() != "redis.log") std::filesystem::remove_all(f.path());
      }
    }
    const pid_t parent = ::getpid();
    pid_ = ::fork();
    if (pid_ == 0) {
      proc::DieWithParent(parent);
      const std::string port = std::to_string(port_);
      ::execlp("redis-server", "redis-server", "--bind", "127.0.0.1", "--port", port.c_str(),
               "--save", "", "--appendonly", "yes", "--appendfsync", "always", "--dir",
               dir_.c_str(), "--logfile", (dir_ / "redis.log").c_str(),
               static_cast<char*>(nullptr));
      ::_exit(127);
    }
    RedisUrl url;
    url.host = "127.0.0.1";
    url.port = static_cast<std::uint16_t>(port_);
    return proc::WaitUntil(
        [&] {
          RedisProbe p;
          return p.Connect(url) && p.Integer({"DBSIZE"}) >= 0;
        },
        std::chrono::seconds(20));
  }
  void Stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);  // redis-server flushes its append-only file and exits
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

 private:
  std::filesystem::path dir_;
  int port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace hokm::sidecar::integration
