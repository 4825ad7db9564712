#include "backend/cuda/graph.h"

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/stream.h"

namespace paradit::cuda {

StepGraph::~StepGraph() {
  if (exec_) cudaGraphExecDestroy(exec_);
  if (graph_) cudaGraphDestroy(graph_);
  if (pool_ >= 0) {
    cudaStreamSynchronize(stream());  // no replay may still be writing the pool's blocks
    retire_memory_pool(pool_);
  }
}

void StepGraph::capture(const std::function<void()>& body) {
  PD_CHECK(!captured(), "StepGraph: already captured");
  synchronize();
  pool_ = create_memory_pool();
  set_active_memory_pool(pool_);
  PD_CUDA_CHECK(cudaStreamBeginCapture(stream(), cudaStreamCaptureModeRelaxed));
  try {
    body();
  } catch (...) {
    cudaGraph_t broken = nullptr;
    cudaStreamEndCapture(stream(), &broken);
    if (broken) cudaGraphDestroy(broken);
    cudaGetLastError();
    set_active_memory_pool(-1);
    throw;
  }
  const cudaError_t end = cudaStreamEndCapture(stream(), &graph_);
  set_active_memory_pool(-1);
  PD_CHECK(end == cudaSuccess, "CUDA graph capture failed: ", cudaGetErrorString(end),
           " (the captured work did something a graph cannot hold: a host copy or a synchronisation)");
  PD_CUDA_CHECK(cudaGraphGetNodes(graph_, nullptr, &nodes_));
  PD_CUDA_CHECK(cudaGraphInstantiate(&exec_, graph_, 0));
}

void StepGraph::replay() {
  PD_CHECK(captured(), "StepGraph: nothing captured");
  PD_CUDA_CHECK(cudaGraphLaunch(exec_, stream()));
}

}  // namespace paradit::cuda
