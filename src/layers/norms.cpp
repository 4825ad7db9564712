#include "layers/norms.h"

#include "ops/ops.h"

namespace paradit {
namespace {
const Tensor* ptr(const std::optional<Tensor>& t) { return t ? &*t : nullptr; }
}  // namespace

LayerNorm LayerNorm::load(const LoadContext& ctx, const std::string& prefix, int64_t dim, float eps, bool affine) {
  LayerNorm n;
  n.eps_ = eps;
  if (affine) {
    n.weight_ = load_tensor(ctx, join(prefix, "weight"), {dim});
    n.bias_ = load_optional(ctx, join(prefix, "bias"), {dim});
  }
  return n;
}

LayerNorm LayerNorm::plain(float eps) {
  LayerNorm n;
  n.eps_ = eps;
  return n;
}

Tensor LayerNorm::forward(const Tensor& x) const { return ops::layer_norm(x, ptr(weight_), ptr(bias_), eps_); }

RMSNorm RMSNorm::load(const LoadContext& ctx, const std::string& prefix, int64_t dim, float eps, bool affine) {
  RMSNorm n;
  n.eps_ = eps;
  if (affine) n.weight_ = load_tensor(ctx, join(prefix, "weight"), {dim});
  return n;
}

Tensor RMSNorm::forward(const Tensor& x) const { return ops::rms_norm(x, ptr(weight_), eps_); }

GroupNorm GroupNorm::load(const LoadContext& ctx, const std::string& prefix, int64_t groups, int64_t channels,
                          float eps) {
  GroupNorm n;
  n.groups_ = groups;
  n.eps_ = eps;
  n.weight_ = load_tensor(ctx, join(prefix, "weight"), {channels});
  n.bias_ = load_tensor(ctx, join(prefix, "bias"), {channels});
  return n;
}

Tensor GroupNorm::forward(const Tensor& x) const { return ops::group_norm(x, groups_, &weight_, &bias_, eps_); }

}  // namespace paradit
