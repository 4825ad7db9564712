#include "backend/cuda/device.h"

#include <cuda_runtime.h>

#include <cstdio>

#ifdef PARADIT_HAVE_CUDNN
#include "backend/cuda/sdpa_cudnn.h"
#endif

namespace paradit::cuda {

int device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no driver" state
    return 0;
  }
  return n;
}

std::string unavailable_reason() {
  int n = 0;
  const cudaError_t status = cudaGetDeviceCount(&n);
  if (status != cudaSuccess) {
    cudaGetLastError();
    return std::string("no usable CUDA device: ") + cudaGetErrorString(status);
  }
  return n == 0 ? "no CUDA device present" : "";
}

std::string describe_device(int index) {
  cudaDeviceProp p{};
  if (cudaGetDeviceProperties(&p, index) != cudaSuccess) return "unknown device";
  char memory[32];
  std::snprintf(memory, sizeof memory, "%.1f GiB", static_cast<double>(p.totalGlobalMem) / (1024.0 * 1024 * 1024));
  return std::string(p.name) + ", sm_" + std::to_string(p.major) + std::to_string(p.minor) + ", " + memory;
}

std::string attention_backend() {
#ifdef PARADIT_HAVE_CUDNN
  return cudnn_sdpa_available() ? "cuDNN SDPA for bf16 (head size 64, 128), paradit's kernel otherwise"
                                : "paradit's kernel (libcudnn.so.9 not found, or PARADIT_CUDNN_SDPA=0)";
#else
  return "paradit's kernel (built without the cudnn-frontend headers)";
#endif
}

}  // namespace paradit::cuda
