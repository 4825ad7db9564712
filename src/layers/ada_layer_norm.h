// Adaptive layer norms of SD3 (diffusers/models/normalization.py):
// AdaLayerNormZero predicts six modulation vectors (FLUX's single blocks: three,
// AdaLayerNormZeroSingle) from the conditioning embedding and applies
// the first two; AdaLayerNormContinuous predicts (scale, shift) for the final norm.
#pragma once

#include <string>

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
  // x [B, N, D], emb [B, D]
  Output forward(const Tensor& x, const Tensor& emb) const;

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
  Output forward(const Tensor& x, const Tensor& emb) const;

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
  Output forward(const Tensor& x, const Tensor& emb) const;

 private:
  GatheredLinear linear_;
};

class AdaLayerNormContinuous {
 public:
  AdaLayerNormContinuous() = default;
  static AdaLayerNormContinuous load(const LoadContext& ctx, const std::string& prefix, int64_t dim,
                                     int64_t conditioning_dim);
  // x [B, N, D], conditioning [B, conditioning_dim]
  Tensor forward(const Tensor& x, const Tensor& conditioning) const;

 private:
  GatheredLinear linear_;  // column-parallel under tp, gathered
};

}  // namespace paradit
