#include "backend/cuda/stream.h"

#include "backend/cuda/cuda_check.h"

namespace paradit::cuda {

cudaStream_t stream() {
  static const cudaStream_t s = [] {
    cudaStream_t created = nullptr;
    PD_CUDA_CHECK(cudaStreamCreateWithFlags(&created, cudaStreamNonBlocking));
    return created;
  }();
  return s;
}

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
  PD_CUDA_CHECK(cudaSetDevice(device));
  return device;
}

}  // namespace paradit::cuda
