#include "layers/ada_layer_norm.h"

#include "ops/ops.h"

namespace paradit {
namespace {
constexpr float kEps = 1e-6f;  // diffusers' adaLN norms: LayerNorm(elementwise_affine=False, eps=1e-6)

// linear(silu(temb)), or the caller's precomputed rows of it.
Tensor project(const void* layer, const GatheredLinear& linear, const Conditioning& c) {
  return c.table ? c.table->get(layer) : linear.forward(ops::silu(c.temb));
}
}  // namespace

AdaLayerNormZero AdaLayerNormZero::load(const LoadContext& ctx, const std::string& prefix, int64_t dim) {
  AdaLayerNormZero n;
  n.linear_ = GatheredLinear::load(ctx, join(prefix, "linear"), dim, 6 * dim);
  return n;
}

void AdaLayerNormZero::precompute(const Tensor& temb, ModulationTable& table) const {
  table.add(this, linear_.forward(ops::silu(temb)));
}

AdaLayerNormZero::Output AdaLayerNormZero::forward(const Tensor& x, const Conditioning& temb) const {
  // Chunk order is diffusers': shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp.
  auto parts = ops::chunk(project(this, linear_, temb), 6, 1);
  Output out;
  out.x = ops::layer_norm_modulate(x, parts[1], parts[0], kEps);
  out.gate_msa = parts[2];
  out.shift_mlp = parts[3];
  out.scale_mlp = parts[4];
  out.gate_mlp = parts[5];
  return out;
}

AdaLayerNormZeroX AdaLayerNormZeroX::load(const LoadContext& ctx, const std::string& prefix, int64_t dim) {
  AdaLayerNormZeroX n;
  n.linear_ = GatheredLinear::load(ctx, join(prefix, "linear"), dim, 9 * dim);
  return n;
}

void AdaLayerNormZeroX::precompute(const Tensor& temb, ModulationTable& table) const {
  table.add(this, linear_.forward(ops::silu(temb)));
}

AdaLayerNormZeroX::Output AdaLayerNormZeroX::forward(const Tensor& x, const Conditioning& temb) const {
  // shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp, shift_msa2, scale_msa2, gate_msa2
  auto parts = ops::chunk(project(this, linear_, temb), 9, 1);
  Output out;
  out.x = ops::layer_norm_modulate(x, parts[1], parts[0], kEps);
  out.gate_msa = parts[2];
  out.shift_mlp = parts[3];
  out.scale_mlp = parts[4];
  out.gate_mlp = parts[5];
  out.x2 = ops::layer_norm_modulate(x, parts[7], parts[6], kEps);
  out.gate_msa2 = parts[8];
  return out;
}

AdaLayerNormZeroSingle AdaLayerNormZeroSingle::load(const LoadContext& ctx, const std::string& prefix, int64_t dim) {
  AdaLayerNormZeroSingle n;
  n.linear_ = GatheredLinear::load(ctx, join(prefix, "linear"), dim, 3 * dim);
  return n;
}

void AdaLayerNormZeroSingle::precompute(const Tensor& temb, ModulationTable& table) const {
  table.add(this, linear_.forward(ops::silu(temb)));
}

Tensor AdaLayerNormZeroSingle::projection(const Conditioning& temb) const { return project(this, linear_, temb); }

AdaLayerNormZeroSingle::Output AdaLayerNormZeroSingle::forward(const Tensor& x, const Tensor& projection) const {
  // shift_msa, scale_msa, gate_msa
  auto parts = ops::chunk(projection, 3, 1);
  return {ops::layer_norm_modulate(x, parts[1], parts[0], kEps), parts[2]};
}

AdaLayerNormContinuous AdaLayerNormContinuous::load(const LoadContext& ctx, const std::string& prefix, int64_t dim,
                                                    int64_t conditioning_dim) {
  AdaLayerNormContinuous n;
  n.linear_ = GatheredLinear::load(ctx, join(prefix, "linear"), conditioning_dim, 2 * dim);
  return n;
}

void AdaLayerNormContinuous::precompute(const Tensor& conditioning, ModulationTable& table) const {
  table.add(this, linear_.forward(ops::silu(conditioning)));
}

Tensor AdaLayerNormContinuous::forward(const Tensor& x, const Conditioning& conditioning) const {
  // Note the order: scale first, then shift (unlike AdaLayerNormZero).
  auto parts = ops::chunk(project(this, linear_, conditioning), 2, 1);
  return ops::layer_norm_modulate(x, parts[0], parts[1], kEps);
}

}  // namespace paradit
