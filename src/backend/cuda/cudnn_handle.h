// cuDNN for the CUDA backend's fused attention (sdpa_cudnn.cpp) and convolutions
// (conv_cudnn.cpp): libcudnn.so.9 is opened once at run time (cudnn-frontend's dynamic
// loading), so a machine without cuDNN still runs paradit, on its own kernels. One handle,
// bound to paradit's stream; its users serialise on cudnn_mutex(). Built only with the
// cudnn-frontend headers.
#pragma once

#ifndef NV_CUDNN_FRONTEND_USE_DYNAMIC_LOADING
#define NV_CUDNN_FRONTEND_USE_DYNAMIC_LOADING
#endif
#include <cudnn.h>
#include <cudnn_frontend.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/tensor.h"

namespace paradit::cuda {

// Null when the machine has no usable cuDNN (said once on stderr).
cudnnHandle_t cudnn_handle();
std::mutex& cudnn_mutex();
// The handle, or null when `off_variable` is set to 0 in the environment (a user's switch back
// to paradit's own kernels for one kind of op) or cuDNN is absent.
cudnnHandle_t cudnn_handle_unless(const char* off_variable);

// A built cuDNN graph and the workspace it needs; a null graph: cuDNN declined the case.
struct CudnnPlan {
  std::shared_ptr<cudnn_frontend::graph::Graph> graph;
  int64_t workspace = 0;
};
// A 4-d tensor's dims and strides as the frontend takes them.
std::vector<int64_t> cudnn_dims(const Tensor& t);
std::vector<int64_t> cudnn_strides(const Tensor& t);
// Validates and builds `graph` (heuristic A; without the tensor-core engines when
// `exact_f32`, so that f32 gets no TF32). On failure: a null plan and the reason in `why`.
CudnnPlan cudnn_build(cudnnHandle_t handle, std::shared_ptr<cudnn_frontend::graph::Graph> graph, bool exact_f32,
                      std::string* why);
// Runs `plan` on stream() with a workspace from the device's memory (the caller holds nothing).
void cudnn_execute(cudnnHandle_t handle, const CudnnPlan& plan, std::unordered_map<int64_t, void*>& pack,
                   const char* what);

}  // namespace paradit::cuda
