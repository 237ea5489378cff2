// http_util.h: for the tests that talk to the binaries' HTTP endpoints: a
// blocking HTTP/1.0 GET that returns the status code with the body (a 503
// is an answer too). A free port to give a server: proc::FreePort
// (process_util.h).
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <string>

namespace hokm::proc {

struct HttpAnswer {
  int status = 0;  // 0: no answer (nobody listening, or cut short)
  std::string body;
};

// GET http://127.0.0.1:port<path> (HTTP/1.0: the server closes after its
// answer); each socket call gives up after 2 s.
inline HttpAnswer HttpGet(int port, const std::string& path) {
  HttpAnswer answer;
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return answer;
  timeval timeout{2, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  std::string response;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
    const std::string request = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
        static_cast<ssize_t>(request.size())) {
      char buffer[16384];
      for (ssize_t n; (n = ::recv(fd, buffer, sizeof buffer, 0)) > 0;) response.append(buffer, n);
    }
  }
  ::close(fd);
  // "HTTP/1.x CODE reason\r\n...\r\n\r\nbody"
  const std::size_t head_end = response.find("\r\n\r\n");
  if (response.rfind("HTTP/1.", 0) != 0 || head_end == std::string::npos) return answer;
  answer.status = std::atoi(response.c_str() + 9);
  answer.body = response.substr(head_end + 4);
  return answer;
}

}  // namespace hokm::proc
