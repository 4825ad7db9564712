#include "parallel/nccl_communicator.h"

#include <cuda_runtime.h>
#include <nccl.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <thread>

#include "core/device_memory.h"
#include "core/error.h"
#include "parallel/device_communicator.h"
#include "parallel/mpi_communicator.h"

namespace paradit {
namespace {

void nccl_check(ncclResult_t r, const char* what) {
  PD_CHECK(r == ncclSuccess, "NCCL: ", what, " failed: ", ncclGetErrorString(r));
}

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

void check_device(const Tensor& t, const char* what) {
  PD_CHECK(t.device() == Device::CUDA, "NCCL ", what, ": ", t.describe(), " is not in GPU memory");
}

class NcclCommunicator;

class NcclExchange : public PendingExchange {
 public:
  NcclExchange(NcclCommunicator& c, double bytes) : comm_(c), bytes_(bytes), start_(now_s()) {}
  void wait() override;

 private:
  NcclCommunicator& comm_;
  double bytes_, start_;
};

class NcclCommunicator : public Communicator {
 public:
  NcclCommunicator(ncclComm_t comm, std::shared_ptr<CommStats> stats) : comm_(comm) {
    nccl_check(ncclCommUserRank(comm_, &rank_), "rank");
    nccl_check(ncclCommCount(comm_, &size_), "size");
    if (stats) stats_ = std::move(stats);
    if (cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking) != cudaSuccess) fail("CUDA: stream creation failed");
    if (cudaEventCreateWithFlags(&ready_, cudaEventDisableTiming) != cudaSuccess ||
        cudaEventCreateWithFlags(&done_, cudaEventDisableTiming) != cudaSuccess)
      fail("CUDA: event creation failed");
    // The barrier's one value, allocated here: nothing is allocated per call (graph capture).
    if (cudaMalloc(&barrier_value_, sizeof(float)) != cudaSuccess) fail("CUDA: barrier allocation failed");
  }
  ~NcclCommunicator() override {
    cudaFree(barrier_value_);
    cudaEventDestroy(done_);
    cudaEventDestroy(ready_);
    cudaStreamDestroy(stream_);
    if (!aborted_) ncclCommDestroy(comm_);  // an aborted communicator is already freed
  }
  int rank() const override { return rank_; }
  int size() const override { return size_; }

  void all_gather(const Tensor& in, Tensor& out) override {
    check_device(in, "all_gather");
    PD_CHECK(out.nbytes() == in.nbytes() * size_, "all_gather: ", in.describe(), " into ", out.describe());
    run("all_gather", static_cast<double>(in.nbytes()) * (size_ - 1),
        [&] { return ncclAllGather(in.raw(), out.raw(), in.nbytes(), ncclUint8, comm_, stream_); });
  }
  void reduce_scatter(const Tensor& in, Tensor& out) override {
    check_device(in, "reduce_scatter");
    PD_CHECK(in.dtype() == DType::F32 && in.numel() == out.numel() * size_, "reduce_scatter: ", in.describe());
    run("reduce_scatter", static_cast<double>(out.nbytes()) * (size_ - 1), [&] {
      return ncclReduceScatter(in.raw(), out.raw(), static_cast<size_t>(out.numel()), ncclFloat32, ncclSum, comm_,
                               stream_);
    });
  }
  void all_reduce(Tensor& t) override {
    check_device(t, "all_reduce");
    PD_CHECK(t.dtype() == DType::F32 || t.dtype() == DType::BF16, "all_reduce: ", t.describe());
    run("all_reduce", 2.0 * static_cast<double>(t.nbytes()) * (size_ - 1) / size_, [&] {
      return ncclAllReduce(t.raw(), t.raw(), static_cast<size_t>(t.numel()),
                           t.dtype() == DType::F32 ? ncclFloat32 : ncclBfloat16, ncclSum, comm_, stream_);
    });
  }
  void all_to_all(const Tensor& in, Tensor& out) override {
    check_device(in, "all_to_all");
    PD_CHECK(in.nbytes() == out.nbytes() && in.nbytes() % size_ == 0, "all_to_all: ", in.describe());
    const size_t chunk = in.nbytes() / size_;
    run("all_to_all", static_cast<double>(in.nbytes()) * (size_ - 1) / size_, [&] {
      ncclGroupStart();
      for (int peer = 0; peer < size_; ++peer) {
        ncclSend(static_cast<const char*>(in.raw()) + peer * chunk, chunk, ncclUint8, peer, comm_, stream_);
        ncclRecv(static_cast<char*>(out.raw()) + peer * chunk, chunk, ncclUint8, peer, comm_, stream_);
      }
      return ncclGroupEnd();
    });
  }
  std::unique_ptr<PendingExchange> start_send_recv(const Tensor& send, int dst, Tensor& recv, int src) override {
    check_device(send, "send_recv");
    after_compute();
    ncclGroupStart();
    ncclSend(send.raw(), send.nbytes(), ncclUint8, dst, comm_, stream_);
    ncclRecv(recv.raw(), recv.nbytes(), ncclUint8, src, comm_, stream_);
    nccl_check(ncclGroupEnd(), "send_recv");
    return std::make_unique<NcclExchange>(*this, static_cast<double>(send.nbytes()));
  }
  void broadcast(Tensor& buffer, int root, bool) override {
    check_device(buffer, "broadcast");
    run("broadcast", rank_ == root ? static_cast<double>(buffer.nbytes()) : 0.0,
        [&] { return ncclBroadcast(buffer.raw(), buffer.raw(), buffer.nbytes(), ncclUint8, root, comm_, stream_); });
  }
  void barrier() override {
    run("barrier", 0.0,
        [&] { return ncclAllReduce(barrier_value_, barrier_value_, 1, ncclFloat32, ncclSum, comm_, stream_); });
  }
  std::unique_ptr<Communicator> split(int color, int key) override {
    ncclComm_t sub = nullptr;
    nccl_check(ncclCommSplit(comm_, color, key, &sub, nullptr), "split");
    return std::make_unique<NcclCommunicator>(sub, stats_);
  }

  // The compute stream (where paradit's kernels run, backend/cuda/stream.h) goes on only
  // after this communicator's work: an event, no host wait. Under graph capture that is all
  // (the graph records the order); otherwise the host also waits for the collective against
  // the deadline, so that a dead peer aborts the job instead of hanging it.
  void finish(const char* what) {
    cudaStream_t compute = compute_stream();
    if (cudaEventRecord(done_, stream_) != cudaSuccess || cudaStreamWaitEvent(compute, done_, 0) != cudaSuccess)
      fail("CUDA: ordering the compute stream after NCCL ", what, " failed");
    cudaStreamCaptureStatus capture = cudaStreamCaptureStatusNone;
    cudaStreamIsCapturing(compute, &capture);
    if (capture == cudaStreamCaptureStatusNone) wait(what);
  }

  // Waits for the stream; a peer that never answers aborts the communicator after the deadline.
  void wait(const char* what) {
    const double start = now_s();
    for (;;) {
      const cudaError_t s = cudaStreamQuery(stream_);
      if (s == cudaSuccess) return;
      PD_CHECK(s == cudaErrorNotReady, "CUDA: ", what, ": ", cudaGetErrorString(s));
      ncclResult_t async = ncclSuccess;
      ncclCommGetAsyncError(comm_, &async);
      PD_CHECK(async == ncclSuccess || async == ncclInProgress, "NCCL ", what, ": ", ncclGetErrorString(async));
      if (now_s() - start > comm_timeout()) {
        ncclCommAbort(comm_);
        aborted_ = true;
        fail("NCCL ", what, " waited more than ", comm_timeout(), " s for its peers; a rank has died or hangs");
      }
      std::this_thread::sleep_for(std::chrono::microseconds(20));
    }
  }

 private:
  // The data a collective reads was written on the compute stream: NCCL's stream waits for it.
  void after_compute() {
    PD_CHECK(!aborted_, "NCCL: the communicator was aborted after a peer timed out");
    if (cudaEventRecord(ready_, compute_stream()) != cudaSuccess || cudaStreamWaitEvent(stream_, ready_, 0) != cudaSuccess)
      fail("CUDA: ordering NCCL after the compute stream failed");
  }
  static cudaStream_t compute_stream() {
    return static_cast<cudaStream_t>(device_memory(Device::CUDA).native_stream());
  }
  template <typename Launch>
  void run(const char* name, double bytes, Launch launch) {
    const double t0 = now_s();
    after_compute();
    nccl_check(launch(), name);
    finish(name);
    stats_->add(name, bytes, now_s() - t0);
  }
  ncclComm_t comm_ = nullptr;
  cudaStream_t stream_ = nullptr;
  cudaEvent_t ready_ = nullptr, done_ = nullptr;
  float* barrier_value_ = nullptr;
  bool aborted_ = false;
  int rank_ = 0, size_ = 1;
};

void NcclExchange::wait() {
  comm_.finish("send_recv");
  comm_.stats().add("send_recv", bytes_, now_s() - start_);
}

}  // namespace

std::unique_ptr<Communicator> make_nccl_communicator(Communicator& bootstrap) {
  (void)device_memory(Device::CUDA).native_stream();  // binds this thread to the rank's GPU
  ncclUniqueId id{};
  if (bootstrap.rank() == 0) nccl_check(ncclGetUniqueId(&id), "unique id");
  Tensor bytes = Tensor::empty({static_cast<int64_t>(sizeof id)}, DType::U8);
  std::memcpy(bytes.raw(), &id, sizeof id);
  bootstrap.broadcast(bytes, 0);
  std::memcpy(&id, bytes.raw(), sizeof id);
  ncclComm_t comm = nullptr;
  nccl_check(ncclCommInitRank(&comm, bootstrap.size(), id, bootstrap.rank()), "init");
  return std::make_unique<NcclCommunicator>(comm, nullptr);
}

namespace {

// "host/0000:19:00.0": the same string on two ranks means one GPU.
std::string gpu_identity() {
  (void)device_memory(Device::CUDA).native_stream();
  int device = 0;
  char bus[64] = {};
  char host[256] = {};
  if (cudaGetDevice(&device) != cudaSuccess || cudaDeviceGetPCIBusId(bus, sizeof bus - 1, device) != cudaSuccess)
    fail("CUDA: could not read the GPU's PCI bus id");
  ::gethostname(host, sizeof host - 1);
  return str_cat(host, "/", bus);
}

[[maybe_unused]] const bool g_registered = [] {
  register_device_collectives(Device::CUDA, {&make_nccl_communicator, &gpu_identity});
  return true;
}();

}  // namespace

}  // namespace paradit
