#include "io/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <mutex>

#include "core/error.h"

namespace paradit {
namespace fs = std::filesystem;

namespace {

// Temporary files being written, so that SIGINT or SIGTERM removes them. The handler only reads
// these fixed buffers and calls unlink, which is async-signal-safe.
constexpr int kSlots = 8;
char g_temp[kSlots][4096];
std::atomic<bool> g_used[kSlots];
std::mutex g_slots_mutex;

extern "C" void remove_temps_and_reraise(int sig) {
  for (int i = 0; i < kSlots; ++i)
    if (g_used[i].load()) ::unlink(g_temp[i]);
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

// Installed only where the signal would otherwise kill the process (its disposition is the
// default); a program with its own handler (paradit serve) finishes its writes itself.
void install_cleanup_handlers() {
  static std::once_flag once;
  std::call_once(once, [] {
    for (int sig : {SIGINT, SIGTERM, SIGHUP}) {
      struct sigaction old {};
      if (sigaction(sig, nullptr, &old) == 0 && old.sa_handler == SIG_DFL) std::signal(sig, remove_temps_and_reraise);
    }
  });
}

int register_temp(const std::string& path) {
  install_cleanup_handlers();
  std::lock_guard<std::mutex> lock(g_slots_mutex);
  for (int i = 0; i < kSlots && path.size() < sizeof(g_temp[0]); ++i)
    if (!g_used[i].load()) {
      std::memcpy(g_temp[i], path.c_str(), path.size() + 1);
      g_used[i].store(true);
      return i;
    }
  return -1;
}

bool write_all(int fd, const void* data, size_t size) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t n = ::write(fd, p, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

// Where the bytes go: a symlink is followed (to its target, even a dangling one), so the link
// stays a link.
std::string resolve_links(const std::string& path) {
  fs::path p = path;
  std::error_code ec;
  for (int hops = 0; hops < 40 && fs::is_symlink(fs::symlink_status(p, ec)); ++hops) {
    const fs::path target = fs::read_symlink(p, ec);
    if (ec) break;
    p = target.is_absolute() ? target : p.parent_path() / target;
  }
  return p.string();
}

}  // namespace

AtomicFileWriter::AtomicFileWriter(const std::string& path) : path_(path), target_(resolve_links(path)) {
  struct stat st {};
  const bool exists = ::stat(target_.c_str(), &st) == 0;
  if (exists && S_ISDIR(st.st_mode)) fail(path, ": is a directory");
  if (exists && !S_ISREG(st.st_mode)) {  // a device or FIFO: in place, never replaced
    const bool fifo = S_ISFIFO(st.st_mode);
    fd_ = ::open(target_.c_str(), O_WRONLY | O_CLOEXEC | (fifo ? O_NONBLOCK : 0));
    if (fd_ < 0 && fifo && errno == ENXIO) fail(path, ": a FIFO with no reader; refusing to wait for one");
    PD_CHECK(fd_ >= 0, path, ": cannot open: ", std::strerror(errno));
    if (fifo) ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) & ~O_NONBLOCK);
    return;
  }
  const fs::path t(target_);
  temp_ = (t.parent_path() / ("." + t.filename().string() + ".tmp." + std::to_string(::getpid()))).string();
  slot_ = register_temp(temp_);
  const mode_t mode = exists ? (st.st_mode & 07777) : 0666;  // 0666 less the umask, as fopen makes it
  fd_ = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd_ < 0) {
    const int err = errno;
    if (slot_ >= 0) g_used[slot_].store(false);
    fail(path, ": cannot create a file beside it: ", std::strerror(err));
  }
  if (exists) {
    PD_CHECK(::fchmod(fd_, mode) == 0, path, ": cannot set the mode: ", std::strerror(errno));
    if (st.st_uid != ::geteuid() || st.st_gid != ::getegid())
      (void)!::fchown(fd_, st.st_uid, st.st_gid);  // kept where allowed (root); otherwise ours
  }
}

AtomicFileWriter::~AtomicFileWriter() {
  if (fd_ >= 0) ::close(fd_);
  if (!temp_.empty() && !committed_) ::unlink(temp_.c_str());
  if (slot_ >= 0) g_used[slot_].store(false);
}

void AtomicFileWriter::write(const void* data, size_t size) {
  PD_CHECK(fd_ >= 0 && !committed_, path_, ": already closed");
  PD_CHECK(write_all(fd_, data, size), path_, ": cannot write: ", std::strerror(errno));
}

void AtomicFileWriter::commit() {
  PD_CHECK(fd_ >= 0 && !committed_, path_, ": already closed");
  const bool synced = temp_.empty() || ::fsync(fd_) == 0;
  int err = errno;
  const bool closed = ::close(fd_) == 0;
  if (synced && !closed) err = errno;
  fd_ = -1;
  PD_CHECK(synced && closed, path_, ": cannot write: ", std::strerror(err));
  if (!temp_.empty()) PD_CHECK(::rename(temp_.c_str(), target_.c_str()) == 0, path_, ": cannot write: ", std::strerror(errno));
  committed_ = true;
}

void write_file_atomic(const std::string& path, const void* data, size_t size) {
  AtomicFileWriter w(path);
  w.write(data, size);
  w.commit();
}

}  // namespace paradit
