// torch.nn.Linear: y = x W^T + b, with W stored [out, in] as in every checkpoint.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "layers/module.h"
#include "ops/ops.h"

namespace paradit {

class Linear {
 public:
  Linear() = default;
  static Linear load(const LoadContext& ctx, const std::string& prefix, int64_t in_features, int64_t out_features,
                     bool bias = true);
  // One shard of the layer for tensor parallelism: Shard dim 0 takes output features (a
  // column-parallel linear; the bias is sliced alike), dim 1 input features (row-parallel: the
  // outputs are partial sums, and only the rank with `bias` set adds the bias).
  static Linear load_shard(const LoadContext& ctx, const std::string& prefix, int64_t in_features,
                           int64_t out_features, const Shard& shard, bool bias);
  // One linear computing the parts' outputs side by side (their weights stacked along the
  // output features): the fused q/k/v projection. The parts share input size and dtype; a
  // stacked copy is made at load unless their weights already lie back to back (the original
  // SD3 files' fused qkv, viewed), in which case it is a view. `pack`: as LoadContext::pack_weights.
  static Linear stacked(const std::vector<Linear>& parts, bool pack);
  // A linear over tensors already in hand ([out, in] in the compute dtype), prepared as load does.
  static Linear from(const LoadContext& ctx, Tensor weight, std::optional<Tensor> bias);
  Tensor forward(const Tensor& x) const;  // in x's dtype
  Tensor forward(const Tensor& x, DType out) const;
  // gelu(x W^T + b), the GELU fused into the GEMM.
  Tensor forward_gelu(const Tensor& x, bool tanh_approximation, DType out) const;
  int64_t in_features() const { return weight_.in_features(); }
  int64_t out_features() const { return weight_.out_features(); }
  DType compute_dtype() const { return weight_.dtype(); }  // the dtype its products run in
  const ops::GemmWeight& weight() const { return weight_; }
  const Tensor* bias() const { return bias_ ? &*bias_ : nullptr; }

 private:
  static ops::GemmWeight prepare(const LoadContext& ctx, Tensor w);
  void keep_bf16_bias();
  const Tensor* bias_for(DType out) const;
  ops::GemmWeight weight_;
  std::optional<Tensor> bias_;
  std::optional<Tensor> bias_bf16_;  // a GPU's bf16 copy, for bf16 outputs
};

}  // namespace paradit
