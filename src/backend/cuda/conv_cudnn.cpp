#define NV_CUDNN_FRONTEND_USE_DYNAMIC_LOADING
#include "backend/cuda/conv_cudnn.h"

#include <cudnn.h>
#include <cudnn_frontend.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <unordered_map>
#include <vector>

#include "backend/cuda/cudnn_handle.h"
#include "backend/cuda/stream.h"
#include "core/error.h"

namespace paradit::cuda {
namespace {

namespace fe = cudnn_frontend;

constexpr int64_t kX = 1, kW = 2, kB = 3, kY = 4;

struct Entry {
  std::shared_ptr<fe::graph::Graph> graph;  // null: cuDNN refused this case
  int64_t workspace = 0;
};

struct Convs {
  cudnnHandle_t handle = nullptr;
  std::map<std::vector<int64_t>, Entry> graphs;
  bool enabled = true;
  Convs() {
    const char* env = std::getenv("PARADIT_CUDNN_CONV");
    enabled = !(env && std::strcmp(env, "0") == 0);
    if (enabled) handle = cudnn_handle();
    enabled = enabled && handle;
  }
};

Convs& convs() {
  static Convs c;
  return c;
}

std::vector<int64_t> dims(const Tensor& t) { return {t.size(0), t.size(1), t.size(2), t.size(3)}; }
std::vector<int64_t> strides(const Tensor& t) { return {t.stride(0), t.stride(1), t.stride(2), t.stride(3)}; }

Entry build(cudnnHandle_t handle, const Tensor& x, const Tensor& w, const Tensor* bias, const ConvGeometry& g,
            const Tensor& y) {
  const bool f32 = x.dtype() == DType::F32;
  auto graph = std::make_shared<fe::graph::Graph>();
  graph->set_io_data_type(f32 ? fe::DataType_t::FLOAT : fe::DataType_t::BFLOAT16)
      .set_intermediate_data_type(fe::DataType_t::FLOAT)
      .set_compute_data_type(fe::DataType_t::FLOAT);
  auto X = graph->tensor(fe::graph::Tensor_attributes().set_name("X").set_uid(kX).set_dim(dims(x)).set_stride(strides(x)));
  auto W = graph->tensor(fe::graph::Tensor_attributes().set_name("W").set_uid(kW).set_dim(dims(w)).set_stride(strides(w)));
  auto conv = fe::graph::Conv_fprop_attributes()
                  .set_name("paradit_conv")
                  .set_pre_padding({g.pad_top, g.pad_left})
                  .set_post_padding({g.pad_bottom, g.pad_right})
                  .set_stride({g.stride, g.stride})
                  .set_dilation({1, 1});
  auto Y = graph->conv_fprop(X, W, conv);
  if (bias) {
    const int64_t K = w.size(0);
    auto B = graph->tensor(fe::graph::Tensor_attributes()
                               .set_name("B")
                               .set_uid(kB)
                               .set_dim({1, K, 1, 1})
                               .set_stride({K, 1, 1, 1})
                               .set_data_type(fe::DataType_t::FLOAT));
    Y = graph->pointwise(Y, B, fe::graph::Pointwise_attributes().set_name("bias").set_mode(fe::PointwiseMode_t::ADD));
  }
  Y->set_output(true).set_dim(dims(y)).set_stride(strides(y)).set_uid(kY);
  Entry e;
  auto status = graph->validate();
  if (status.is_good()) status = graph->build_operation_graph(handle);
  if (status.is_good()) status = graph->create_execution_plans({fe::HeurMode_t::A});
  if (status.is_good() && f32) graph->deselect_numeric_notes({fe::NumericalNote_t::TENSOR_CORE});  // no TF32
  if (status.is_good()) status = graph->check_support(handle);
  if (status.is_good()) status = graph->build_plans(handle);
  if (status.is_good()) status = graph->get_workspace_size(e.workspace);
  if (!status.is_good()) {
    std::fprintf(stderr, "paradit: cuDNN declined the convolution %s x [%lld, %lld, %lld, %lld] (%s); it runs as a GEMM\n",
                 x.describe().c_str(), static_cast<long long>(w.size(0)), static_cast<long long>(w.size(1)),
                 static_cast<long long>(w.size(2)), static_cast<long long>(w.size(3)), status.get_message().c_str());
    return {};
  }
  e.graph = graph;
  return e;
}

}  // namespace

bool cudnn_conv2d(const Tensor& x, const Tensor& w, const Tensor* bias, const ConvGeometry& g, Tensor& y) {
  Convs& c = convs();
  if (!c.enabled || (x.dtype() != DType::F32 && x.dtype() != DType::BF16) || w.dtype() != x.dtype() ||
      y.dtype() != x.dtype() || !x.is_contiguous() || !w.is_contiguous() || !y.is_contiguous() ||
      (bias && (bias->dtype() != DType::F32 || !bias->is_contiguous())))
    return false;
  std::vector<int64_t> key = dims(x);
  for (int64_t d : dims(w)) key.push_back(d);
  key.insert(key.end(), {g.stride, g.pad_top, g.pad_left, g.pad_bottom, g.pad_right, bias != nullptr,
                         static_cast<int64_t>(x.dtype())});
  Entry entry;
  {
    std::lock_guard<std::mutex> lock(cudnn_mutex());
    auto it = c.graphs.find(key);
    if (it == c.graphs.end()) it = c.graphs.emplace(key, build(c.handle, x, w, bias, g, y)).first;
    entry = it->second;
  }
  if (!entry.graph) return false;
  Tensor workspace = Tensor::empty({std::max<int64_t>(entry.workspace, 1)}, DType::U8, Device::CUDA);
  std::unordered_map<int64_t, void*> pack = {
      {kX, const_cast<void*>(x.raw())}, {kW, const_cast<void*>(w.raw())}, {kY, y.raw()}};
  if (bias) pack[kB] = const_cast<void*>(bias->raw());
  std::lock_guard<std::mutex> lock(cudnn_mutex());
  PD_CHECK(fe::detail::set_stream(c.handle, stream()) == CUDNN_STATUS_SUCCESS, "cuDNN: setting the stream failed");
  auto status = entry.graph->execute(c.handle, pack, workspace.raw());
  PD_CHECK(status.is_good(), "cuDNN convolution: execute failed: ", status.get_message());
  return true;
}

}  // namespace paradit::cuda
