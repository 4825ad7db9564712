// Timing collection, as the seed's pipeline does it: named sections (clip_encoding,
// t5_encoding, denoising_step_3, vae_decode, total), a table for --timings, and Chrome
// trace-event JSON for --trace that Perfetto and chrome://tracing open.
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace paradit {

class Timings {
 public:
  struct Event {
    std::string name;
    double start_s = 0;     // since the collector was created
    double duration_s = 0;
  };
  Timings() : origin_(std::chrono::steady_clock::now()) {}

  // Times the enclosing scope: auto t = timings.scope("vae_decode");
  class Scope {
   public:
    Scope(Timings* t, std::string name);
    ~Scope();
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

   private:
    Timings* timings_;
    std::string name_;
    std::chrono::steady_clock::time_point start_;
  };
  Scope scope(const std::string& name) { return Scope(this, name); }

  void add(const std::string& name, double start_s, double duration_s);
  const std::vector<Event>& events() const { return events_; }
  double total(const std::string& prefix) const;  // the summed duration of events starting with prefix
  std::string table() const;
  std::string chrome_trace_json() const;  // Chrome trace-event JSON (Perfetto opens it)
  double since_origin(std::chrono::steady_clock::time_point t) const;

 private:
  std::chrono::steady_clock::time_point origin_;
  std::vector<Event> events_;
};

// Peak resident memory of this process so far, in bytes.
size_t peak_rss_bytes();

}  // namespace paradit
