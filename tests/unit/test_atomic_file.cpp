// Outputs: a temporary file beside the target renamed over it, except where that would be wrong:
// devices and FIFOs are written in place (never replaced), symlinks are written through, an
// existing file keeps its mode, messages name the output, and SIGTERM leaves no temporary behind.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "core/error.h"
#include "io/atomic_file.h"

namespace paradit {
namespace {

namespace fs = std::filesystem;

class AtomicFile : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("paradit_atomic_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  static std::string read(const std::string& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  int temps() const {
    int n = 0;
    for (const auto& e : fs::directory_iterator(dir_)) n += e.path().filename().string().find(".tmp.") != std::string::npos;
    return n;
  }
  fs::path dir_;
};

std::string error_of(const std::string& path, const std::string& text) {
  try {
    write_file_atomic(path, text);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST_F(AtomicFile, WritesAndReplacesKeepingTheMode) {
  const std::string p = path("out.png");
  write_file_atomic(p, "first");
  EXPECT_EQ(read(p), "first");
  ::chmod(p.c_str(), 0640);
  write_file_atomic(p, "second");
  EXPECT_EQ(read(p), "second");
  struct stat st {};
  ASSERT_EQ(::stat(p.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  EXPECT_EQ(temps(), 0);
}

TEST_F(AtomicFile, SymlinksAreWrittenThrough) {
  const std::string target = path("real.png"), link = path("link.png");
  write_file_atomic(target, "old");
  fs::create_symlink("real.png", link);
  write_file_atomic(link, "new");
  EXPECT_TRUE(fs::is_symlink(link));
  EXPECT_EQ(read(target), "new");
  // A dangling link: the file is made at its target.
  const std::string dangling = path("dangling.png");
  fs::create_symlink("made.png", dangling);
  write_file_atomic(dangling, "made");
  EXPECT_TRUE(fs::is_symlink(dangling));
  EXPECT_EQ(read(path("made.png")), "made");
}

TEST_F(AtomicFile, DevicesAreWrittenInPlaceNeverReplaced) {
  write_file_atomic("/dev/null", "discarded");
  struct stat st {};
  ASSERT_EQ(::stat("/dev/null", &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  EXPECT_EQ(temps(), 0);
}

TEST_F(AtomicFile, FifosAreWrittenToOrRefusedWithoutBlocking) {
  const std::string fifo = path("pipe");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_NE(error_of(fifo, "x").find("a FIFO with no reader"), std::string::npos);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  std::string got;
  std::thread reader([&] { got = read(fifo); });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the reader opens first
  write_file_atomic(fifo, "through the pipe");
  reader.join();
  EXPECT_EQ(got, "through the pipe");
  EXPECT_TRUE(fs::is_fifo(fifo));
}

TEST_F(AtomicFile, ErrorsNameTheOutputNotTheTemporary) {
  EXPECT_EQ(error_of(dir_.string(), "x"), dir_.string() + ": is a directory");
  const std::string missing = path("no/such/dir/out.png");
  const std::string e = error_of(missing, "x");
  EXPECT_EQ(e.rfind(missing + ": ", 0), 0u) << e;
  EXPECT_EQ(e.find(".tmp."), std::string::npos) << e;
}

TEST_F(AtomicFile, SigtermWhileWritingLeavesNoTemporary) {
  const std::string p = path("big.bin");
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    const std::string big(size_t{1} << 28, 'x');  // rewritten until killed: caught mid-write
    for (;;) write_file_atomic(p, big);
  }
  bool seen = false;
  for (int i = 0; i < 20000 && !seen; ++i) {
    seen = temps() > 0;
    if (!seen) std::this_thread::sleep_for(std::chrono::microseconds(500));
  }
  ::kill(child, SIGTERM);
  int status = 0;
  ::waitpid(child, &status, 0);
  EXPECT_TRUE(seen) << "the temporary file never appeared";
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM);
  EXPECT_EQ(temps(), 0);
}

}  // namespace
}  // namespace paradit
