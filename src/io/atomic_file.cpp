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

class TempRegistration {
 public:
  explicit TempRegistration(const std::string& path) {
    install_cleanup_handlers();
    std::lock_guard<std::mutex> lock(g_slots_mutex);
    for (int i = 0; i < kSlots && path.size() < sizeof(g_temp[0]); ++i)
      if (!g_used[i].load()) {
        std::memcpy(g_temp[i], path.c_str(), path.size() + 1);
        g_used[i].store(true);
        slot_ = i;
        return;
      }
  }
  ~TempRegistration() {
    if (slot_ >= 0) g_used[slot_].store(false);
  }
  TempRegistration(const TempRegistration&) = delete;
  TempRegistration& operator=(const TempRegistration&) = delete;

 private:
  int slot_ = -1;
};

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

// A device or FIFO: written in place, never replaced. A FIFO with no reader is refused rather
// than waited on.
void write_in_place(const std::string& path, const std::string& shown, const void* data, size_t size, bool fifo) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC | (fifo ? O_NONBLOCK : 0));
  if (fd < 0 && fifo && errno == ENXIO) fail(shown, ": a FIFO with no reader; refusing to wait for one");
  PD_CHECK(fd >= 0, shown, ": cannot open: ", std::strerror(errno));
  if (fifo) ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  const bool ok = write_all(fd, data, size);
  const int err = errno;
  ::close(fd);
  PD_CHECK(ok, shown, ": cannot write: ", std::strerror(err));
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

void write_file_atomic(const std::string& path, const void* data, size_t size) {
  const std::string target = resolve_links(path);
  struct stat st {};
  const bool exists = ::stat(target.c_str(), &st) == 0;
  if (exists && S_ISDIR(st.st_mode)) fail(path, ": is a directory");
  if (exists && !S_ISREG(st.st_mode)) return write_in_place(target, path, data, size, S_ISFIFO(st.st_mode));

  const fs::path t(target);
  const std::string tmp =
      (t.parent_path() / ("." + t.filename().string() + ".tmp." + std::to_string(::getpid()))).string();
  TempRegistration registration(tmp);
  const mode_t mode = exists ? (st.st_mode & 07777) : 0666;  // 0666 less the umask, as fopen makes it
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  PD_CHECK(fd >= 0, path, ": cannot create a file beside it: ", std::strerror(errno));
  bool ok = write_all(fd, data, size);
  if (ok && exists) {
    ok = ::fchmod(fd, mode) == 0;  // the existing file's mode, whatever the umask
    if (ok && (st.st_uid != ::geteuid() || st.st_gid != ::getegid()))
      (void)!::fchown(fd, st.st_uid, st.st_gid);  // kept where allowed (root); otherwise ours
  }
  ok = ok && ::fsync(fd) == 0;
  int err = errno;
  ok = ::close(fd) == 0 && ok;
  if (ok && ::rename(tmp.c_str(), target.c_str()) != 0) {
    ok = false;
    err = errno;
  }
  if (!ok) {
    ::unlink(tmp.c_str());
    fail(path, ": cannot write: ", std::strerror(err));
  }
}

}  // namespace paradit
