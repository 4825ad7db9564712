// A piece of work captured once as a CUDA graph and replayed: a denoising step's hundreds of
// launches become one. What the body allocates comes from a memory pool private to the graph
// (device_memory.cpp), so the buffers the replays write are never handed to anything else;
// the pool goes back to the shared cache when the graph is destroyed. The body must only
// queue work on stream(): no host copies, no synchronisation (its inputs are device tensors
// that the caller refills before each replay, at the same addresses).
#pragma once

#include <cuda_runtime.h>

#include <functional>

namespace paradit::cuda {

class StepGraph {
 public:
  StepGraph() = default;
  ~StepGraph();
  StepGraph(const StepGraph&) = delete;
  StepGraph& operator=(const StepGraph&) = delete;

  // Runs `body` under capture (relaxed mode: allocations may still reach cudaMalloc) and
  // instantiates the graph. Run the body once eagerly before, so that the GEMM plans exist.
  void capture(const std::function<void()>& body);
  void replay();  // queued on stream(); returns at once
  bool captured() const { return exec_ != nullptr; }
  size_t nodes() const { return nodes_; }

 private:
  cudaGraph_t graph_ = nullptr;
  cudaGraphExec_t exec_ = nullptr;
  int pool_ = -1;
  size_t nodes_ = 0;
};

// The private pools behind StepGraph (device_memory.cpp): a new pool's id; while a pool is
// active, tensor allocations come from it and its blocks return to it; retiring a pool gives
// its free blocks, and those freed later, back to the shared cache.
int create_memory_pool();
void set_active_memory_pool(int pool);  // -1: the shared cache
void retire_memory_pool(int pool);

}  // namespace paradit::cuda
