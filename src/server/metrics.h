// Prometheus metrics for /metrics: queue depth, jobs done/failed/cancelled/rejected, and
// histograms of step and job latency, in the text exposition format.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace paradit::server {

class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}
  void observe(double v);
  std::string render(const std::string& name, const std::string& help) const;

 private:
  std::vector<double> bounds_;
  std::vector<uint64_t> counts_;
  double sum_ = 0;
  uint64_t count_ = 0;
};

class Metrics {
 public:
  void job_done(double seconds);
  void job_failed();
  void job_cancelled();
  void job_rejected();
  void step(double seconds);
  void request(int status);
  std::string render(size_t queue_depth) const;
  uint64_t jobs_done() const;

 private:
  mutable std::mutex mutex_;
  uint64_t done_ = 0, failed_ = 0, cancelled_ = 0, rejected_ = 0;
  uint64_t responses_2xx_ = 0, responses_4xx_ = 0, responses_5xx_ = 0;
  Histogram step_seconds_{{0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 120}};
  Histogram job_seconds_{{0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600}};
};

}  // namespace paradit::server
