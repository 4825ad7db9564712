#include "server/job_queue.h"

#include <algorithm>

namespace paradit::server {

const char* state_name(Job::State s) {
  switch (s) {
    case Job::State::Queued: return "queued";
    case Job::State::Running: return "running";
    case Job::State::Done: return "done";
    case Job::State::Failed: return "failed";
    case Job::State::Cancelled: return "cancelled";
  }
  return "unknown";
}

JobQueue::JobQueue(const api::Pipeline& pipeline, size_t max_queue, Metrics& metrics, size_t keep_finished,
                   double keep_seconds)
    : pipeline_(pipeline), metrics_(metrics), max_queue_(max_queue), keep_finished_(keep_finished),
      keep_seconds_(keep_seconds) {
  worker_ = std::thread([this] { work(); });
}

std::string JobQueue::new_id() {
  static const char hex[] = "0123456789abcdef";
  std::string id = "job-";
  for (int i = 0; i < 4; ++i) {
    const uint32_t v = entropy_();
    for (int k = 0; k < 8; ++k) id += hex[(v >> (4 * k)) & 15];
  }
  return id;
}

JobQueue::~JobQueue() {
  shutdown(true);
  if (worker_.joinable()) worker_.join();
}

std::vector<std::shared_ptr<Job>> JobQueue::submit(const std::vector<api::Request>& requests) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (stopping_ || queue_.size() + requests.size() > max_queue_) {
    metrics_.job_rejected();
    throw QueueFull();
  }
  std::vector<std::shared_ptr<Job>> out;
  for (const auto& r : requests) {
    auto job = std::make_shared<Job>();
    job->id = new_id();
    job->request = r;
    job->total = r.steps;
    jobs_[job->id] = job;
    queue_.push_back(job);
    out.push_back(job);
  }
  changed_.notify_all();
  return out;
}

void JobQueue::finished_locked(const std::string& id) {
  finished_.emplace_back(id, std::chrono::steady_clock::now());
  expire_locked();
}

void JobQueue::expire_locked() {
  const auto now = std::chrono::steady_clock::now();
  while (!finished_.empty() &&
         (finished_.size() > keep_finished_ ||
          std::chrono::duration<double>(now - finished_.front().second).count() > keep_seconds_)) {
    const std::string id = finished_.front().first;
    finished_.pop_front();
    jobs_.erase(id);
    if (expired_.insert(id).second) expired_order_.push_back(id);
    if (expired_order_.size() > 10000) {  // remembering ids is bounded too
      expired_.erase(expired_order_.front());
      expired_order_.pop_front();
    }
  }
}

bool JobQueue::expired(const std::string& id) {
  std::lock_guard<std::mutex> lock(mutex_);
  expire_locked();
  return expired_.count(id) != 0;
}

std::shared_ptr<Job> JobQueue::find(const std::string& id) {
  std::lock_guard<std::mutex> lock(mutex_);
  expire_locked();
  auto it = jobs_.find(id);
  return it == jobs_.end() ? nullptr : it->second;
}

bool JobQueue::cancel(const std::string& id) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = jobs_.find(id);
  if (it == jobs_.end()) return false;
  Job& job = *it->second;
  if (job.state == Job::State::Queued) {
    queue_.erase(std::remove(queue_.begin(), queue_.end(), it->second), queue_.end());
    job.state = Job::State::Cancelled;
    metrics_.job_cancelled();
    finished_locked(job.id);
    changed_.notify_all();
    return true;
  }
  if (job.state == Job::State::Running) {
    job.cancel = true;
    return true;
  }
  return false;
}

void JobQueue::wait(const std::shared_ptr<Job>& job) const {
  std::unique_lock<std::mutex> lock(mutex_);
  changed_.wait(lock, [&] { return job->state != Job::State::Queued && job->state != Job::State::Running; });
}

Job::State JobQueue::snapshot(const Job& job, int* step, int* total, double* elapsed, std::string* error) const {
  std::lock_guard<std::mutex> lock(mutex_);
  *step = job.step;
  *total = job.total;
  *elapsed = job.elapsed_s;
  *error = job.error;
  return job.state;
}

size_t JobQueue::depth() const {
  std::lock_guard<std::mutex> lock(mutex_);
  size_t running = 0;
  for (const auto& [id, job] : jobs_) running += job->state == Job::State::Running;
  return queue_.size() + running;
}

void JobQueue::shutdown(bool cancel_running) {
  std::lock_guard<std::mutex> lock(mutex_);
  stopping_ = true;
  for (auto& job : queue_) {
    job->state = Job::State::Cancelled;
    finished_locked(job->id);
  }
  queue_.clear();
  if (cancel_running)
    for (auto& [id, job] : jobs_)
      if (job->state == Job::State::Running) job->cancel = true;
  changed_.notify_all();
}

void JobQueue::drain() {
  if (worker_.joinable()) worker_.join();
}

void JobQueue::work() {
  for (;;) {
    std::shared_ptr<Job> job;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      changed_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping and nothing left
      job = queue_.front();
      queue_.pop_front();
      job->state = Job::State::Running;
    }
    const auto start = std::chrono::steady_clock::now();
    double last = 0;
    Job::State final_state = Job::State::Done;
    std::vector<uint8_t> png;
    std::string parameters, error;
    try {
      const api::Result result = pipeline_.generate(
          job->request,
          [&](const api::Progress& p) {
            metrics_.step(p.elapsed_s - last);
            last = p.elapsed_s;
            std::lock_guard<std::mutex> lock(mutex_);
            job->step = p.step;
            job->total = p.total;
            job->elapsed_s = p.elapsed_s;
            changed_.notify_all();
          },
          &job->cancel);
      png = result.image.png();
      parameters = result.image.parameters;
    } catch (const api::Cancelled&) {
      final_state = Job::State::Cancelled;
    } catch (const std::exception& e) {
      final_state = Job::State::Failed;
      error = e.what();
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (final_state == Job::State::Done) metrics_.job_done(seconds);
    else if (final_state == Job::State::Cancelled) metrics_.job_cancelled();
    else metrics_.job_failed();
    std::lock_guard<std::mutex> lock(mutex_);
    job->state = final_state;
    job->png = std::move(png);
    job->parameters = std::move(parameters);
    job->error = std::move(error);
    finished_locked(job->id);  // bounds the memory of finished jobs
    changed_.notify_all();
  }
}

}  // namespace paradit::server
