#include "backend/cuda/cudnn_handle.h"

#include <dlfcn.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "backend/cuda/stream.h"
#include "core/error.h"

namespace cudnn_frontend {
void* cudnn_dlhandle = nullptr;  // the frontend's calls go through this handle
}  // namespace cudnn_frontend

namespace paradit::cuda {

cudnnHandle_t cudnn_handle() {
  static const cudnnHandle_t handle = [] {
    namespace fe = cudnn_frontend;
    fe::cudnn_dlhandle = dlopen("libcudnn.so.9", RTLD_NOW | RTLD_GLOBAL);
    if (!fe::cudnn_dlhandle) {
      std::fprintf(stderr, "paradit: no cuDNN (%s); attention and convolutions run on paradit's kernels\n", dlerror());
      return cudnnHandle_t{};
    }
    cudnnHandle_t h = nullptr;
    if (fe::detail::create_handle(&h) != CUDNN_STATUS_SUCCESS ||
        fe::detail::set_stream(h, stream()) != CUDNN_STATUS_SUCCESS) {
      std::fprintf(stderr, "paradit: cuDNN did not start; attention and convolutions run on paradit's kernels\n");
      return cudnnHandle_t{};
    }
    return h;
  }();
  return handle;
}

cudnnHandle_t cudnn_handle_unless(const char* off_variable) {
  const char* env = std::getenv(off_variable);
  return env && std::string(env) == "0" ? cudnnHandle_t{} : cudnn_handle();
}

std::mutex& cudnn_mutex() {
  static std::mutex m;
  return m;
}

std::vector<int64_t> cudnn_dims(const Tensor& t) { return {t.size(0), t.size(1), t.size(2), t.size(3)}; }
std::vector<int64_t> cudnn_strides(const Tensor& t) { return {t.stride(0), t.stride(1), t.stride(2), t.stride(3)}; }

CudnnPlan cudnn_build(cudnnHandle_t handle, std::shared_ptr<cudnn_frontend::graph::Graph> graph, bool exact_f32,
                      std::string* why) {
  namespace fe = cudnn_frontend;
  CudnnPlan plan;
  auto status = graph->validate();
  if (status.is_good()) status = graph->build_operation_graph(handle);
  if (status.is_good()) status = graph->create_execution_plans({fe::HeurMode_t::A});
  if (status.is_good() && exact_f32) graph->deselect_numeric_notes({fe::NumericalNote_t::TENSOR_CORE});
  if (status.is_good()) status = graph->check_support(handle);
  if (status.is_good()) status = graph->build_plans(handle);
  if (status.is_good()) status = graph->get_workspace_size(plan.workspace);
  if (!status.is_good()) {
    if (why) *why = status.get_message();
    return {};
  }
  plan.graph = std::move(graph);
  return plan;
}

void cudnn_execute(cudnnHandle_t handle, const CudnnPlan& plan, std::unordered_map<int64_t, void*>& pack,
                   const char* what) {
  namespace fe = cudnn_frontend;
  Tensor workspace = Tensor::empty({std::max<int64_t>(plan.workspace, 1)}, DType::U8, Device::CUDA);
  std::lock_guard<std::mutex> lock(cudnn_mutex());
  PD_CHECK(fe::detail::set_stream(handle, stream()) == CUDNN_STATUS_SUCCESS, "cuDNN: setting the stream failed");
  auto status = plan.graph->execute(handle, pack, workspace.raw());
  PD_CHECK(status.is_good(), "cuDNN ", what, ": execute failed: ", status.get_message());
}

}  // namespace paradit::cuda
