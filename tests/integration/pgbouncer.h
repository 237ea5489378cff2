// pgbouncer.h: a pgBouncer of a test's own, in transaction pooling mode, on
// a free loopback port in front of the PostgreSQL of HOKM_PG_URL: the
// pooler the seeds deploy, where every transaction may run on another
// server connection and startup `options` are refused.
//
// Its files (config, and the user list holding the password: mode 0600 in
// a 0700 directory) live in the directory given, which the test removes.
// As root, pgBouncer refuses to run: it is started with -u nobody, and the
// directory is handed to that user.
//
// Thread safety: none; one test thread uses it.
#pragma once

#include <pwd.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "tests/integration/process_util.h"
#include "tests/integration/stores.h"

namespace hokm::sidecar::integration {

class OwnPgBouncer {
 public:
  // The binary, "" when not installed (Debian's pgbouncer: /usr/sbin).
  static std::string Binary() {
    for (const char* p :
         {"/usr/sbin/pgbouncer", "/usr/bin/pgbouncer", "/usr/local/bin/pgbouncer"}) {
      if (::access(p, X_OK) == 0) return p;
    }
    return "";
  }

  explicit OwnPgBouncer(std::filesystem::path dir) : dir_(std::move(dir)) {}
  ~OwnPgBouncer() { Stop(); }
  OwnPgBouncer(const OwnPgBouncer&) = delete;
  OwnPgBouncer& operator=(const OwnPgBouncer&) = delete;

  // Starts pgBouncer in front of `server` (its user, password and database
  // are the ones let through); "" when it answers, else why not.
  std::string Start(const PgUrl& server, int pool_size = 2) {
    const std::string bin = Binary();
    if (bin.empty()) {
      return "pgbouncer is not installed (scripts/setup.sh installs Debian's pgbouncer)";
    }
    if (server.user().empty() || server.dbname().empty()) {
      return "HOKM_PG_URL must name a user and a database for the pgBouncer test";
    }
    port_ = proc::FreePort();
    std::filesystem::create_directories(dir_);
    std::filesystem::permissions(dir_, std::filesystem::perms::owner_all);
    const std::string host = server.host().empty() ? "127.0.0.1" : server.host();
    {
      std::ofstream ini(dir_ / "pgbouncer.ini");
      ini << "[databases]\n"
          << server.dbname() << " = host=" << host
          << " port=" << (server.Get("port").empty() ? "5432" : server.Get("port"))
          << " dbname=" << server.dbname() << "\n"
          << "[pgbouncer]\n"
          << "listen_addr = 127.0.0.1\n"
          << "listen_port = " << port_ << "\n"
          << "unix_socket_dir =\n"
          << "auth_type = scram-sha-256\n"
          << "auth_file = " << (dir_ / "userlist.txt").string() << "\n"
          << "pool_mode = transaction\n"
          << "default_pool_size = " << pool_size << "\n"
          << "max_client_conn = 100\n"
          << "log_connections = 1\n";
    }
    const std::string password = PasswordOf(server);
    if (password.empty()) return "HOKM_PG_URL has no password, neither in it nor in its passfile";
    {
      std::ofstream users(dir_ / "userlist.txt");
      users << Quoted(server.user()) << ' ' << Quoted(password) << '\n';
    }
    std::filesystem::permissions(dir_ / "userlist.txt", std::filesystem::perms::owner_read |
                                                            std::filesystem::perms::owner_write);
    std::vector<std::string> args = {bin};
    if (::geteuid() == 0) {
      const passwd* nobody = ::getpwnam("nobody");
      if (nobody == nullptr) return "running as root needs the user nobody for pgbouncer -u";
      for (const auto& entry : std::filesystem::recursive_directory_iterator(dir_)) {
        (void)::chown(entry.path().c_str(), nobody->pw_uid, nobody->pw_gid);
      }
      (void)::chown(dir_.c_str(), nobody->pw_uid, nobody->pw_gid);
      args.insert(args.end(), {"-u", "nobody"});
    }
    args.push_back((dir_ / "pgbouncer.ini").string());
    pid_ = proc::Spawn(args, (dir_ / "pgbouncer.log").c_str());
    url_ = server;
    url_.params["host"] = "127.0.0.1";
    url_.params["port"] = std::to_string(port_);
    url_.params.erase("hostaddr");
    const bool up = proc::WaitUntil(
        [&] {
          try {
            pqxx::connection c(url_.ConnInfo());
            pqxx::nontransaction tx(c);
            tx.exec("SELECT 1");
            return true;
          } catch (const std::exception&) {
            return false;
          }
        },
        std::chrono::seconds(15));
    return up ? ""
              : "pgbouncer on 127.0.0.1:" + std::to_string(port_) + " does not answer; its log:\n" +
                    Log();
  }

  void Stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

  // The server's URL with pgBouncer's host and port (holds the password).
  const PgUrl& Url() const { return url_; }
  int port() const { return port_; }

  std::string Log() const {
    std::ifstream in(dir_ / "pgbouncer.log");
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }

 private:
  // The URL's password, else the first line of its passfile (libpq's
  // format, host:port:db:user:password, '*' for any, '\\' escapes) that
  // matches its user and database: scripts/services.sh prints URLs that
  // name a passfile rather than hold the password.
  static std::string PasswordOf(const PgUrl& url) {
    if (!url.password().empty()) return url.password();
    std::string file = url.Get("passfile");
    if (file.empty() && std::getenv("PGPASSFILE") != nullptr) file = std::getenv("PGPASSFILE");
    if (file.empty() && std::getenv("HOME") != nullptr)
      file = std::string(std::getenv("HOME")) + "/.pgpass";
    std::ifstream in(file);
    for (std::string line; std::getline(in, line);) {
      std::vector<std::string> fields(1);
      for (std::size_t i = 0; i < line.size(); ++i) {
        if (line[i] == '\\' && i + 1 < line.size()) {
          fields.back().push_back(line[++i]);
        } else if (line[i] == ':' && fields.size() < 5) {
          fields.emplace_back();
        } else {
          fields.back().push_back(line[i]);
        }
      }
      const auto matches = [](const std::string& field, const std::string& value) {
        return field == "*" || field == value;
      };
      if (fields.size() == 5 && matches(fields[2], url.dbname()) &&
          matches(fields[3], url.user())) {
        return fields[4];
      }
    }
    return "";
  }

  // pgBouncer's auth_file quoting: "..." with '"' doubled.
  static std::string Quoted(const std::string& s) {
    std::string out = "\"";
    for (char c : s) {
      if (c == '"') out.push_back('"');
      out.push_back(c);
    }
    return out + "\"";
  }

  std::filesystem::path dir_;
  int port_ = 0;
  pid_t pid_ = -1;
  PgUrl url_;
};

}  // namespace hokm::sidecar::integration
