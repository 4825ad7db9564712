#include "parallel/mpi_communicator.h"

#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "core/error.h"

namespace paradit {
namespace {

double g_timeout = [] {
  const char* env = std::getenv("PARADIT_COMM_TIMEOUT_S");
  return env && std::atof(env) > 0 ? std::atof(env) : 600.0;
}();
bool g_initialised = false;

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

int world_rank() {
  int r = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &r);
  return r;
}

// Polls the requests until they finish. Sleeps between polls once the wait gets long, so ranks
// sharing few cores (tests with --oversubscribe) leave the CPU to the ranks still computing.
void wait_all(std::vector<MPI_Request>& requests, const char* what, bool idle = false) {
  const double start = now_seconds();
  int spins = 0;
  for (;;) {
    int done = 0;
    MPI_Testall(static_cast<int>(requests.size()), requests.data(), &done, MPI_STATUSES_IGNORE);
    if (done) return;
    if (++spins > 64) std::this_thread::sleep_for(std::chrono::microseconds(spins > 4096 ? (idle ? 20000 : 1000) : 50));
    if (!idle && now_seconds() - start > g_timeout) {
      std::fprintf(stderr,
                   "paradit: rank %d: %s waited more than %.0f s for its peers; a rank has died or hangs. "
                   "Aborting all ranks.\n",
                   world_rank(), what, g_timeout);
      std::fflush(stderr);
      MPI_Abort(MPI_COMM_WORLD, 3);
    }
  }
}

// MPI counts are ints: one message holds at most 2 GiB (SD3.5 Large's largest, a ring K/V
// block at 1024x1024, is 160 MB).
int mpi_count(size_t n, const char* what) {
  PD_CHECK(n <= static_cast<size_t>(INT32_MAX), what, ": ", n, " elements exceed one MPI message");
  return static_cast<int>(n);
}

void check_contiguous_f32(const Tensor& t, const char* what) {
  PD_CHECK(t.dtype() == DType::F32, what, ": reductions are over F32, got ", t.describe());
}

// Fault injection for the tests of failure handling: PARADIT_FAULT=exit:R makes world rank R
// die at its first collective, PARADIT_FAULT=hang:R makes it stop answering.
void inject_fault() {
  static const char* spec = std::getenv("PARADIT_FAULT");
  if (!spec) return;
  const std::string s = spec;
  const auto colon = s.find(':');
  if (colon == std::string::npos || std::atoi(s.c_str() + colon + 1) != world_rank()) return;
  if (s.compare(0, colon, "exit") == 0) std::_Exit(17);
  if (s.compare(0, colon, "hang") == 0)
    for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
}

class MpiExchange : public PendingExchange {
 public:
  MpiExchange(std::vector<MPI_Request> requests, CommStats& stats, double bytes)
      : requests_(std::move(requests)), stats_(stats), bytes_(bytes), start_(now_seconds()) {}
  ~MpiExchange() override {
    if (!waited_) wait();
  }
  void wait() override {
    if (waited_) return;
    waited_ = true;
    wait_all(requests_, "send_recv");
    stats_.add("send_recv", bytes_, now_seconds() - start_);
  }

 private:
  std::vector<MPI_Request> requests_;
  CommStats& stats_;
  double bytes_, start_;
  bool waited_ = false;
};

class MpiCommunicator : public Communicator {
 public:
  MpiCommunicator(MPI_Comm comm, std::shared_ptr<CommStats> stats, bool owned) : comm_(comm), owned_(owned) {
    MPI_Comm_rank(comm_, &rank_);
    MPI_Comm_size(comm_, &size_);
    if (stats) stats_ = std::move(stats);
  }
  ~MpiCommunicator() override {
    if (owned_ && g_initialised) MPI_Comm_free(&comm_);
  }
  int rank() const override { return rank_; }
  int size() const override { return size_; }

  void all_gather(const Tensor& in, Tensor& out) override {
    PD_CHECK(out.nbytes() == in.nbytes() * size_ && out.dtype() == in.dtype(), "all_gather: ", in.describe(),
             " from ", size_, " ranks into ", out.describe());
    run("all_gather", static_cast<double>(in.nbytes()) * (size_ - 1), [&](MPI_Request* r) {
      MPI_Iallgather(in.raw(), mpi_count(in.nbytes(), "all_gather"), MPI_BYTE, out.raw(),
                     mpi_count(in.nbytes(), "all_gather"), MPI_BYTE, comm_, r);
    });
  }
  void reduce_scatter(const Tensor& in, Tensor& out) override {
    check_contiguous_f32(in, "reduce_scatter");
    PD_CHECK(in.numel() == out.numel() * size_ && out.dtype() == DType::F32, "reduce_scatter: ", in.describe(),
             " over ", size_, " ranks into ", out.describe());
    run("reduce_scatter", static_cast<double>(out.nbytes()) * (size_ - 1), [&](MPI_Request* r) {
      MPI_Ireduce_scatter_block(in.raw(), out.raw(), mpi_count(static_cast<size_t>(out.numel()), "reduce_scatter"),
                                MPI_FLOAT, MPI_SUM, comm_, r);
    });
  }
  void all_reduce(Tensor& inout) override {
    check_contiguous_f32(inout, "all_reduce");
    run("all_reduce", 2.0 * static_cast<double>(inout.nbytes()) * (size_ - 1) / size_, [&](MPI_Request* r) {
      MPI_Iallreduce(MPI_IN_PLACE, inout.raw(), mpi_count(static_cast<size_t>(inout.numel()), "all_reduce"), MPI_FLOAT,
                     MPI_SUM, comm_, r);
    });
  }
  void all_to_all(const Tensor& in, Tensor& out) override {
    PD_CHECK(in.nbytes() == out.nbytes() && in.dtype() == out.dtype() && in.nbytes() % size_ == 0, "all_to_all: ",
             in.describe(), " into ", out.describe(), " over ", size_, " ranks");
    const int chunk = mpi_count(in.nbytes() / size_, "all_to_all");
    run("all_to_all", static_cast<double>(in.nbytes()) * (size_ - 1) / size_, [&](MPI_Request* r) {
      MPI_Ialltoall(in.raw(), chunk, MPI_BYTE, out.raw(), chunk, MPI_BYTE, comm_, r);
    });
  }
  std::unique_ptr<PendingExchange> start_send_recv(const Tensor& send, int dst, Tensor& recv, int src) override {
    PD_CHECK(dst >= 0 && dst < size_ && src >= 0 && src < size_, "send_recv: ranks ", dst, "/", src,
             " outside a group of ", size_);
    std::vector<MPI_Request> requests(2);
    MPI_Irecv(recv.raw(), mpi_count(recv.nbytes(), "send_recv"), MPI_BYTE, src, kTag, comm_, &requests[0]);
    MPI_Isend(send.raw(), mpi_count(send.nbytes(), "send_recv"), MPI_BYTE, dst, kTag, comm_, &requests[1]);
    return std::make_unique<MpiExchange>(std::move(requests), *stats_, static_cast<double>(send.nbytes()));
  }
  void broadcast(Tensor& buffer, int root, bool idle) override {
    run("broadcast", rank_ == root ? static_cast<double>(buffer.nbytes()) : 0.0, [&](MPI_Request* r) {
      MPI_Ibcast(buffer.raw(), mpi_count(buffer.nbytes(), "broadcast"), MPI_BYTE, root, comm_, r);
    }, idle);
  }
  void barrier() override {
    run("barrier", 0.0, [&](MPI_Request* r) { MPI_Ibarrier(comm_, r); });
  }
  std::unique_ptr<Communicator> split(int color, int key) override {
    MPI_Comm sub;
    MPI_Comm_split(comm_, color, key, &sub);
    return std::make_unique<MpiCommunicator>(sub, stats_, true);
  }

 private:
  static constexpr int kTag = 7;
  template <typename Start>
  void run(const char* name, double bytes, Start start, bool idle = false) {
    inject_fault();
    const double t0 = now_seconds();
    std::vector<MPI_Request> request(1);
    start(request.data());
    wait_all(request, name, idle);
    stats_->add(name, bytes, now_seconds() - t0);
  }
  MPI_Comm comm_;
  bool owned_;
  int rank_ = 0, size_ = 1;
};

}  // namespace

bool launched_by_mpi() {
  for (const char* var : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "MPI_LOCALNRANKS"})
    if (std::getenv(var)) return true;
  return false;
}

std::unique_ptr<Communicator> mpi_world() {
  if (!launched_by_mpi()) return std::make_unique<LocalCommunicator>();
  if (!g_initialised) {
    int provided = 0;
    MPI_Init_thread(nullptr, nullptr, MPI_THREAD_SERIALIZED, &provided);
    PD_CHECK(provided >= MPI_THREAD_SERIALIZED, "MPI: the library does not support MPI_THREAD_SERIALIZED");
    g_initialised = true;
  }
  return std::make_unique<MpiCommunicator>(MPI_COMM_WORLD, nullptr, false);
}

void finalize_mpi() {
  if (!g_initialised) return;
  g_initialised = false;
  MPI_Finalize();
}

void abort_mpi(int code) {
  std::fflush(stdout);
  std::fflush(stderr);
  if (g_initialised) MPI_Abort(MPI_COMM_WORLD, code);
  std::exit(code);
}

void set_comm_timeout(double seconds) {
  PD_CHECK(seconds > 0, "--comm-timeout must be positive");
  g_timeout = seconds;
}

double comm_timeout() { return g_timeout; }

// Before MPI is initialised (an option error found while parsing), the launcher's environment
// still tells each process its place, so only rank 0 reports.
namespace {
int launcher_env(const char* const* vars, int fallback) {
  for (const char* const* v = vars; *v; ++v)
    if (const char* s = std::getenv(*v); s && *s) {
      char* end = nullptr;
      const long n = std::strtol(s, &end, 10);
      if (*end == '\0' && n >= 0 && n < (1 << 20)) return static_cast<int>(n);
    }
  return fallback;
}
}  // namespace

int mpi_world_rank() {
  static const char* const vars[] = {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK", nullptr};
  return g_initialised ? world_rank() : launcher_env(vars, 0);
}

int mpi_world_size() {
  static const char* const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", nullptr};
  int n = 1;
  if (g_initialised) MPI_Comm_size(MPI_COMM_WORLD, &n);
  else n = std::max(1, launcher_env(vars, 1));
  return n;
}

}  // namespace paradit
