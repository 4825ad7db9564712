// A bounded load test of the server with the tiny model: 200 requests from 16 concurrent
// clients against a queue of 8. Every accepted job must complete, every rejection must be a
// 429, the server must stay up, and its resident memory must stay flat (within 10% after a
// warm-up). Prints the figures recorded in docs/perf.md.
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "paradit/paradit.h"
#include "server/http_server.h"

namespace paradit {
namespace {

using json = nlohmann::json;

long rss_kb() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}

struct Totals {
  std::atomic<int> accepted{0}, rejected{0}, completed{0}, other{0};
};

// One client: submit, and when accepted poll until the job is over.
void client(int port, int requests, Totals& t, std::atomic<int>& next) {
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(60, 0);
  while (next.fetch_add(1) < requests) {
    const char* body = R"({"prompt":"a fox in the snow","width":64,"height":64,"steps":2,"seed":-1})";
    auto res = c.Post("/v1/jobs", body, "application/json");
    // The server closes a keep-alive connection after a few requests; a client that writes
    // into it at that moment sees a transport error and, like any HTTP client, reconnects.
    if (!res) res = c.Post("/v1/jobs", body, "application/json");
    if (!res) {
      ++t.other;
      continue;
    }
    if (res->status == 429) {
      ++t.rejected;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));  // back off, as Retry-After asks
      continue;
    }
    if (res->status != 202) {
      std::fprintf(stderr, "unexpected status %d: %s\n", res->status, res->body.c_str());
      ++t.other;
      continue;
    }
    ++t.accepted;
    const std::string id = json::parse(res->body)["id"];
    for (int i = 0; i < 6000; ++i) {
      auto st = c.Get(("/v1/jobs/" + id).c_str());
      if (!st) st = c.Get(("/v1/jobs/" + id).c_str());  // the same reconnect as above
      if (!st) break;
      const std::string state = json::parse(st->body)["state"];
      if (state == "done") {
        auto img = c.Get(("/v1/jobs/" + id + "/image").c_str());
        if (!img) img = c.Get(("/v1/jobs/" + id + "/image").c_str());
        if (img && img->status == 200 && img->body.substr(1, 3) == "PNG") ++t.completed;
        break;
      }
      if (state != "queued" && state != "running") break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
}

TEST(ServerLoad, TwoHundredRequestsFromSixteenClients) {
  api::LoadOptions o;
  o.model = std::string(PARADIT_FIXTURES_DIR) + "/tiny-sd35";
  o.no_t5 = true;
  const auto pipeline = api::Pipeline::load(o);
  server::ServerOptions so;
  so.port = 0;
  so.max_queue = 8;  // fewer slots than clients, so some requests must be turned away
  server::Server server(*pipeline, so);
  const int port = server.bind();
  std::thread serving([&] { server.run(); });

  auto run = [&](int requests, int clients) {
    Totals t;
    std::atomic<int> next{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < clients; ++i) threads.emplace_back([&] { client(port, requests, t, next); });
    for (auto& th : threads) th.join();
    return std::array<int, 4>{t.accepted.load(), t.rejected.load(), t.completed.load(), t.other.load()};
  };
  run(40, 16);  // warm-up: caches, pools and allocator settle
  const long rss_warm = rss_kb();
  const auto start = std::chrono::steady_clock::now();
  const auto [accepted, rejected, completed, other] = run(200, 16);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const long rss_end = rss_kb();
  httplib::Client c("127.0.0.1", port);
  auto health = c.Get("/healthz");
  std::printf("  [load] 200 requests, 16 clients, queue 8: %d accepted, %d rejected (429), %d completed, %d other, "
              "%.2f s, %.1f accepted jobs/s; RSS %ld -> %ld kB (%+.1f%%)\n",
              accepted, rejected, completed, other, seconds, accepted / seconds, rss_warm, rss_end,
              100.0 * static_cast<double>(rss_end - rss_warm) / static_cast<double>(rss_warm));
  EXPECT_EQ(accepted + rejected + other, 200);
  EXPECT_EQ(other, 0);
  EXPECT_EQ(completed, accepted);
  EXPECT_GT(accepted, 0);
  EXPECT_GT(rejected, 0);  // the queue did fill up
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  EXPECT_LE(rss_end, rss_warm * 11 / 10);
  server.stop(false);
  serving.join();
}

}  // namespace
}  // namespace paradit
