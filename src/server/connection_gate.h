// The HTTP library's server with a gate in front of its parser, so that slow or idle clients
// cannot starve others:
// - each connection gets its own thread (the library's fixed pool would let as many slow
//   clients as it has threads keep everyone else out; threads are reused), up to a connection
//   limit; past it a new connection is answered 503 at once and closed;
// - the request head must arrive whole within a deadline, with at most `max_header_count`
//   header lines and `max_head_bytes` bytes (else 408 or 431), and the body (Content-Length
//   only; chunked uploads get 411) within its own deadline (408), before the library parses it
//   from memory. A handler's reply is written with the library's write timeout.
#pragma once

#include <httplib.h>

#include <atomic>
#include <functional>
#include <string>

namespace paradit::server {

struct GateLimits {
  size_t max_connections = 512;
  double head_timeout_s = 10;   // from accept to the end of the headers
  double body_timeout_s = 30;   // from the end of the headers to the end of the body
  double write_timeout_s = 30;  // for each write of the reply
  size_t max_header_count = 64;
  size_t max_head_bytes = 16 * 1024;
  size_t max_body_bytes = 1 << 20;
};

class GatedServer : public httplib::Server {
 public:
  explicit GatedServer(const GateLimits& limits);
  // Called for every connection the gate answers itself (status, reason), e.g. for the access log.
  std::function<void(int, const std::string&)> on_refused;
  size_t open_connections() const { return open_; }
  // Makes connections still sending their request give up at once (call before stop()).
  void stop_reading() { stopping_ = true; }

 private:
  bool process_and_close_socket(socket_t sock) override;
  GateLimits limits_;
  std::atomic<size_t> open_{0};
  std::atomic<bool> stopping_{false};
};

// What the gate decided about the bytes received so far (exposed for tests).
struct HeadCheck {
  enum Kind { NeedMore, Complete, Refuse } kind = NeedMore;
  size_t head_bytes = 0;    // Complete: the length of the head, blank line included
  size_t body_bytes = 0;    // Complete: the Content-Length
  int status = 0;           // Refuse
  std::string reason;       // Refuse
};
HeadCheck check_head(const std::string& received, const GateLimits& limits);

}  // namespace paradit::server
