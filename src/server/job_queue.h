// The server's bounded FIFO of generation jobs and the one worker that runs them. The model is
// loaded once and stays resident; jobs report step i of N and an ETA, can be cancelled between
// steps, and finished ones are kept (up to a limit) so clients can fetch their images.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <set>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "paradit/paradit.h"
#include "server/metrics.h"

namespace paradit::server {

struct Job {
  enum class State { Queued, Running, Done, Failed, Cancelled };
  std::string id;
  api::Request request;
  // Guarded by the queue's mutex:
  State state = State::Queued;
  int step = 0, total = 0;
  double elapsed_s = 0;
  std::vector<uint8_t> png;
  std::string parameters, error;
  std::atomic<bool> cancel{false};
};

const char* state_name(Job::State s);

class QueueFull : public std::runtime_error {
 public:
  QueueFull() : std::runtime_error("the queue is full") {}
};

class JobQueue {
 public:
  // Finished jobs stay readable for `keep_seconds` (at most `keep_finished` of them); after that
  // their ids answer as expired (410) rather than unknown.
  JobQueue(const api::Pipeline& pipeline, size_t max_queue, Metrics& metrics, size_t keep_finished = 64,
           double keep_seconds = 600);
  ~JobQueue();

  // Queues all or none of `requests`; throws QueueFull when they don't fit.
  std::vector<std::shared_ptr<Job>> submit(const std::vector<api::Request>& requests);
  std::shared_ptr<Job> find(const std::string& id);
  bool expired(const std::string& id);  // finished, kept for its time, then dropped
  // Cancels a queued job at once, a running one at its next step; false if unknown or over.
  bool cancel(const std::string& id);
  // Blocks until the job is over (done, failed or cancelled).
  void wait(const std::shared_ptr<Job>& job) const;
  // A consistent copy of the job's fields, taken under the lock.
  Job::State snapshot(const Job& job, int* step, int* total, double* elapsed, std::string* error) const;
  size_t depth() const;
  // Stops taking jobs; the running one finishes (or is cancelled when `cancel_running`).
  void shutdown(bool cancel_running);
  // After shutdown: waits for the worker to finish the job it is running.
  void drain();

 private:
  void work();
  const api::Pipeline& pipeline_;
  Metrics& metrics_;
  void finished_locked(const std::string& id);  // records a job's end; drops what is too old
  void expire_locked();
  const size_t max_queue_, keep_finished_;
  const double keep_seconds_;
  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;
  std::deque<std::shared_ptr<Job>> queue_;
  std::map<std::string, std::shared_ptr<Job>> jobs_;
  std::deque<std::pair<std::string, std::chrono::steady_clock::time_point>> finished_;
  std::set<std::string> expired_;     // the ids dropped most recently (bounded by expired_order_)
  std::deque<std::string> expired_order_;
  bool stopping_ = false;
  std::string new_id();  // under mutex_
  std::random_device entropy_;  // job ids: 128 random bits, so no client can guess another's
  std::thread worker_;
};

}  // namespace paradit::server
