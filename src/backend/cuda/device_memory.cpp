// GPU memory for tensors: Tensor::empty(..., Device::CUDA) and Tensor::to(Device::CUDA) come
// here once this object is linked (it registers itself at load). A graph being captured draws
// from its own pool (graph.h). Freed blocks are kept per
// size and handed out again (every launch runs on the one stream, stream.h, so a block reused
// after its last reader was queued is safe), so a step that asks for the same sizes as the
// step before calls cudaMalloc no more and can be captured. An allocation that fails returns
// the cache to the driver and tries once more. Copies to and from the host complete before
// returning. Without a GPU the allocation fails with the driver's reason, in one line.
#include <cuda_runtime.h>

#include <map>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "backend/cuda/cuda_ops.h"
#include "backend/cuda/graph.h"
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
      if (active_pool_ >= 0) return allocate_in_pool(size);
      auto it = free_.find(size);
      if (it != free_.end() && !it->second.empty()) {
        void* p = it->second.back();
        it->second.pop_back();
        return p;
      }
    }
    void* p = nullptr;
    stream();  // binds this thread to the process's GPU
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
    if (forks_ > 0) {  // the side stream may still read it: reusable only after the join
      deferred_.emplace_back(p, bytes);
      return;
    }
    release_locked(p, bytes);
  }

  void fork() override {
    if (!fork_event_) {
      check(cudaEventCreateWithFlags(&fork_event_, cudaEventDisableTiming), "event creation", 0);
      check(cudaEventCreateWithFlags(&join_event_, cudaEventDisableTiming), "event creation", 0);
    }
    check(cudaEventRecord(fork_event_, main_stream()), "fork", 0);
    check(cudaStreamWaitEvent(side_stream(), fork_event_, 0), "fork", 0);
    std::lock_guard<std::mutex> lock(mutex_);
    ++forks_;
  }
  void on_side(bool on) override { use_side_stream(on); }
  void join() override {
    use_side_stream(false);
    check(cudaEventRecord(join_event_, side_stream()), "join", 0);
    check(cudaStreamWaitEvent(main_stream(), join_event_, 0), "join", 0);
    std::lock_guard<std::mutex> lock(mutex_);
    if (--forks_ > 0) return;
    for (const auto& [p, bytes] : deferred_) release_locked(p, bytes);
    deferred_.clear();
  }

  void release_locked(void* p, size_t bytes) {
    const size_t size = rounded(bytes == 0 ? 1 : bytes);
    auto owner = pool_owner_.find(p);
    if (owner != pool_owner_.end()) {
      Pool& pool = pools_[owner->second];
      if (!pool.retired) {
        pool.free[size].push_back(p);
        return;
      }
      pool_owner_.erase(owner);
    } else if (active_pool_ >= 0) {
      // A block from before the capture, last used inside it: the replays read it, so it joins
      // the graph's pool instead of going back to the shared cache.
      pool_owner_[p] = active_pool_;
      pools_[static_cast<size_t>(active_pool_)].free[size].push_back(p);
      return;
    }
    free_[size].push_back(p);
  }

  int create_pool() {
    std::lock_guard<std::mutex> lock(mutex_);
    pools_.emplace_back();
    return static_cast<int>(pools_.size()) - 1;
  }
  void set_active_pool(int pool) {
    std::lock_guard<std::mutex> lock(mutex_);
    active_pool_ = pool;
  }
  void retire_pool(int id) {
    std::lock_guard<std::mutex> lock(mutex_);
    Pool& pool = pools_[static_cast<size_t>(id)];
    pool.retired = true;
    for (auto& [size, blocks] : pool.free)
      for (void* p : blocks) {
        pool_owner_.erase(p);
        free_[size].push_back(p);
      }
    pool.free.clear();
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

  // Events on the stream, made once and reused from the first mark after clear_marks().
  size_t mark() override {
    if (marks_used_ == marks_.size()) {
      cudaEvent_t e = nullptr;
      check(cudaEventCreate(&e), "event creation", 0);
      marks_.push_back(e);
    }
    check(cudaEventRecord(marks_[marks_used_], stream()), "event record", 0);
    return marks_used_++;
  }
  double elapsed_ms(size_t from, size_t to) override {
    PD_CHECK(from < marks_used_ && to < marks_used_, "elapsed_ms: no such mark");
    check(cudaEventSynchronize(marks_[to]), "event wait", 0);
    float ms = 0;
    check(cudaEventElapsedTime(&ms, marks_[from], marks_[to]), "event timing", 0);
    return ms;
  }
  void clear_marks() override { marks_used_ = 0; }

  void empty_cache() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (free_.empty()) return;
    cudaStreamSynchronize(stream());
    for (auto& [size, blocks] : free_)
      for (void* p : blocks) cudaFree(p);
    free_.clear();
  }

 private:
  cudaEvent_t fork_event_ = nullptr, join_event_ = nullptr;
  int forks_ = 0;
  std::vector<std::pair<void*, size_t>> deferred_;
  std::vector<cudaEvent_t> marks_;
  size_t marks_used_ = 0;
  struct Pool {
    std::map<size_t, std::vector<void*>> free;
    bool retired = false;
  };
  // Under mutex_: a block of the active pool, reused or new (cudaMalloc is allowed while a
  // graph is captured in relaxed mode).
  void* allocate_in_pool(size_t size) {
    Pool& pool = pools_[static_cast<size_t>(active_pool_)];
    auto it = pool.free.find(size);
    if (it != pool.free.end() && !it->second.empty()) {
      void* p = it->second.back();
      it->second.pop_back();
      return p;
    }
    void* p = nullptr;
    stream();
    check(cudaMalloc(&p, size), "allocation in a graph's pool", size);
    pool_owner_[p] = active_pool_;
    return p;
  }
  std::mutex mutex_;
  std::map<size_t, std::vector<void*>> free_;
  std::vector<Pool> pools_;
  std::unordered_map<void*, int> pool_owner_;
  int active_pool_ = -1;
};

CudaMemory memory;
const bool registered = (register_device_memory(Device::CUDA, &memory), true);

}  // namespace

// Referenced by the tests so that a static link keeps this object (and its registration).
bool device_memory_registered() { return registered; }
void empty_memory_cache() { memory.empty_cache(); }
int create_memory_pool() { return memory.create_pool(); }
void set_active_memory_pool(int pool) { memory.set_active_pool(pool); }
void retire_memory_pool(int pool) { memory.retire_pool(pool); }

}  // namespace paradit::cuda
