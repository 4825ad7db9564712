// Attention through cuDNN's fused flash attention (cudnn-frontend's graph API; the headers come
// from the nvidia-cudnn-frontend wheel that scripts/setup.sh unpacks into third_party/). One
// graph per shape, strides and mask, built on first use and kept. It takes what its flash
// kernels take: bf16 q, k, v and output, head size 64 or 128, no bias, no log-sum-exp
// output; everything else stays with paradit's kernel (attention.cu). PARADIT_CUDNN_SDPA=0
// turns it off (the device check compares the two). libcudnn.so.9 is opened at run time (the
// frontend's dynamic loading), so a machine without cuDNN still runs paradit, on its kernel.
#define NV_CUDNN_FRONTEND_USE_DYNAMIC_LOADING
#include <cudnn.h>
#include <cudnn_frontend.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/cudnn_handle.h"
#include "backend/cuda/sdpa_cudnn.h"
#include "backend/cuda/stream.h"

namespace paradit::cuda {
namespace {

namespace fe = cudnn_frontend;

constexpr int64_t kQ = 1, kK = 2, kV = 3, kO = 4;

struct Sdpa {
  cudnnHandle_t handle = nullptr;
  std::map<std::vector<int64_t>, CudnnPlan> graphs;
  bool enabled = false;
  Sdpa() : handle(cudnn_handle_unless("PARADIT_CUDNN_SDPA")), enabled(handle != nullptr) {}
};

Sdpa& sdpa() {
  static Sdpa s;
  return s;
}

CudnnPlan build(cudnnHandle_t handle, const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& out,
                float scale, bool causal) {
  auto graph = std::make_shared<fe::graph::Graph>();
  graph->set_io_data_type(fe::DataType_t::BFLOAT16)
      .set_intermediate_data_type(fe::DataType_t::FLOAT)
      .set_compute_data_type(fe::DataType_t::FLOAT);
  auto tensor = [&](const char* name, int64_t uid, const Tensor& t) {
    return graph->tensor(fe::graph::Tensor_attributes().set_name(name).set_uid(uid).set_dim(cudnn_dims(t)).set_stride(
        cudnn_strides(t)));
  };
  auto Q = tensor("Q", kQ, q), K = tensor("K", kK, k), V = tensor("V", kV, v);
  auto options = fe::graph::SDPA_attributes().set_name("paradit_sdpa").set_generate_stats(false).set_attn_scale(scale);
  if (causal)  // key j <= query i, as paradit's kernel masks
    options.set_diagonal_alignment(fe::DiagonalAlignment_t::TOP_LEFT).set_diagonal_band_right_bound(0);
  auto [O, stats] = graph->sdpa(Q, K, V, options);
  (void)stats;
  O->set_output(true).set_dim(cudnn_dims(out)).set_stride(cudnn_strides(out)).set_uid(kO);
  std::string why;
  CudnnPlan plan = cudnn_build(handle, graph, false, &why);
  if (!plan.graph)
    std::fprintf(stderr, "paradit: cuDNN SDPA declined [%lld, %lld, %lld, %lld] x %lld keys (%s); paradit's kernel runs it\n",
                 static_cast<long long>(q.size(0)), static_cast<long long>(q.size(1)),
                 static_cast<long long>(q.size(2)), static_cast<long long>(q.size(3)),
                 static_cast<long long>(k.size(2)), why.c_str());
  return plan;
}

}  // namespace

bool cudnn_sdpa_available() { return sdpa().enabled; }

bool cudnn_sdpa(const Tensor& q, const Tensor& k, const Tensor& v, float scale, bool causal, Tensor& out) {
  Sdpa& s = sdpa();
  if (!s.enabled || q.dtype() != DType::BF16 || out.dtype() != DType::BF16 ||
      (q.size(3) != 64 && q.size(3) != 128))
    return false;
  std::vector<int64_t> key = cudnn_dims(q);
  key.push_back(k.size(2));
  for (const Tensor* t : std::initializer_list<const Tensor*>{&q, &k, &v, &out})
    for (int64_t st : cudnn_strides(*t)) key.push_back(st);
  key.push_back(causal);
  int32_t scale_bits = 0;
  std::memcpy(&scale_bits, &scale, sizeof scale_bits);
  key.push_back(scale_bits);
  CudnnPlan entry;
  {
    std::lock_guard<std::mutex> lock(cudnn_mutex());
    auto it = s.graphs.find(key);
    if (it == s.graphs.end()) it = s.graphs.emplace(key, build(s.handle, q, k, v, out, scale, causal)).first;
    entry = it->second;
  }
  if (!entry.graph) return false;
  std::unordered_map<int64_t, void*> pack = {{kQ, const_cast<void*>(q.raw())},
                                             {kK, const_cast<void*>(k.raw())},
                                             {kV, const_cast<void*>(v.raw())},
                                             {kO, out.raw()}};
  cudnn_execute(s.handle, entry, pack, "SDPA");
  return true;
}

}  // namespace paradit::cuda
