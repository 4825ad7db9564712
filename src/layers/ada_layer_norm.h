// Adaptive layer norms of SD3 (diffusers/models/normalization.py):
// AdaLayerNormZero predicts six modulation vectors (FLUX's single blocks: three,
// AdaLayerNormZeroSingle) from the conditioning embedding and applies
// the first two; AdaLayerNormContinuous predicts (scale, shift) for the final norm.
// Each takes its projection linear(silu(temb)) from the conditioning's ModulationTable when the
// caller precomputed one (precompute() adds the layer's rows for every step), else makes it.
#pragma once

#include <string>

#include "layers/modulation_table.h"
#include "layers/parallel_linear.h"
#include "layers/norms.h"

namespace paradit {

class AdaLayerNormZero {
 public:
  struct Output {
    Tensor x;  // norm(x) * (1 + scale_msa) + shift_msa
    Tensor gate_msa, shift_mlp, scale_mlp, gate_mlp;  // [B, D] each
  };
  AdaLayerNormZero() = default;
  static AdaLayerNormZero load(const LoadContext& ctx, const std::string& prefix, int64_t dim);
  // x [B, N, D], temb [B, D]
  Output forward(const Tensor& x, const Conditioning& temb) const;
  void precompute(const Tensor& temb_all_steps, ModulationTable& table) const;

 private:
  GatheredLinear linear_;  // column-parallel under tp, gathered
};

// SD35AdaLayerNormZeroX (MMDiT-X blocks): nine vectors; the extra three modulate the same
// normalised input a second time for the image-only attention (attn2).
class AdaLayerNormZeroX {
 public:
  struct Output {
    Tensor x, gate_msa, shift_mlp, scale_mlp, gate_mlp;
    Tensor x2, gate_msa2;  // norm(x) * (1 + scale_msa2) + shift_msa2, and its gate
  };
  AdaLayerNormZeroX() = default;
  static AdaLayerNormZeroX load(const LoadContext& ctx, const std::string& prefix, int64_t dim);
  Output forward(const Tensor& x, const Conditioning& temb) const;
  void precompute(const Tensor& temb_all_steps, ModulationTable& table) const;

 private:
  GatheredLinear linear_;  // column-parallel under tp, gathered
};

// AdaLayerNormZeroSingle (FLUX's single-stream blocks): three vectors, shift, scale and gate.
class AdaLayerNormZeroSingle {
 public:
  struct Output {
    Tensor x;     // norm(x) * (1 + scale) + shift
    Tensor gate;  // [B, D]
  };
  AdaLayerNormZeroSingle() = default;
  static AdaLayerNormZeroSingle load(const LoadContext& ctx, const std::string& prefix, int64_t dim);
  // The projection once, for several inputs (FLUX's single blocks modulate the image and the
  // prompt rows with the same vectors).
  Tensor projection(const Conditioning& temb) const;
  Output forward(const Tensor& x, const Tensor& projection) const;
  void precompute(const Tensor& temb_all_steps, ModulationTable& table) const;

 private:
  GatheredLinear linear_;
};

class AdaLayerNormContinuous {
 public:
  AdaLayerNormContinuous() = default;
  static AdaLayerNormContinuous load(const LoadContext& ctx, const std::string& prefix, int64_t dim,
                                     int64_t conditioning_dim);
  // x [B, N, D], conditioning [B, conditioning_dim]
  Tensor forward(const Tensor& x, const Conditioning& conditioning) const;
  void precompute(const Tensor& conditioning_all_steps, ModulationTable& table) const;

 private:
  GatheredLinear linear_;  // column-parallel under tp, gathered
};

}  // namespace paradit
