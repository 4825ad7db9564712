#include "layers/linear.h"

#include <memory>

#include "core/error.h"
#include "ops/ops.h"

namespace paradit {

Linear Linear::load(const LoadContext& ctx, const std::string& prefix, int64_t in_features, int64_t out_features,
                    bool bias) {
  Linear l;
  l.weight_ = prepare(ctx, load_matrix(ctx, join(prefix, "weight"), {out_features, in_features}));
  if (bias) l.bias_ = load_tensor(ctx, join(prefix, "bias"), {out_features});
  return l;
}

Linear Linear::load_shard(const LoadContext& ctx, const std::string& prefix, int64_t in_features,
                          int64_t out_features, const Shard& shard, bool bias) {
  Linear l;
  l.weight_ = prepare(ctx, load_matrix_shard(ctx, join(prefix, "weight"), {out_features, in_features}, shard));
  if (bias) {
    const Shape shape{out_features};
    l.bias_ = shard.dim == 0 ? load_tensor_shard(ctx, join(prefix, "bias"), shape, {0, shard.begin, shard.end, shard.padded})
                             : load_tensor(ctx, join(prefix, "bias"), shape);
  }
  return l;
}

namespace {
// The tensors stacked along dimension 0: a view when they already lie back to back in one
// host buffer (a checkpoint's mapping), else a copy (always on a GPU, where separate
// allocations may happen to be adjacent without being one buffer).
Tensor stack_rows(const std::vector<Tensor>& parts) {
  bool adjacent = parts[0].device() == Device::CPU;
  for (size_t i = 1; i < parts.size(); ++i)
    adjacent = adjacent && parts[i].dtype() == parts[0].dtype() && parts[i].is_contiguous() &&
               static_cast<const char*>(parts[i - 1].raw()) + parts[i - 1].nbytes() == parts[i].raw();
  if (adjacent && parts[0].is_contiguous()) {
    int64_t rows = 0;
    for (const auto& p : parts) rows += p.size(0);
    Shape shape = parts[0].shape();
    shape[0] = rows;
    // A view over the first part's buffer, which the others share (so it stays alive with it).
    auto keep = std::make_shared<std::vector<Tensor>>(parts);
    return parts[0].file_backed() ? Tensor::borrow_file(shape, parts[0].dtype(), parts[0].raw(), keep)
                                  : Tensor::borrow(shape, parts[0].dtype(), parts[0].raw(), keep);
  }
  return ops::concat(parts, 0);
}
}  // namespace

ops::GemmWeight Linear::prepare(const LoadContext& ctx, Tensor w) {
  return ctx.pack_weights && !ctx.record ? ops::GemmWeight::pack(w) : ops::GemmWeight::plain(std::move(w));
}

Linear Linear::from(const LoadContext& ctx, Tensor weight, std::optional<Tensor> bias) {
  Linear l;
  l.weight_ = prepare(ctx, std::move(weight));
  l.bias_ = std::move(bias);
  return l;
}

Linear Linear::stacked(const std::vector<Linear>& parts, bool pack) {
  PD_CHECK(!parts.empty(), "Linear::stacked: no parts");
  std::vector<Tensor> weights, biases;
  for (const auto& p : parts) {
    PD_CHECK(p.in_features() == parts[0].in_features() && p.compute_dtype() == parts[0].compute_dtype() &&
                 p.bias_.has_value() == parts[0].bias_.has_value(),
             "Linear::stacked: parts differ in input size, dtype or bias");
    weights.push_back(p.weight_.unpacked());
    if (p.bias_) biases.push_back(*p.bias_);
  }
  Linear l;
  const Tensor w = stack_rows(weights);
  l.weight_ = pack ? ops::GemmWeight::pack(w) : ops::GemmWeight::plain(w);
  if (!biases.empty()) l.bias_ = stack_rows(biases);
  return l;
}

Tensor Linear::forward(const Tensor& x) const { return ops::linear(x, weight_, bias(), x.dtype()); }

Tensor Linear::forward(const Tensor& x, DType out) const { return ops::linear(x, weight_, bias(), out); }

Tensor Linear::forward_gelu(const Tensor& x, bool tanh_approximation, DType out) const {
  return ops::linear_gelu(x, weight_, bias(), tanh_approximation, out);
}

}  // namespace paradit
