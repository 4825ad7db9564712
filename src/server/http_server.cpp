#include "server/http_server.h"

#include <httplib.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "server/connection_gate.h"
#include "server/job_queue.h"
#include "server/requests.h"
#include "server/web_page.h"

namespace paradit::server {
namespace {

using json = nlohmann::json;

std::string base64(const std::vector<uint8_t>& in) {
  static const char* table = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  for (size_t i = 0; i < in.size(); i += 3) {
    const uint32_t n = (uint32_t{in[i]} << 16) | (i + 1 < in.size() ? uint32_t{in[i + 1]} << 8 : 0) |
                       (i + 2 < in.size() ? uint32_t{in[i + 2]} : 0);
    out += table[(n >> 18) & 63];
    out += table[(n >> 12) & 63];
    out += i + 1 < in.size() ? table[(n >> 6) & 63] : '=';
    out += i + 2 < in.size() ? table[n & 63] : '=';
  }
  return out;
}

void send_json(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(body.dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
}

void send_error(httplib::Response& res, int status, const std::string& message, const std::string& field = "") {
  json err = {{"message", message}, {"type", status == 429 ? "queue_full" : "invalid_request_error"}};
  if (!field.empty()) err["field"] = field;
  send_json(res, status, {{"error", err}});
}

// The host part of "host:port", "[v6]:port" or "host".
std::string host_part(const std::string& h) {
  if (!h.empty() && h[0] == '[') {
    const auto close = h.find(']');
    return close == std::string::npos ? h : h.substr(1, close - 1);
  }
  const auto colon = h.find(':');
  return h.find(':', colon + 1) != std::string::npos ? h : h.substr(0, colon);  // a bare IPv6 stays whole
}

// The "host:port" of an Origin "scheme://host:port".
std::string origin_authority(const std::string& origin) {
  const auto scheme = origin.find("://");
  return scheme == std::string::npos ? "" : origin.substr(scheme + 3);
}

// The time depends on the expected value's length only, not on where a guess first differs.
bool equal_in_constant_time(const std::string& given, const std::string& expected) {
  unsigned char diff = given.size() == expected.size() ? 0 : 1;
  for (size_t i = 0; i < expected.size(); ++i)
    diff |= static_cast<unsigned char>((i < given.size() ? given[i] : 0) ^ expected[i]);
  return diff == 0;
}

struct JobCancelled {};

}  // namespace

bool is_loopback_host(const std::string& host) {
  std::string h = host_part(host);
  for (auto& ch : h) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (h == "localhost" || h == "::1" || h.ends_with(".localhost")) return true;
  int a = 0, b = 0, c = 0, d = 0;
  char tail = 0;
  return std::sscanf(h.c_str(), "%d.%d.%d.%d%c", &a, &b, &c, &d, &tail) == 4 && a == 127 && b >= 0 && b < 256 &&
         c >= 0 && c < 256 && d >= 0 && d < 256;
}

int Guard::check(const std::string& path, const std::string& host_header, const std::string& origin,
                 const std::string& authorization, std::string* why) const {
  // DNS rebinding: a page on evil.example resolving to 127.0.0.1 sends Host: evil.example.
  if (loopback && !host_header.empty() && !is_loopback_host(host_header)) {
    *why = "Host '" + host_header + "' is not a loopback name; this server only answers to localhost";
    return 403;
  }
  // Browsers send Origin on cross-site requests (curl and API clients send none).
  if (!origin.empty() && origin_authority(origin) != host_header &&
      std::find(cors_origins.begin(), cors_origins.end(), origin) == cors_origins.end()) {
    *why = "Origin '" + origin + "' is not this server's; allow it with --cors-origin";
    return 403;
  }
  if (!api_key.empty() && path != "/healthz" && path != "/" &&
      !equal_in_constant_time(authorization, "Bearer " + api_key)) {
    *why = "this server needs 'Authorization: Bearer <key>' (see --api-key)";
    return 401;
  }
  return 0;
}

// The start of the request this worker thread is handling (httplib runs each on one thread).
std::chrono::steady_clock::time_point& request_start() {
  thread_local std::chrono::steady_clock::time_point t;
  return t;
}

struct Server::Impl {
  const api::Pipeline& pipeline;
  ServerOptions options;
  Metrics metrics;
  Limits limits;
  std::unique_ptr<JobQueue> queue;
  GatedServer http;
  int port = -1;

  static GateLimits gate_limits(const ServerOptions& o) {
    GateLimits g;
    g.max_connections = o.max_connections;
    g.head_timeout_s = o.header_timeout_s;
    g.body_timeout_s = o.timeout_s;
    g.write_timeout_s = o.timeout_s;
    g.max_body_bytes = o.max_body_bytes;
    return g;
  }

  Impl(const api::Pipeline& p, const ServerOptions& o) : pipeline(p), options(o), http(gate_limits(o)) {
    limits.max_size = o.max_size > 0 ? std::min(o.max_size, p.max_size()) : p.max_size();
    limits.default_size = std::min(p.default_size(), limits.max_size);
    queue = std::make_unique<JobQueue>(p, o.max_queue, metrics, 64, o.keep_jobs_s);
    guard.loopback = is_loopback_host(o.host);
    guard.api_key = o.api_key;
    guard.cors_origins = o.cors_origins;
    routes();
  }

  Guard guard;

  // One access-log line: time, method, path, status, milliseconds (and why the gate refused).
  void log_line(const std::string& method, const std::string& path, int status, double ms, const std::string& why) {
    const std::time_t now = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&now, &tm);
    char when[32];
    std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    std::lock_guard<std::mutex> lock(log_mutex);
    std::fprintf(options.access_log, "%s %s %s %d %.1f ms%s%s\n", when, method.c_str(), path.c_str(), status, ms,
                 why.empty() ? "" : " ", why.c_str());
    std::fflush(options.access_log);
  }
  std::mutex log_mutex;

  // Fills in the model's default step count so progress has a total from the start.
  std::vector<api::Request> with_defaults(std::vector<api::Request> rs) const {
    for (auto& r : rs) {
      if (r.steps == 0) r.steps = pipeline.default_steps();
      pipeline.validate(r);
    }
    return rs;
  }

  // Runs a parsed handler and turns every failure into the right status.
  template <typename F>
  void guarded(httplib::Response& res, F f) {
    try {
      f();
    } catch (const BadRequest& e) {
      send_error(res, 400, e.what(), e.field());
    } catch (const JobCancelled&) {
      send_error(res, 409, "the request was cancelled before its image was made (server stopping, or DELETE /v1/jobs)",
                 "cancelled");
    } catch (const QueueFull&) {
      res.set_header("Retry-After", "5");
      send_error(res, 429, "the queue is full; retry later");
    } catch (const Error& e) {
      // a request the pipeline refuses (size, steps): the message names the field first
      const std::string msg = e.what();
      send_error(res, 400, msg, msg.substr(0, msg.find(':')));
    } catch (const std::exception& e) {
      send_error(res, 500, std::string("internal error: ") + e.what());
    }
    metrics.request(res.status);
  }

  // 410 for a job that finished and was dropped after its keeping time, 404 for one never seen.
  void no_such_job(httplib::Response& res, const std::string& id) {
    if (queue->expired(id))
      return send_error(res, 410, "the job finished more than " + std::to_string(static_cast<long>(options.keep_jobs_s)) +
                                      " s ago and was dropped", "id");
    send_error(res, 404, "no such job", "id");
  }

  json job_json(const Job& job) const {
    int step, total;
    double elapsed;
    std::string error;
    const Job::State state = queue->snapshot(job, &step, &total, &elapsed, &error);
    json j = {{"id", job.id}, {"state", state_name(state)}, {"step", step}, {"total", total}};
    if (step > 0 && total > 0) j["eta_s"] = elapsed / step * (total - step);
    if (!error.empty()) j["error"] = error;
    if (state == Job::State::Done) j["image"] = "/v1/jobs/" + job.id + "/image";
    return j;
  }

  // Runs requests to completion (for the synchronous APIs); returns base64 PNGs.
  std::vector<std::shared_ptr<Job>> run_all(const std::vector<api::Request>& requests) {
    auto jobs = queue->submit(with_defaults(requests));
    for (auto& j : jobs) queue->wait(j);
    for (auto& j : jobs) {
      int s, t;
      double e;
      std::string error;
      const Job::State state = queue->snapshot(*j, &s, &t, &e, &error);
      if (state == Job::State::Cancelled) throw JobCancelled();
      if (state != Job::State::Done) throw std::runtime_error(error);
    }
    return jobs;
  }

  void routes() {
    http.Get("/", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(web_page(), "text/html; charset=utf-8");
    });
    http.Get("/healthz", [this](const httplib::Request&, httplib::Response& res) {
      send_json(res, 200, {{"status", "ok"}, {"queue_depth", queue->depth()}});
    });
    http.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
      res.set_content(metrics.render(queue->depth()), "text/plain; version=0.0.4");
    });
    http.Get("/v1/models", [this](const httplib::Request&, httplib::Response& res) {
      send_json(res, 200,
                {{"object", "list"},
                 {"data", json::array({{{"id", options.model_name},
                                        {"object", "model"},
                                        {"owned_by", "paradit"},
                                        {"max_size", limits.max_size},
                                        {"default_size", limits.default_size},
                                        {"default_steps", pipeline.default_steps()},
                                        {"default_guidance", pipeline.default_guidance()}}})}});
    });
    http.Post("/v1/images/generations", [this](const httplib::Request& req, httplib::Response& res) {
      guarded(res, [&] {
        const auto jobs = run_all(parse_openai(parse_body(req.body), limits));
        json data = json::array();
        for (const auto& j : jobs) data.push_back({{"b64_json", base64(j->png)}, {"revised_prompt", j->request.prompt}});
        send_json(res, 200, {{"created", static_cast<int64_t>(std::time(nullptr))}, {"data", data}});
      });
    });
    http.Post("/sdapi/v1/txt2img", [this](const httplib::Request& req, httplib::Response& res) {
      guarded(res, [&] {
        const json body = parse_body(req.body);
        const auto jobs = run_all(parse_a1111(body, limits));
        json images = json::array();
        json seeds = json::array();
        for (const auto& j : jobs) {
          images.push_back(base64(j->png));
          seeds.push_back(j->request.seed);
        }
        const auto& first = jobs.front()->request;
        const json info = {{"prompt", first.prompt},   {"negative_prompt", first.negative_prompt},
                           {"seed", first.seed},       {"all_seeds", seeds},
                           {"width", first.width},     {"height", first.height},
                           {"steps", first.steps},     {"cfg_scale", first.guidance},
                           {"infotexts", json::array({jobs.front()->parameters})}};
        send_json(res, 200, {{"images", images}, {"parameters", body}, {"info", info.dump()}});
      });
    });
    http.Post("/v1/jobs", [this](const httplib::Request& req, httplib::Response& res) {
      guarded(res, [&] {
        const auto jobs = queue->submit(with_defaults({parse_job(parse_body(req.body), limits)}));
        send_json(res, 202, job_json(*jobs.front()));
      });
    });
    http.Get(R"(/v1/jobs/([A-Za-z0-9-]+))", [this](const httplib::Request& req, httplib::Response& res) {
      const auto job = queue->find(req.matches[1]);
      if (!job) return no_such_job(res, req.matches[1]);
      send_json(res, 200, job_json(*job));
    });
    http.Get(R"(/v1/jobs/([A-Za-z0-9-]+)/image)", [this](const httplib::Request& req, httplib::Response& res) {
      const auto job = queue->find(req.matches[1]);
      if (!job) return no_such_job(res, req.matches[1]);
      int s, t;
      double e;
      std::string error;
      if (queue->snapshot(*job, &s, &t, &e, &error) != Job::State::Done)
        return send_error(res, 409, "the job has no image (yet)", "id");
      res.set_content(reinterpret_cast<const char*>(job->png.data()), job->png.size(), "image/png");
    });
    http.Delete(R"(/v1/jobs/([A-Za-z0-9-]+))", [this](const httplib::Request& req, httplib::Response& res) {
      if (!queue->find(req.matches[1])) return no_such_job(res, req.matches[1]);
      if (!queue->cancel(req.matches[1])) return send_error(res, 409, "the job is already over", "id");
      send_json(res, 200, job_json(*queue->find(req.matches[1])));
    });
    http.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
      request_start() = std::chrono::steady_clock::now();
      const std::string origin = req.get_header_value("Origin");
      std::string why;
      const int status = guard.check(req.path, req.get_header_value("Host"), origin,
                                     req.get_header_value("Authorization"), &why);
      if (status != 0) {
        if (status == 401) res.set_header("WWW-Authenticate", "Bearer");
        send_error(res, status, why, status == 401 ? "authorization" : "origin");
        metrics.request(status);
        return httplib::Server::HandlerResponse::Handled;
      }
      if (!origin.empty() && origin_authority(origin) != req.get_header_value("Host")) {  // an allowed other origin
        res.set_header("Access-Control-Allow-Origin", origin);
        res.set_header("Vary", "Origin");
        if (req.method == "OPTIONS") {
          res.set_header("Access-Control-Allow-Methods", "GET, POST, DELETE");
          res.set_header("Access-Control-Allow-Headers", "Authorization, Content-Type");
          res.status = 204;
          return httplib::Server::HandlerResponse::Handled;
        }
      }
      return httplib::Server::HandlerResponse::Unhandled;
    });
    http.on_refused = [this](int status, const std::string& why) {
      metrics.request(status);
      if (options.access_log) log_line("-", "-", status, 0, why);
    };
    if (options.access_log) {
      http.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
        const auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - request_start());
        log_line(req.method, req.path, res.status, ms.count(), "");
      });
    }
    // One request per connection: the HTTP library would read a pipelined second request's
    // bytes as lost, so every response says "Connection: close" and the connection ends, as HTTP
    // allows. (An image takes seconds; reconnecting costs nothing next to it.)
    http.set_keep_alive_max_count(1);
    http.set_payload_max_length(options.max_body_bytes);
    http.set_write_timeout(options.timeout_s, 0);
    http.set_error_handler([](const httplib::Request&, httplib::Response& res) {
      if (res.body.empty()) {
        const char* msg = res.status == 413 ? "the body is too large" : res.status == 404 ? "not found" : "error";
        send_json(res, res.status, {{"error", {{"message", msg}, {"type", "invalid_request_error"}}}});
      }
    });
  }
};

Server::Server(const api::Pipeline& pipeline, const ServerOptions& options)
    : impl_(std::make_unique<Impl>(pipeline, options)) {}

Server::~Server() {
  stop(true);
}

int Server::bind() {
  auto& o = impl_->options;
  impl_->port = o.port == 0 ? impl_->http.bind_to_any_port(o.host) : (impl_->http.bind_to_port(o.host, o.port) ? o.port : -1);
  PD_CHECK(impl_->port > 0, "serve: cannot listen on ", o.host, ":", o.port);
  return impl_->port;
}

void Server::run() { impl_->http.listen_after_bind(); }

uint64_t Server::drain() {
  impl_->queue->drain();
  return impl_->metrics.jobs_done();
}

void Server::stop(bool cancel_running) {
  impl_->http.stop_reading();
  impl_->queue->shutdown(cancel_running);
  impl_->http.stop();
}

}  // namespace paradit::server
