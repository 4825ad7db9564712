// GPU memory for tensors: Tensor::empty(..., Device::CUDA) and Tensor::to(Device::CUDA) come
// here once this object is linked (it registers itself at load). Freed blocks are kept per
// size and handed out again (every launch runs on the one stream, stream.h, so a block reused
// after its last reader was queued is safe), so a step that asks for the same sizes as the
// step before calls cudaMalloc no more and can be captured. An allocation that fails returns
// the cache to the driver and tries once more. Copies to and from the host complete before
// returning. Without a GPU the allocation fails with the driver's reason, in one line.
#include <cuda_runtime.h>

#include <map>
#include <mutex>
#include <vector>

#include "backend/cuda/cuda_ops.h"
#include "backend/cuda/stream.h"
#include "core/device_memory.h"
#include "core/error.h"

namespace paradit::cuda {
namespace {

void check(cudaError_t e, const char* what, size_t bytes) {
  if (e == cudaSuccess) return;
  cudaGetLastError();  // clear the sticky error of a failed call, so later calls are unaffected
  fail("cuda: ", what, " of ", bytes, " bytes failed: ", cudaGetErrorString(e));
}

// Blocks are rounded up to 512 bytes, and above 1 MiB to whole MiB, so that near sizes share.
size_t rounded(size_t bytes) {
  if (bytes > (1u << 20)) return (bytes + (1u << 20) - 1) / (1u << 20) * (1u << 20);
  return (bytes + 511) / 512 * 512;
}

class CudaMemory final : public DeviceMemory {
 public:
  void* allocate(size_t bytes) override {
    const size_t size = rounded(bytes == 0 ? 1 : bytes);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = free_.find(size);
      if (it != free_.end() && !it->second.empty()) {
        void* p = it->second.back();
        it->second.pop_back();
        return p;
      }
    }
    void* p = nullptr;
    if (cudaMalloc(&p, size) != cudaSuccess) {
      cudaGetLastError();
      empty_cache();
      check(cudaMalloc(&p, size), "allocation", size);
    }
    return p;
  }
  void release(void* p, size_t bytes) override {
    if (!p) return;
    std::lock_guard<std::mutex> lock(mutex_);
    free_[rounded(bytes == 0 ? 1 : bytes)].push_back(p);
  }
  void zero(void* p, size_t bytes) override { check(cudaMemsetAsync(p, 0, bytes, stream()), "memset", bytes); }
  void copy_from_host(void* dst, const void* src, size_t bytes) override {
    check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, stream()), "copy to the GPU", bytes);
    check(cudaStreamSynchronize(stream()), "copy to the GPU", bytes);  // the host buffer may go away
  }
  void copy_to_host(void* dst, const void* src, size_t bytes) override {
    check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, stream()), "copy from the GPU", bytes);
    check(cudaStreamSynchronize(stream()), "copy from the GPU", bytes);
  }
  void copy_within(void* dst, const void* src, size_t bytes) override {
    check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, stream()), "copy on the GPU", bytes);
  }
  void copy_strided(const Shape& shape, const Shape& src_strides, const void* src, DType src_dtype,
                    const Shape& dst_strides, void* dst, DType dst_dtype) override {
    cuda::copy_strided(shape, src_strides, src, src_dtype, dst_strides, dst, dst_dtype);
  }

  void synchronize() override { check(cudaStreamSynchronize(stream()), "synchronize", 0); }
  void* native_stream() override { return stream(); }

  void empty_cache() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (free_.empty()) return;
    cudaStreamSynchronize(stream());
    for (auto& [size, blocks] : free_)
      for (void* p : blocks) cudaFree(p);
    free_.clear();
  }

 private:
  std::mutex mutex_;
  std::map<size_t, std::vector<void*>> free_;
};

CudaMemory memory;
const bool registered = (register_device_memory(Device::CUDA, &memory), true);

}  // namespace

// Referenced by the tests so that a static link keeps this object (and its registration).
bool device_memory_registered() { return registered; }
void empty_memory_cache() { memory.empty_cache(); }

}  // namespace paradit::cuda
