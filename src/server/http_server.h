// `paradit serve`: the HTTP front of the job queue. OpenAI-compatible
// POST /v1/images/generations and GET /v1/models, AUTOMATIC1111-compatible
// POST /sdapi/v1/txt2img, native async jobs (/v1/jobs...), /healthz, /metrics and the web page
// at /. Bodies are capped (413), a request must arrive within deadlines, open connections are
// capped (connection_gate.h), a full queue answers 429 with
// Retry-After, and every invalid field answers 400 with a JSON error naming it.
#pragma once

#include <memory>
#include <cstdio>
#include <string>
#include <vector>

#include "paradit/paradit.h"

namespace paradit::server {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;             // 0: any free port (see Server::port)
  size_t max_queue = 16;
  size_t max_body_bytes = 1 << 20;
  int timeout_s = 30;          // the body's deadline and each write's timeout
  int header_timeout_s = 10;   // from accepting a connection to the end of its request head
  size_t max_connections = 512;  // more open at once are answered 503 and closed
  int max_size = 0;            // largest image side; 0: the model's limit
  std::string model_name = "paradit";
  // Every route but /healthz and the page itself needs "Authorization: Bearer api_key" when set.
  std::string api_key;
  // Origins (scheme://host[:port]) allowed besides the server's own; any other Origin is refused.
  std::vector<std::string> cors_origins;
  // One line per request (time, method, path, status, milliseconds; never bodies), or null.
  std::FILE* access_log = nullptr;
  double keep_jobs_s = 600;  // a finished job's status and image stay readable this long, then 410
};

// The request guard, apart from the server so it can be tested alone. Returns 0 when the request
// may proceed, else the status to answer (401, 403) with `why`.
struct Guard {
  bool loopback = true;  // the server listens on a loopback address only
  std::string api_key;
  std::vector<std::string> cors_origins;
  int check(const std::string& path, const std::string& host_header, const std::string& origin,
            const std::string& authorization, std::string* why) const;
};
bool is_loopback_host(const std::string& host);  // "localhost", "127.x.y.z", "::1" (brackets and port allowed)

class Server {
 public:
  Server(const api::Pipeline& pipeline, const ServerOptions& options);
  ~Server();
  int bind();   // binds and returns the port; throws when it cannot
  void run();   // serves until stop()
  // Stops accepting; the running job finishes first unless `cancel_running`.
  void stop(bool cancel_running = false);
  // After stop: waits until the running job is over; returns the number of jobs done.
  uint64_t drain();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace paradit::server
