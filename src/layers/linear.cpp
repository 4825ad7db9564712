#include "layers/linear.h"

#include "ops/ops.h"

namespace paradit {

Linear Linear::load(const LoadContext& ctx, const std::string& prefix, int64_t in_features, int64_t out_features,
                    bool bias) {
  Linear l;
  l.weight_ = load_matrix(ctx, join(prefix, "weight"), {out_features, in_features});
  if (bias) l.bias_ = load_tensor(ctx, join(prefix, "bias"), {out_features});
  return l;
}

Linear Linear::load_shard(const LoadContext& ctx, const std::string& prefix, int64_t in_features,
                          int64_t out_features, const Shard& shard, bool bias) {
  Linear l;
  l.weight_ = load_matrix_shard(ctx, join(prefix, "weight"), {out_features, in_features}, shard);
  if (bias) {
    const Shape shape{out_features};
    l.bias_ = shard.dim == 0 ? load_tensor_shard(ctx, join(prefix, "bias"), shape, {0, shard.begin, shard.end, shard.padded})
                             : load_tensor(ctx, join(prefix, "bias"), shape);
  }
  return l;
}

Tensor Linear::forward(const Tensor& x) const { return ops::linear(x, weight_, bias_ ? &*bias_ : nullptr); }

}  // namespace paradit
