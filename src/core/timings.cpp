#include "core/timings.h"

#include <sys/resource.h>
#include <algorithm>
#include <cstdio>
#include <sstream>


namespace paradit {

Timings::Scope::Scope(Timings* t, std::string name)
    : timings_(t), name_(std::move(name)), start_(std::chrono::steady_clock::now()) {}

Timings::Scope::~Scope() {
  if (!timings_) return;
  const auto end = std::chrono::steady_clock::now();
  timings_->add(name_, timings_->since_origin(start_), std::chrono::duration<double>(end - start_).count());
}

double Timings::since_origin(std::chrono::steady_clock::time_point t) const {
  return std::chrono::duration<double>(t - origin_).count();
}

void Timings::add(const std::string& name, double start_s, double duration_s) {
  events_.push_back({name, start_s, duration_s});
}

double Timings::total(const std::string& prefix) const {
  double sum = 0;
  for (const auto& e : events_)
    if (e.name.compare(0, prefix.size(), prefix) == 0) sum += e.duration_s;
  return sum;
}

std::string Timings::table() const {
  std::ostringstream out;
  char line[160];
  std::snprintf(line, sizeof line, "%-28s %10s\n", "section", "seconds");
  out << line;
  // Sections in first-seen order, repeated ones (CLIP for prompt and negative) summed; the
  // denoising steps as one line with their mean.
  std::vector<std::pair<std::string, double>> rows;
  int steps = 0;
  for (const auto& e : events_) {
    const bool step = e.name.rfind("denoising_step_", 0) == 0;
    steps += step;
    const std::string name = step ? "denoising" : e.name;
    auto it = std::find_if(rows.begin(), rows.end(), [&](const auto& r) { return r.first == name; });
    if (it == rows.end()) rows.emplace_back(name, e.duration_s);
    else it->second += e.duration_s;
  }
  for (const auto& [name, seconds] : rows) {
    if (name == "denoising")
      std::snprintf(line, sizeof line, "%-28s %10.3f  (%d steps, %.3f s/step)\n", name.c_str(), seconds, steps,
                    seconds / steps);
    else
      std::snprintf(line, sizeof line, "%-28s %10.3f\n", name.c_str(), seconds);
    out << line;
  }
  return out.str();
}

std::string Timings::chrome_trace_json() const {
  std::ostringstream json;
  json << "{\"traceEvents\":[";
  for (size_t i = 0; i < events_.size(); ++i) {
    const auto& e = events_[i];
    json << (i ? "," : "") << "{\"name\":\"" << e.name << "\",\"ph\":\"X\",\"pid\":1,\"tid\":1,\"ts\":"
         << static_cast<long long>(e.start_s * 1e6) << ",\"dur\":" << static_cast<long long>(e.duration_s * 1e6) << "}";
  }
  json << "],\"displayTimeUnit\":\"ms\"}\n";
  return json.str();
}

size_t peak_rss_bytes() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<size_t>(u.ru_maxrss) * 1024;
}

}  // namespace paradit
