#include "server/metrics.h"

#include <sstream>

namespace paradit::server {

void Histogram::observe(double v) {
  size_t i = 0;
  while (i < bounds_.size() && v > bounds_[i]) ++i;
  ++counts_[i];
  sum_ += v;
  ++count_;
}

std::string Histogram::render(const std::string& name, const std::string& help) const {
  std::ostringstream out;
  out << "# HELP " << name << " " << help << "\n# TYPE " << name << " histogram\n";
  uint64_t cumulative = 0;
  for (size_t i = 0; i < bounds_.size(); ++i) {
    cumulative += counts_[i];
    out << name << "_bucket{le=\"" << bounds_[i] << "\"} " << cumulative << "\n";
  }
  out << name << "_bucket{le=\"+Inf\"} " << count_ << "\n" << name << "_sum " << sum_ << "\n"
      << name << "_count " << count_ << "\n";
  return out.str();
}

void Metrics::job_done(double seconds) {
  std::lock_guard<std::mutex> lock(mutex_);
  ++done_;
  job_seconds_.observe(seconds);
}
void Metrics::job_failed() {
  std::lock_guard<std::mutex> lock(mutex_);
  ++failed_;
}
void Metrics::job_cancelled() {
  std::lock_guard<std::mutex> lock(mutex_);
  ++cancelled_;
}
void Metrics::job_rejected() {
  std::lock_guard<std::mutex> lock(mutex_);
  ++rejected_;
}
void Metrics::step(double seconds) {
  std::lock_guard<std::mutex> lock(mutex_);
  step_seconds_.observe(seconds);
}
void Metrics::request(int status) {
  std::lock_guard<std::mutex> lock(mutex_);
  (status < 400 ? responses_2xx_ : status < 500 ? responses_4xx_ : responses_5xx_)++;
}

uint64_t Metrics::jobs_done() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return done_;
}

std::string Metrics::render(size_t queue_depth) const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::ostringstream out;
  out << "# HELP paradit_queue_depth Jobs waiting or running.\n# TYPE paradit_queue_depth gauge\n"
      << "paradit_queue_depth " << queue_depth << "\n"
      << "# HELP paradit_jobs_total Jobs by outcome.\n# TYPE paradit_jobs_total counter\n"
      << "paradit_jobs_total{outcome=\"done\"} " << done_ << "\n"
      << "paradit_jobs_total{outcome=\"failed\"} " << failed_ << "\n"
      << "paradit_jobs_total{outcome=\"cancelled\"} " << cancelled_ << "\n"
      << "paradit_jobs_total{outcome=\"rejected\"} " << rejected_ << "\n"
      << "# HELP paradit_http_responses_total HTTP responses by class.\n# TYPE paradit_http_responses_total counter\n"
      << "paradit_http_responses_total{class=\"2xx\"} " << responses_2xx_ << "\n"
      << "paradit_http_responses_total{class=\"4xx\"} " << responses_4xx_ << "\n"
      << "paradit_http_responses_total{class=\"5xx\"} " << responses_5xx_ << "\n"
      << step_seconds_.render("paradit_step_seconds", "Latency of one denoising step.")
      << job_seconds_.render("paradit_job_seconds", "Latency of one whole job.");
  return out.str();
}

}  // namespace paradit::server
