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

Tensor Linear::forward(const Tensor& x) const { return ops::linear(x, weight_, bias_ ? &*bias_ : nullptr); }

}  // namespace paradit
