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

struct Convs {
  cudnnHandle_t handle = nullptr;
  std::map<std::vector<int64_t>, CudnnPlan> graphs;
  bool enabled = false;
  Convs() : handle(cudnn_handle_unless("PARADIT_CUDNN_CONV")), enabled(handle != nullptr) {}
};

Convs& convs() {
  static Convs c;
  return c;
}

CudnnPlan build(cudnnHandle_t handle, const Tensor& x, const Tensor& w, const Tensor* bias, const ConvGeometry& g,
                const Tensor& y) {
  const bool f32 = x.dtype() == DType::F32;
  auto graph = std::make_shared<fe::graph::Graph>();
  graph->set_io_data_type(f32 ? fe::DataType_t::FLOAT : fe::DataType_t::BFLOAT16)
      .set_intermediate_data_type(fe::DataType_t::FLOAT)
      .set_compute_data_type(fe::DataType_t::FLOAT);
  auto tensor = [&](const char* name, int64_t uid, const Tensor& t) {
    return graph->tensor(
        fe::graph::Tensor_attributes().set_name(name).set_uid(uid).set_dim(cudnn_dims(t)).set_stride(cudnn_strides(t)));
  };
  auto X = tensor("X", kX, x), W = tensor("W", kW, w);
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
  Y->set_output(true).set_dim(cudnn_dims(y)).set_stride(cudnn_strides(y)).set_uid(kY);
  std::string why;
  CudnnPlan plan = cudnn_build(handle, graph, f32, &why);  // f32: no TF32
  if (!plan.graph)
    std::fprintf(stderr, "paradit: cuDNN declined the convolution %s x [%lld, %lld, %lld, %lld] (%s); it runs as a GEMM\n",
                 x.describe().c_str(), static_cast<long long>(w.size(0)), static_cast<long long>(w.size(1)),
                 static_cast<long long>(w.size(2)), static_cast<long long>(w.size(3)), why.c_str());
  return plan;
}

}  // namespace

bool cudnn_conv2d(const Tensor& x, const Tensor& w, const Tensor* bias, const ConvGeometry& g, Tensor& y) {
  Convs& c = convs();
  if (!c.enabled || (x.dtype() != DType::F32 && x.dtype() != DType::BF16) || w.dtype() != x.dtype() ||
      y.dtype() != x.dtype() || !x.is_contiguous() || !w.is_contiguous() || !y.is_contiguous() ||
      (bias && (bias->dtype() != DType::F32 || !bias->is_contiguous())))
    return false;
  std::vector<int64_t> key = cudnn_dims(x);
  for (int64_t d : cudnn_dims(w)) key.push_back(d);
  key.insert(key.end(), {g.stride, g.pad_top, g.pad_left, g.pad_bottom, g.pad_right, bias != nullptr,
                         static_cast<int64_t>(x.dtype())});
  CudnnPlan entry;
  {
    std::lock_guard<std::mutex> lock(cudnn_mutex());
    auto it = c.graphs.find(key);
    if (it == c.graphs.end()) it = c.graphs.emplace(key, build(c.handle, x, w, bias, g, y)).first;
    entry = it->second;
  }
  if (!entry.graph) return false;
  std::unordered_map<int64_t, void*> pack = {
      {kX, const_cast<void*>(x.raw())}, {kW, const_cast<void*>(w.raw())}, {kY, y.raw()}};
  if (bias) pack[kB] = const_cast<void*>(bias->raw());
  cudnn_execute(c.handle, entry, pack, "convolution");
  return true;
}

}  // namespace paradit::cuda
