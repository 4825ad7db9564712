#include "server/connection_gate.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>

namespace paradit::server {
namespace {

using Clock = std::chrono::steady_clock;

Clock::time_point after(double seconds) {
  return Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
}

// A thread for every connection being served, kept for the next one when it is done: workers are
// added whenever all are busy (so no connection ever waits behind another), and one idle for a
// minute leaves while more than 8 remain. Reusing threads keeps each one's malloc arena and
// stack, so memory stays flat under a stream of short connections. shutdown() waits for all.
class ConnectionThreads : public httplib::TaskQueue {
 public:
  void enqueue(std::function<void()> fn) override {
    std::unique_lock<std::mutex> lock(mutex_);
    tasks_.push_back(std::move(fn));
    if (tasks_.size() <= idle_) {
      work_.notify_one();
      return;
    }
    ++threads_;
    try {
      std::thread([this] { worker(); }).detach();
    } catch (const std::system_error&) {  // no thread to be had: serve it on the accepting one
      --threads_;
      auto task = std::move(tasks_.back());
      tasks_.pop_back();
      lock.unlock();
      task();
    }
  }
  void shutdown() override {
    std::unique_lock<std::mutex> lock(mutex_);
    stopping_ = true;
    work_.notify_all();
    done_.wait(lock, [&] { return threads_ == 0; });
  }

 private:
  void worker() {
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      ++idle_;
      const bool woken = work_.wait_for(lock, std::chrono::seconds(60), [&] { return !tasks_.empty() || stopping_; });
      --idle_;
      if (tasks_.empty() && (stopping_ || (!woken && threads_ > 8))) break;
      if (tasks_.empty()) continue;
      auto task = std::move(tasks_.front());
      tasks_.pop_front();
      lock.unlock();
      task();
      task = nullptr;
      lock.lock();
    }
    if (--threads_ == 0) done_.notify_all();  // under the lock: shutdown() returns only after this
  }
  std::mutex mutex_;
  std::condition_variable work_, done_;
  std::deque<std::function<void()>> tasks_;
  size_t idle_ = 0, threads_ = 0;
  bool stopping_ = false;
};

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t");
  const auto e = s.find_last_not_of(" \t\r");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

const char* status_text(int status) {
  switch (status) {
    case 400: return "Bad Request";
    case 408: return "Request Timeout";
    case 411: return "Length Required";
    case 413: return "Payload Too Large";
    case 431: return "Request Header Fields Too Large";
    case 503: return "Service Unavailable";
    default: return "Error";
  }
}

std::string json_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) >= 0x20) out += c;
  }
  return out;
}

// Waits until `sock` is readable (true) or the deadline passes or the gate stops (false).
bool wait_readable(int sock, Clock::time_point deadline, const std::atomic<bool>& stopping) {
  while (!stopping) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    pollfd p{sock, POLLIN, 0};
    const int r = ::poll(&p, 1, static_cast<int>(std::min<long long>(left, 200)));
    if (r > 0) return true;
    if (r < 0 && errno != EINTR) return false;
  }
  return false;
}

// Writes all of `data` before the deadline; false when the peer is gone or too slow.
bool write_all(int sock, const char* data, size_t size, Clock::time_point deadline) {
  size_t done = 0;
  while (done < size) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    pollfd p{sock, POLLOUT, 0};
    const int r = ::poll(&p, 1, static_cast<int>(std::min<long long>(left, 1000)));
    if (r < 0 && errno != EINTR) return false;
    if (r <= 0) continue;
    const ssize_t n = ::send(sock, data + done, size - done, MSG_NOSIGNAL);
    if (n < 0 && errno != EINTR && errno != EAGAIN) return false;
    if (n > 0) done += static_cast<size_t>(n);
  }
  return true;
}

// A request read whole by the gate, handed to the library's parser; replies go to the socket.
class BufferedRequestStream : public httplib::Stream {
 public:
  BufferedRequestStream(int sock, std::string request, double write_timeout_s)
      : sock_(sock), data_(std::move(request)), write_timeout_s_(write_timeout_s) {}
  bool is_readable() const override { return pos_ < data_.size(); }
  bool is_writable() const override {
    pollfd p{sock_, POLLOUT, 0};
    return ::poll(&p, 1, static_cast<int>(write_timeout_s_ * 1000)) > 0;
  }
  ssize_t read(char* ptr, size_t size) override {
    const size_t n = std::min(size, data_.size() - pos_);
    std::copy_n(data_.data() + pos_, n, ptr);
    pos_ += n;
    return static_cast<ssize_t>(n);
  }
  ssize_t write(const char* ptr, size_t size) override {
    return write_all(sock_, ptr, size, after(write_timeout_s_)) ? static_cast<ssize_t>(size) : -1;
  }
  void get_remote_ip_and_port(std::string& ip, int& port) const override { address(::getpeername, ip, port); }
  void get_local_ip_and_port(std::string& ip, int& port) const override { address(::getsockname, ip, port); }
  socket_t socket() const override { return sock_; }

 private:
  template <typename F>
  void address(F get, std::string& ip, int& port) const {
    sockaddr_storage a{};
    socklen_t len = sizeof a;
    ip.clear();
    port = 0;
    if (get(sock_, reinterpret_cast<sockaddr*>(&a), &len) != 0) return;
    char text[INET6_ADDRSTRLEN] = {};
    if (a.ss_family == AF_INET) {
      const auto* v4 = reinterpret_cast<const sockaddr_in*>(&a);
      ::inet_ntop(AF_INET, &v4->sin_addr, text, sizeof text);
      port = ntohs(v4->sin_port);
    } else if (a.ss_family == AF_INET6) {
      const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&a);
      ::inet_ntop(AF_INET6, &v6->sin6_addr, text, sizeof text);
      port = ntohs(v6->sin6_port);
    }
    ip = text;
  }
  int sock_;
  std::string data_;
  size_t pos_ = 0;
  double write_timeout_s_;
};

// Answers `status` with a JSON error and lets the client read it before the socket closes.
void refuse(int sock, int status, const std::string& reason) {
  const std::string body = R"({"error":{"message":")" + json_escape(reason) + R"(","type":")" +
                           (status == 503 ? "server_busy" : "invalid_request_error") + "\"}}";
  std::string head = "HTTP/1.1 " + std::to_string(status) + " " + status_text(status) +
                     "\r\nContent-Type: application/json\r\nConnection: close\r\n";
  if (status == 503) head += "Retry-After: 1\r\n";
  head += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n";
  const std::string reply = head + body;
  write_all(sock, reply.data(), reply.size(), after(2));
  // Closing with unread bytes would reset the connection and could lose the reply: half-close,
  // then read what the client still sends for a moment.
  ::shutdown(sock, SHUT_WR);
  const auto until = after(0.5);
  char sink[4096];
  std::atomic<bool> never{false};
  while (wait_readable(sock, until, never) && ::recv(sock, sink, sizeof sink, 0) > 0) {
  }
}

}  // namespace

HeadCheck check_head(const std::string& received, const GateLimits& limits) {
  HeadCheck out;
  // The head ends at the first empty line (CRLF CRLF; a bare LF is tolerated as the parser does).
  size_t end = std::string::npos;
  for (size_t i = received.find('\n'); i != std::string::npos && end == std::string::npos;
       i = received.find('\n', i + 1)) {
    if (i + 1 < received.size() && received[i + 1] == '\n') end = i + 2;
    else if (i + 2 < received.size() && received[i + 1] == '\r' && received[i + 2] == '\n') end = i + 3;
  }
  if ((end == std::string::npos && received.size() > limits.max_head_bytes) ||
      (end != std::string::npos && end > limits.max_head_bytes)) {
    out.kind = HeadCheck::Refuse;
    out.status = 431;
    out.reason = "the request head is over " + std::to_string(limits.max_head_bytes) + " bytes";
    return out;
  }
  if (end == std::string::npos) return out;
  size_t count = 0;
  bool have_length = false, chunked = false;
  unsigned long long length = 0;
  size_t line_start = received.find('\n') + 1;  // past the request line
  while (line_start < end) {
    const size_t line_end = received.find('\n', line_start);
    const std::string line = trim(received.substr(line_start, line_end - line_start));
    line_start = line_end + 1;
    if (line.empty()) break;
    if (++count > limits.max_header_count) {
      out.kind = HeadCheck::Refuse;
      out.status = 431;
      out.reason = "the request has more than " + std::to_string(limits.max_header_count) + " header lines";
      return out;
    }
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;  // the parser decides about malformed lines
    const std::string name = lower(trim(line.substr(0, colon)));
    const std::string value = trim(line.substr(colon + 1));
    if (name == "transfer-encoding" && lower(value) != "identity") chunked = true;
    if (name == "content-length") {
      const bool digits = !value.empty() && value.size() <= 19 &&
                          std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; });
      const unsigned long long v = digits ? std::stoull(value) : 0;
      if (!digits || (have_length && v != length)) {
        out.kind = HeadCheck::Refuse;
        out.status = 400;
        out.reason = "the Content-Length header is not one decimal number";
        return out;
      }
      have_length = true;
      length = v;
    }
  }
  if (chunked) {
    out.kind = HeadCheck::Refuse;
    out.status = 411;
    out.reason = "chunked request bodies are not accepted; send Content-Length";
    return out;
  }
  if (length > limits.max_body_bytes) {
    out.kind = HeadCheck::Refuse;
    out.status = 413;
    out.reason = "the body is over " + std::to_string(limits.max_body_bytes) + " bytes";
    return out;
  }
  out.kind = HeadCheck::Complete;
  out.head_bytes = end;
  out.body_bytes = static_cast<size_t>(length);
  return out;
}

GatedServer::GatedServer(const GateLimits& limits) : limits_(limits) {
  new_task_queue = [] { return new ConnectionThreads; };
}

bool GatedServer::process_and_close_socket(socket_t sock) {
  struct Slot {
    std::atomic<size_t>& n;
    explicit Slot(std::atomic<size_t>& c) : n(c) { ++n; }
    ~Slot() { --n; }
  } slot(open_);
  auto give_up = [&](int status, const std::string& reason) {
    if (status != 0) {
      refuse(sock, status, reason);
      if (on_refused) on_refused(status, reason);
    }
    ::shutdown(sock, SHUT_RDWR);
    ::close(sock);
    return false;
  };
  if (open_ > limits_.max_connections)
    return give_up(503, "too many open connections (the limit is " + std::to_string(limits_.max_connections) +
                            ", --max-connections); retry shortly");

  std::string buffer;
  char chunk[8192];
  HeadCheck head;
  const auto head_deadline = after(limits_.head_timeout_s);
  // The head can only have ended, or grown too long, once a newline or more bytes than the cap
  // arrived: checking after every byte would be quadratic for a client that trickles its head.
  bool check = false;
  while (!check || (head = check_head(buffer, limits_)).kind == HeadCheck::NeedMore) {
    if (!wait_readable(sock, head_deadline, stopping_))
      return give_up(stopping_ || buffer.empty() ? 0 : 408,
                     "the request head did not arrive within " + std::to_string(int(limits_.head_timeout_s)) + " s");
    const ssize_t n = ::recv(sock, chunk, sizeof chunk, 0);
    if (n <= 0) return give_up(0, "");
    buffer.append(chunk, static_cast<size_t>(n));
    check = std::memchr(chunk, '\n', static_cast<size_t>(n)) != nullptr || buffer.size() > limits_.max_head_bytes;
  }
  if (head.kind == HeadCheck::Refuse) return give_up(head.status, head.reason);

  // "Expect: 100-continue": the gate wants the body now, so it says so itself and removes the
  // header (the parser would otherwise answer it a second time).
  const std::string lowered_head = lower(buffer.substr(0, head.head_bytes));
  const auto expect = lowered_head.find("\nexpect:");
  if (expect != std::string::npos) {
    const auto line_end = buffer.find('\n', expect + 1);
    if (lowered_head.find("100-continue", expect) < line_end && head.body_bytes > 0 &&
        buffer.size() < head.head_bytes + head.body_bytes) {
      static const char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";
      write_all(sock, kContinue, sizeof kContinue - 1, after(limits_.write_timeout_s));
    }
    buffer.erase(expect + 1, line_end - expect);
    head.head_bytes -= line_end - expect;
  }
  const size_t total = head.head_bytes + head.body_bytes;
  const auto body_deadline = after(limits_.body_timeout_s);
  while (buffer.size() < total) {
    if (!wait_readable(sock, body_deadline, stopping_))
      return give_up(stopping_ ? 0 : 408,
                     "the request body did not arrive within " + std::to_string(int(limits_.body_timeout_s)) + " s");
    const ssize_t n = ::recv(sock, chunk, std::min(sizeof chunk, total - buffer.size()), 0);
    if (n <= 0) return give_up(0, "");
    buffer.append(chunk, static_cast<size_t>(n));
  }
  buffer.resize(total);  // a pipelined next request is not read: every reply closes the connection

  BufferedRequestStream stream(sock, std::move(buffer), limits_.write_timeout_s);
  bool closed = false;
  const bool ok = process_request(stream, true, closed, nullptr);
  ::shutdown(sock, SHUT_RDWR);
  ::close(sock);
  return ok;
}

}  // namespace paradit::server
