// One MMDiT block (diffusers' JointTransformerBlock): adaLN-Zero modulation of both streams,
// joint attention over [image; prompt], gated residuals, and a feed-forward per stream. MMDiT-X
// blocks add an image-only attention (attn2); the last block is context_pre_only (its prompt
// stream only feeds the attention).
#pragma once

#include <optional>
#include <string>

#include "layers/ada_layer_norm.h"
#include "layers/attention.h"
#include "layers/feed_forward.h"
#include "models/mmdit/config.h"

namespace paradit {

class JointTransformerBlock {
 public:
  JointTransformerBlock() = default;
  static JointTransformerBlock load(const LoadContext& ctx, const std::string& prefix, const MMDiTConfig& config,
                                    int64_t index);
  // Updates hidden [B, N, D] and context [B, M, D] in place of the inputs; after the last
  // block the context is no longer meaningful. temb is [B, D] (or its precomputed
  // projections). In a parallel run hidden and context are this rank's rows, and
  // image_tokens / prompt_tokens the true lengths.
  void forward(Tensor& hidden, Tensor& context, const Conditioning& temb, int64_t image_tokens = -1,
               int64_t prompt_tokens = -1) const;
  // Adds this block's adaLN projections for temb [steps * B, D] to `table`.
  void precompute_modulation(const Tensor& temb, ModulationTable& table) const;

 private:
  bool context_pre_only_ = false;
  bool dual_ = false;
  AdaLayerNormZero norm1_;
  AdaLayerNormZeroX norm1_x_;
  AdaLayerNormZero norm1_context_;
  AdaLayerNormContinuous norm1_context_last_;
  Attention attn_;
  std::optional<Attention> attn2_;
  FeedForward ff_;
  std::optional<FeedForward> ff_context_;
};

}  // namespace paradit
