// GPU memory for tensors: Tensor::empty(..., Device::CUDA) and Tensor::to(Device::CUDA) come
// here once this object is linked (it registers itself at load). Copies run on the calling
// thread's default stream and complete before returning. Without a GPU the allocation fails
// with the driver's reason, in one line.
#include <cuda_runtime.h>

#include "core/device_memory.h"
#include "core/error.h"

namespace paradit::cuda {
namespace {

void check(cudaError_t e, const char* what, size_t bytes) {
  if (e == cudaSuccess) return;
  cudaGetLastError();  // clear the sticky error of a failed call, so later calls are unaffected
  fail("cuda: ", what, " of ", bytes, " bytes failed: ", cudaGetErrorString(e));
}

class CudaMemory final : public DeviceMemory {
 public:
  void* allocate(size_t bytes) override {
    void* p = nullptr;
    check(cudaMalloc(&p, bytes), "allocation", bytes);
    return p;
  }
  void release(void* p, size_t) override { cudaFree(p); }
  void zero(void* p, size_t bytes) override { check(cudaMemset(p, 0, bytes), "memset", bytes); }
  void copy_from_host(void* dst, const void* src, size_t bytes) override {
    check(cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice), "copy to the GPU", bytes);
  }
  void copy_to_host(void* dst, const void* src, size_t bytes) override {
    check(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost), "copy from the GPU", bytes);
  }
  void copy_within(void* dst, const void* src, size_t bytes) override {
    check(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToDevice), "copy on the GPU", bytes);
  }
};

CudaMemory memory;
const bool registered = (register_device_memory(Device::CUDA, &memory), true);

}  // namespace

// Referenced by the tests so that a static link keeps this object (and its registration).
bool device_memory_registered() { return registered; }

}  // namespace paradit::cuda
