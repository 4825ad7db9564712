#include "backend/cuda/stream.h"

#include <atomic>

#include "backend/cuda/cuda_check.h"

namespace paradit::cuda {
namespace {

std::atomic<int> chosen_device{0};
thread_local bool side_active = false;  // this thread's launches go to the side stream

// cudaSetDevice is per thread: every thread that queues work (the server's worker too) binds
// to the process's GPU the first time it asks for the stream.
void bind_thread() {
  thread_local int bound = -1;
  const int want = chosen_device.load();
  if (bound != want) {
    const cudaError_t e = cudaSetDevice(want);
    if (e != cudaSuccess) {
      cudaGetLastError();  // clear it, so that a later call is unaffected
      fail("cuda: no usable GPU ", want, ": ", cudaGetErrorString(e));
    }
    bound = want;
  }
}

}  // namespace

cudaStream_t stream() {
  bind_thread();
  return side_active ? side_stream() : main_stream();
}

namespace {
cudaStream_t new_stream() {
  cudaStream_t created = nullptr;
  PD_CUDA_CHECK(cudaStreamCreateWithFlags(&created, cudaStreamNonBlocking));
  return created;
}
}  // namespace

cudaStream_t main_stream() {
  bind_thread();
  static const cudaStream_t s = new_stream();
  return s;
}

cudaStream_t side_stream() {
  bind_thread();
  static const cudaStream_t s = new_stream();
  return s;
}

void use_side_stream(bool on) { side_active = on; }
bool on_side_stream() { return side_active; }

void synchronize() { PD_CUDA_CHECK(cudaStreamSynchronize(stream())); }

bool capturing() {
  cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
  PD_CUDA_CHECK(cudaStreamIsCapturing(stream(), &status));
  return status != cudaStreamCaptureStatusNone;
}

int select_device_for_local_rank(int local_rank) {
  int n = 0;
  PD_CUDA_CHECK(cudaGetDeviceCount(&n));
  PD_CHECK(n > 0, "no CUDA device present");
  const int device = (local_rank < 0 ? 0 : local_rank) % n;
  chosen_device.store(device);
  bind_thread();
  return device;
}

}  // namespace paradit::cuda
