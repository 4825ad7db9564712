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
  l.keep_bf16_bias();
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
  l.keep_bf16_bias();
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
  l.keep_bf16_bias();
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
  // Where the stack is a copy (or was packed), the parts' checkpoint pages are no longer read:
  // SD3.5 Large's fused q/k/v projections kept 2.7 GB of them resident.
  if (l.weight_.packed() || w.raw() != weights[0].raw())
    for (const Tensor& part : weights) part.release_file_pages();
  if (!biases.empty()) l.bias_ = stack_rows(biases);
  l.keep_bf16_bias();
  return l;
}

// On a GPU, cuBLASLt's bias epilogue reads a bias of the output's type: a bf16 copy made once
// here spares a conversion kernel (and an allocation) per call for the bf16 outputs.
void Linear::keep_bf16_bias() {
  if (bias_ && bias_->device() != Device::CPU && compute_dtype() == DType::BF16 && bias_->dtype() != DType::BF16)
    bias_bf16_ = bias_->to(DType::BF16);
}

const Tensor* Linear::bias_for(DType out) const {
  if (out == DType::BF16 && bias_bf16_) return &*bias_bf16_;
  return bias();
}

Tensor Linear::forward(const Tensor& x) const { return ops::linear(x, weight_, bias_for(x.dtype()), x.dtype()); }

Tensor Linear::forward(const Tensor& x, DType out) const { return ops::linear(x, weight_, bias_for(out), out); }

Tensor Linear::forward_gelu(const Tensor& x, bool tanh_approximation, DType out) const {
  return ops::linear_gelu(x, weight_, bias_for(out), tanh_approximation, out);
}

}  // namespace paradit
