#include "server/http_server.h"

#include <httplib.h>

#include <nlohmann/json.hpp>

#include "core/error.h"
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

}  // namespace

struct Server::Impl {
  const api::Pipeline& pipeline;
  ServerOptions options;
  Metrics metrics;
  Limits limits;
  std::unique_ptr<JobQueue> queue;
  httplib::Server http;
  int port = -1;

  Impl(const api::Pipeline& p, const ServerOptions& o) : pipeline(p), options(o) {
    limits.max_size = o.max_size > 0 ? std::min(o.max_size, p.max_size()) : p.max_size();
    limits.default_size = std::min(p.default_size(), limits.max_size);
    queue = std::make_unique<JobQueue>(p, o.max_queue, metrics);
    routes();
  }

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
      if (queue->snapshot(*j, &s, &t, &e, &error) != Job::State::Done)
        throw std::runtime_error(error.empty() ? "generation was cancelled" : error);
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
      if (!job) return send_error(res, 404, "no such job", "id");
      send_json(res, 200, job_json(*job));
    });
    http.Get(R"(/v1/jobs/([A-Za-z0-9-]+)/image)", [this](const httplib::Request& req, httplib::Response& res) {
      const auto job = queue->find(req.matches[1]);
      if (!job) return send_error(res, 404, "no such job", "id");
      int s, t;
      double e;
      std::string error;
      if (queue->snapshot(*job, &s, &t, &e, &error) != Job::State::Done)
        return send_error(res, 409, "the job has no image (yet)", "id");
      res.set_content(reinterpret_cast<const char*>(job->png.data()), job->png.size(), "image/png");
    });
    http.Delete(R"(/v1/jobs/([A-Za-z0-9-]+))", [this](const httplib::Request& req, httplib::Response& res) {
      if (!queue->find(req.matches[1])) return send_error(res, 404, "no such job", "id");
      if (!queue->cancel(req.matches[1])) return send_error(res, 409, "the job is already over", "id");
      send_json(res, 200, job_json(*queue->find(req.matches[1])));
    });
    http.set_payload_max_length(options.max_body_bytes);
    http.set_read_timeout(options.timeout_s, 0);
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
  impl_->queue->shutdown(cancel_running);
  impl_->http.stop();
}

}  // namespace paradit::server
