// The HTTP server over loopback with the tiny model: every endpoint, the bad-input table, the
// bounded queue (429), cancellation, and the server staying up through all of it.
#include <gtest/gtest.h>
#include <httplib.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <regex>
#include <nlohmann/json.hpp>
#include <thread>

#include "paradit/paradit.h"
#include "server/connection_gate.h"
#include "server/http_server.h"

namespace paradit {
namespace {

using json = nlohmann::json;

class ServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    api::LoadOptions o;
    o.model = std::string(PARADIT_FIXTURES_DIR) + "/tiny-sd35";
    o.no_t5 = true;
    pipeline_ = api::Pipeline::load(o).release();
  }
  static void TearDownTestSuite() { delete pipeline_; }

  void start(size_t max_queue = 8, const std::string& api_key = "", std::vector<std::string> cors = {},
             double keep_jobs_s = 600) {
    server::ServerOptions o;
    o.keep_jobs_s = keep_jobs_s;
    o.port = 0;
    o.max_queue = max_queue;
    o.api_key = api_key;
    o.cors_origins = std::move(cors);
    server_ = std::make_unique<server::Server>(*pipeline_, o);
    port_ = server_->bind();
    thread_ = std::thread([this] { server_->run(); });
    client_ = std::make_unique<httplib::Client>("127.0.0.1", port_);
    client_->set_read_timeout(60, 0);
  }
  void TearDown() override {
    if (server_) server_->stop(true);
    if (thread_.joinable()) thread_.join();
  }
  json post(const std::string& path, const std::string& body, int* status) {
    auto res = client_->Post(path.c_str(), body, "application/json");
    EXPECT_TRUE(res) << path;
    if (!res) return {};
    *status = res->status;
    return json::parse(res->body, nullptr, false);
  }
  json get(const std::string& path, int* status) {
    auto res = client_->Get(path.c_str());
    EXPECT_TRUE(res) << path;
    if (!res) return {};
    *status = res->status;
    return json::parse(res->body, nullptr, false);
  }
  json wait_job(const std::string& id) {
    int status = 0;
    for (int i = 0; i < 400; ++i) {
      json j = get("/v1/jobs/" + id, &status);
      if (j["state"] != "queued" && j["state"] != "running") return j;
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    return {};
  }

  static api::Pipeline* pipeline_;
  std::unique_ptr<server::Server> server_;
  std::unique_ptr<httplib::Client> client_;
  std::thread thread_;
  int port_ = 0;
};
api::Pipeline* ServerTest::pipeline_ = nullptr;

bool is_png_base64(const std::string& b64) { return b64.rfind("iVBORw0KGgo", 0) == 0; }

TEST_F(ServerTest, HealthModelsMetricsAndPage) {
  start();
  int status = 0;
  EXPECT_EQ(get("/healthz", &status)["status"], "ok");
  EXPECT_EQ(status, 200);
  const json models = get("/v1/models", &status);
  EXPECT_EQ(models["data"][0]["max_size"], 512);
  auto metrics = client_->Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->body.find("paradit_queue_depth 0"), std::string::npos);
  EXPECT_NE(metrics->body.find("paradit_step_seconds_bucket"), std::string::npos);
  auto page = client_->Get("/");
  ASSERT_TRUE(page);
  EXPECT_NE(page->body.find("<button id=\"generate\""), std::string::npos);
  EXPECT_EQ(page->get_header_value("Content-Type"), "text/html; charset=utf-8");
}

TEST_F(ServerTest, OpenAiImages) {
  start();
  int status = 0;
  const json r = post("/v1/images/generations",
                      R"({"prompt":"a fox","size":"64x48","n":2,"steps":2,"seed":7,"response_format":"b64_json","user":"x"})",
                      &status);
  ASSERT_EQ(status, 200) << r.dump();
  ASSERT_EQ(r["data"].size(), 2u);
  EXPECT_TRUE(is_png_base64(r["data"][0]["b64_json"]));
  EXPECT_NE(r["data"][0]["b64_json"], r["data"][1]["b64_json"]);  // seeds 7 and 8
  const json same = post("/v1/images/generations", R"({"prompt":"a fox","size":"64x48","steps":2,"seed":7})", &status);
  EXPECT_EQ(same["data"][0]["b64_json"], r["data"][0]["b64_json"]);
}

TEST_F(ServerTest, Automatic1111Txt2Img) {
  start();
  int status = 0;
  const json r = post("/sdapi/v1/txt2img",
                      R"({"prompt":"a fox","negative_prompt":"blur","steps":2,"cfg_scale":5,"width":64,"height":64,"seed":3,"batch_size":2})",
                      &status);
  ASSERT_EQ(status, 200) << r.dump();
  ASSERT_EQ(r["images"].size(), 2u);
  EXPECT_TRUE(is_png_base64(r["images"][1]));
  const json info = json::parse(r["info"].get<std::string>());
  EXPECT_EQ(info["all_seeds"], json::array({3, 4}));
  EXPECT_EQ(r["parameters"]["cfg_scale"], 5);
}

TEST_F(ServerTest, AsyncJobsProgressImageAndCancel) {
  start();
  int status = 0;
  const json job = post("/v1/jobs", R"({"prompt":"a fox","width":64,"height":64,"steps":3})", &status);
  ASSERT_EQ(status, 202) << job.dump();
  EXPECT_EQ(job["total"], 3);
  const json done = wait_job(job["id"]);
  EXPECT_EQ(done["state"], "done");
  EXPECT_EQ(done["step"], 3);
  auto image = client_->Get(("/v1/jobs/" + job["id"].get<std::string>() + "/image").c_str());
  ASSERT_TRUE(image);
  EXPECT_EQ(image->status, 200);
  EXPECT_EQ(image->body.substr(1, 3), "PNG");
  EXPECT_EQ(client_->Delete(("/v1/jobs/" + job["id"].get<std::string>()).c_str())->status, 409);
  EXPECT_EQ(get("/v1/jobs/job-999999", &status)["error"]["field"], "id");
  EXPECT_EQ(status, 404);
  // A long job, cancelled while it runs or waits.
  const json slow = post("/v1/jobs", R"({"prompt":"a fox","width":256,"height":256,"steps":200})", &status);
  ASSERT_EQ(status, 202);
  auto del = client_->Delete(("/v1/jobs/" + slow["id"].get<std::string>()).c_str());
  ASSERT_TRUE(del);
  EXPECT_EQ(del->status, 200);
  EXPECT_EQ(wait_job(slow["id"])["state"], "cancelled");
  EXPECT_EQ(client_->Get(("/v1/jobs/" + slow["id"].get<std::string>() + "/image").c_str())->status, 409);
}

TEST_F(ServerTest, FullQueueAnswers429WithRetryAfter) {
  start(/*max_queue=*/2);
  int status = 0;
  std::vector<std::string> ids;
  int rejected = 0;
  for (int i = 0; i < 6; ++i) {
    auto res = client_->Post("/v1/jobs", R"({"prompt":"a fox","width":128,"height":128,"steps":40})",
                             "application/json");
    ASSERT_TRUE(res);
    if (res->status == 429) {
      ++rejected;
      EXPECT_EQ(res->get_header_value("Retry-After"), "5");
    } else {
      EXPECT_EQ(res->status, 202);
      ids.push_back(json::parse(res->body)["id"]);
    }
  }
  EXPECT_GE(rejected, 3);
  for (const auto& id : ids) client_->Delete(("/v1/jobs/" + id).c_str());
  EXPECT_EQ(get("/healthz", &status)["status"], "ok");
}

struct BadCase {
  const char* path;
  std::string body;
  int status;
  const char* field;
};

TEST_F(ServerTest, BadInputsGetClearErrors) {
  start();
  const std::vector<BadCase> cases = {
      {"/v1/jobs", "{not json", 400, "body"},
      {"/v1/jobs", "[1,2,3]", 400, "body"},
      {"/v1/jobs", "{}", 400, "prompt"},
      {"/v1/jobs", R"({"prompt":5})", 400, "prompt"},
      {"/v1/jobs", R"({"prompt":"x","steps":"ten"})", 400, "steps"},
      {"/v1/jobs", R"({"prompt":"x","steps":-3})", 400, "steps"},
      {"/v1/jobs", R"({"prompt":"x","steps":1000})", 400, "steps"},
      {"/v1/jobs", R"({"prompt":"x","width":64.5})", 400, "width"},
      {"/v1/jobs", R"({"prompt":"x","width":65})", 400, "width"},
      {"/v1/jobs", R"({"prompt":"x","width":100000})", 400, "width"},
      {"/v1/jobs", R"({"prompt":"x","height":-16})", 400, "height"},
      {"/v1/jobs", R"({"prompt":"x","guidance":"high"})", 400, "guidance"},
      {"/v1/jobs", R"({"prompt":"x","seed":"abc"})", 400, "seed"},
      {"/v1/jobs", R"({"prompt":"x","negative_prompt":["a"]})", 400, "negative_prompt"},
      {"/v1/jobs", R"({"prompt":")" + std::string(5000, 'a') + R"("})", 400, "prompt"},
      {"/v1/images/generations", R"({"prompt":"x","size":"big"})", 400, "size"},
      {"/v1/images/generations", R"({"prompt":"x","size":"4096x4096"})", 400, "size"},
      {"/v1/images/generations", R"({"prompt":"x","n":99})", 400, "n"},
      {"/v1/images/generations", R"({"prompt":"x","response_format":"url"})", 400, "response_format"},
      {"/sdapi/v1/txt2img", R"({"prompt":"x","batch_size":0})", 400, "batch_size"},
      {"/sdapi/v1/txt2img", R"({"prompt":"x","cfg_scale":1e309})", 400, "body"},
      // Sizes that overflowed or were read leniently: all refused.
      {"/v1/images/generations", R"({"prompt":"x","size":"4294967360x64"})", 400, "size"},
      {"/v1/images/generations", R"({"prompt":"x","size":" 64x64"})", 400, "size"},
      {"/v1/images/generations", R"({"prompt":"x","size":"+64x+64"})", 400, "size"},
      {"/v1/images/generations", R"({"prompt":"x","size":"64x64 "})", 400, "size"},
      {"/v1/images/generations", R"({"prompt":"x","size":"064x64"})", 400, "size"},
      {"/v1/images/generations", R"({"prompt":"x","size":"64X64"})", 400, "size"},
      {"/v1/images/generations", R"({"prompt":"x","size":"64x"})", 400, "size"},
      {"/v1/images/generations", R"({"prompt":"x","size":"x64"})", 400, "size"},
      // Nesting deep enough to overflow a recursive parser's stack is refused before parsing.
      {"/v1/images/generations", R"({"prompt":"x","a":)" + std::string(200000, '[') + std::string(200000, ']') + "}",
       400, "body"},
      {"/sdapi/v1/txt2img", std::string(100000, '{'), 400, "body"},
  };
  for (const auto& c : cases) {
    int status = 0;
    const json r = post(c.path, c.body, &status);
    EXPECT_EQ(status, c.status) << c.path << " " << c.body.substr(0, 80);
    EXPECT_EQ(r["error"].value("field", ""), c.field) << c.path << " " << c.body.substr(0, 80) << " -> " << r.dump();
  }
  // A 10 MB body is refused before it is parsed.
  auto big = client_->Post("/v1/jobs", std::string(10 << 20, 'x'), "application/json");
  ASSERT_TRUE(big);
  EXPECT_EQ(big->status, 413);
  // Unicode and control characters are just text.
  int status = 0;
  const json ok = post("/v1/jobs", json({{"prompt", "猫 🐱 \u0001\u0007\t\n\"quotes\" \\ é"}, {"width", 32},
                                         {"height", 32}, {"steps", 1}}).dump(), &status);
  EXPECT_EQ(status, 202) << ok.dump();
  EXPECT_EQ(wait_job(ok["id"])["state"], "done");
  EXPECT_EQ(get("/healthz", &status)["status"], "ok");
}

TEST_F(ServerTest, JobIdsAreUnguessable) {
  start();
  int status = 0;
  const std::string a = post("/v1/jobs", R"({"prompt":"x","width":32,"height":32,"steps":1})", &status)["id"];
  const std::string b = post("/v1/jobs", R"({"prompt":"x","width":32,"height":32,"steps":1})", &status)["id"];
  const std::regex form("job-[0-9a-f]{32}");
  EXPECT_TRUE(std::regex_match(a, form)) << a;
  EXPECT_TRUE(std::regex_match(b, form)) << b;
  EXPECT_NE(a, b);
  EXPECT_EQ(get("/v1/jobs/job-1", &status)["error"]["field"], "id");  // no sequential ids to walk
  wait_job(a);
  wait_job(b);
}

TEST(ServerGuard, LoopbackHostsOriginsAndKeys) {
  for (const char* h : {"localhost", "localhost:8080", "127.0.0.1", "127.0.0.1:80", "127.1.2.3:9", "[::1]:8080", "::1",
                        "LOCALHOST", "app.localhost:1"})
    EXPECT_TRUE(server::is_loopback_host(h)) << h;
  for (const char* h : {"evil.example", "evil.example:8080", "127.0.0.1.evil.example", "10.0.0.1", "128.0.0.1",
                        "[::2]:80", "localhost.evil.example", "127.0.0.256"})
    EXPECT_FALSE(server::is_loopback_host(h)) << h;
  server::Guard g;
  g.api_key = "s3cret";
  g.cors_origins = {"https://app.example"};
  std::string why;
  EXPECT_EQ(g.check("/healthz", "127.0.0.1:8080", "", "", &why), 0);
  EXPECT_EQ(g.check("/v1/models", "127.0.0.1:8080", "", "", &why), 401);
  EXPECT_EQ(g.check("/v1/models", "127.0.0.1:8080", "", "Bearer wrong", &why), 401);
  EXPECT_EQ(g.check("/v1/models", "127.0.0.1:8080", "", "Bearer s3cret", &why), 0);
  EXPECT_EQ(g.check("/v1/models", "evil.example:8080", "", "Bearer s3cret", &why), 403);
  EXPECT_NE(why.find("loopback"), std::string::npos) << why;
  EXPECT_EQ(g.check("/v1/jobs", "127.0.0.1:8080", "http://evil.example", "Bearer s3cret", &why), 403);
  EXPECT_EQ(g.check("/v1/jobs", "127.0.0.1:8080", "http://127.0.0.1:8080", "Bearer s3cret", &why), 0);
  EXPECT_EQ(g.check("/v1/jobs", "127.0.0.1:8080", "https://app.example", "Bearer s3cret", &why), 0);
  g.loopback = false;  // listening on a public address: any Host, still the key
  EXPECT_EQ(g.check("/v1/models", "paradit.example.org", "", "Bearer s3cret", &why), 0);
  EXPECT_EQ(g.check("/v1/models", "paradit.example.org", "", "", &why), 401);
}

TEST(ConnectionGate, HeadChecks) {
  using server::HeadCheck;
  server::GateLimits l;
  l.max_header_count = 3;
  l.max_head_bytes = 200;
  l.max_body_bytes = 100;
  EXPECT_EQ(server::check_head("", l).kind, HeadCheck::NeedMore);
  EXPECT_EQ(server::check_head("GET / HTTP/1.1\r\nHost: x\r\n", l).kind, HeadCheck::NeedMore);
  auto c = server::check_head("GET / HTTP/1.1\r\nHost: x\r\n\r\nextra", l);
  EXPECT_EQ(c.kind, HeadCheck::Complete);
  EXPECT_EQ(c.head_bytes, 27u);
  EXPECT_EQ(c.body_bytes, 0u);
  c = server::check_head("GET / HTTP/1.1\nHost: x\n\n", l);  // bare LF
  EXPECT_EQ(c.kind, HeadCheck::Complete);
  EXPECT_EQ(c.head_bytes, 24u);
  c = server::check_head("POST / HTTP/1.1\r\ncontent-LENGTH: 42\r\n\r\n", l);
  EXPECT_EQ(c.kind, HeadCheck::Complete);
  EXPECT_EQ(c.body_bytes, 42u);
  auto refused = [&](const std::string& head, int status) {
    const auto r = server::check_head(head, l);
    EXPECT_EQ(r.kind, HeadCheck::Refuse) << head;
    EXPECT_EQ(r.status, status) << head;
    EXPECT_FALSE(r.reason.empty());
  };
  refused("GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n", 431);
  refused("GET / HTTP/1.1\r\nA: " + std::string(300, 'a'), 431);  // no end yet, already too long
  refused("POST / HTTP/1.1\r\nContent-Length: 101\r\n\r\n", 413);
  refused("POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n", 400);
  refused("POST / HTTP/1.1\r\nContent-Length: +5\r\n\r\n", 400);
  refused("POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", 400);
  refused("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 411);
}

TEST_F(ServerTest, ApiKeyHostAndOriginOverHttp) {
  start(8, "s3cret", {"https://app.example"});
  auto get_with = [&](const std::string& path, const httplib::Headers& h) {
    auto res = client_->Get(path.c_str(), h);
    return res ? res->status : -1;
  };
  EXPECT_EQ(get_with("/healthz", {}), 200);
  EXPECT_EQ(get_with("/", {}), 200);  // the page itself asks for the key
  EXPECT_EQ(get_with("/v1/models", {}), 401);
  EXPECT_EQ(get_with("/metrics", {{"Authorization", "Bearer nope"}}), 401);
  EXPECT_EQ(get_with("/v1/models", {{"Authorization", "Bearer s3cret"}}), 200);
  EXPECT_EQ(get_with("/v1/models", {{"Authorization", "Bearer s3cret"}, {"Host", "evil.example"}}), 403);
  // A cross-origin text/plain POST from any web page (no preflight) is refused.
  auto post = client_->Post("/v1/jobs", {{"Origin", "http://evil.example"}, {"Authorization", "Bearer s3cret"}},
                            R"({"prompt":"x"})", "text/plain");
  ASSERT_TRUE(post);
  EXPECT_EQ(post->status, 403);
  auto allowed = client_->Get("/v1/models", {{"Origin", "https://app.example"}, {"Authorization", "Bearer s3cret"}});
  ASSERT_TRUE(allowed);
  EXPECT_EQ(allowed->status, 200);
  EXPECT_EQ(allowed->get_header_value("Access-Control-Allow-Origin"), "https://app.example");
  auto unauthorised = client_->Get("/v1/models");
  ASSERT_TRUE(unauthorised);
  EXPECT_EQ(unauthorised->get_header_value("WWW-Authenticate"), "Bearer");
}

TEST_F(ServerTest, FinishedJobsExpireWith410) {
  start(8, "", {}, 0.5);
  int status = 0;
  const std::string id = post("/v1/jobs", R"({"prompt":"x","width":32,"height":32,"steps":1})", &status)["id"];
  EXPECT_EQ(wait_job(id)["state"], "done");
  get("/v1/jobs/" + id, &status);
  EXPECT_EQ(status, 200);
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  const json gone = get("/v1/jobs/" + id, &status);
  EXPECT_EQ(status, 410) << gone.dump();
  get("/v1/jobs/" + id + "/image", &status);
  EXPECT_EQ(status, 410);
  get("/v1/jobs/job-00000000000000000000000000000000", &status);
  EXPECT_EQ(status, 404);  // never existed
}

TEST_F(ServerTest, CancelledSynchronousRequestGets409) {
  start();
  int status = 0;
  // A long job holds the worker; the synchronous request waits behind it and is cancelled when
  // the server stops.
  post("/v1/jobs", R"({"prompt":"x","width":256,"height":256,"steps":40})", &status);
  int sync_status = 0;
  json sync_body;
  std::thread sync([&] {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(60, 0);
    auto res = c.Post("/v1/images/generations", R"({"prompt":"x","size":"32x32","steps":1})", "application/json");
    if (res) {
      sync_status = res->status;
      sync_body = json::parse(res->body, nullptr, false);
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  server_->stop(true);
  sync.join();
  EXPECT_EQ(sync_status, 409);
  EXPECT_EQ(sync_body["error"].value("field", ""), "cancelled") << sync_body.dump();
}

// Two requests written back to back on one connection: the first is answered, says
// "Connection: close", and the connection ends; nothing is dropped silently.
TEST_F(ServerTest, PipelinedRequestsCloseAfterTheFirstResponse) {
  start();
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port_));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  const std::string two = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\nGET /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  ASSERT_EQ(::send(fd, two.data(), two.size(), 0), static_cast<ssize_t>(two.size()));
  std::string got;
  char buf[4096];
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) got.append(buf, static_cast<size_t>(n));
  ::close(fd);
  EXPECT_EQ(got.rfind("HTTP/1.1 200", 0), 0u) << got;
  EXPECT_NE(got.find("Connection: close"), std::string::npos) << got;
  EXPECT_NE(got.find("\"status\":\"ok\""), std::string::npos) << got;
  int status = 0;
  EXPECT_EQ(get("/healthz", &status)["status"], "ok");
}

TEST_F(ServerTest, ClientThatDisconnectsDoesNotStopTheServer) {
  start();
  {
    httplib::Client impatient("127.0.0.1", port_);
    impatient.set_read_timeout(0, 50000);  // gives up long before the image is ready
    auto res = impatient.Post("/v1/images/generations", R"({"prompt":"x","size":"256x256","steps":30})",
                              "application/json");
    EXPECT_FALSE(res);
  }
  int status = 0;
  EXPECT_EQ(get("/healthz", &status)["status"], "ok");
  const json r = post("/v1/images/generations", R"({"prompt":"x","size":"32x32","steps":1})", &status);
  EXPECT_EQ(status, 200);
}

}  // namespace
}  // namespace paradit
