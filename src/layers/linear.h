// torch.nn.Linear: y = x W^T + b, with W stored [out, in] as in every checkpoint.
#pragma once

#include <optional>
#include <string>

#include "layers/module.h"

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
  Tensor forward(const Tensor& x) const;
  int64_t in_features() const { return weight_.size(1); }
  int64_t out_features() const { return weight_.size(0); }
  DType compute_dtype() const { return weight_.dtype(); }  // the dtype its products run in
  const Tensor& weight() const { return weight_; }
  const Tensor* bias() const { return bias_ ? &*bias_ : nullptr; }

 private:
  Tensor weight_;
  std::optional<Tensor> bias_;
};

}  // namespace paradit
