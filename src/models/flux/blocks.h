// FLUX.1's two block kinds (diffusers' transformer_flux.py):
// - FluxDoubleBlock (FluxTransformerBlock): adaLN-Zero on the image and the prompt stream, joint
//   attention over [prompt; image] with qk RMSNorm and rotary embeddings, gated residuals and a
//   tanh-GELU feed-forward per stream.
// - FluxSingleBlock (FluxSingleTransformerBlock): diffusers runs it on [prompt; image] as one
//   stream; here the prompt and image tokens stay two streams through the same weights (tokenwise
//   layers need no concatenation, and the attention takes both), which is also how the image
//   tokens shard over sp. From one modulated input, attention (no output projection) and the
//   MLP's first layer side by side, joined by proj_out, gated into the residual.
// In a parallel run the image tokens are this rank's shard (over sp x tp), the prompt tokens its
// tp shard, and `image_tokens` / `prompt_tokens` the true counts.
#pragma once

#include <string>

#include "layers/ada_layer_norm.h"
#include "layers/attention.h"
#include "layers/feed_forward.h"
#include "models/flux/config.h"

namespace paradit {

class FluxDoubleBlock {
 public:
  FluxDoubleBlock() = default;
  static FluxDoubleBlock load(const LoadContext& ctx, const std::string& prefix, const FluxConfig& config);
  // hidden [B, N, D] and context [B, T, D] updated in place; temb [B, D] (or its precomputed
  // projections); rope over T + N tokens.
  void forward(Tensor& hidden, Tensor& context, const Conditioning& temb, const Attention::Rotary& rope,
               int64_t image_tokens = -1, int64_t prompt_tokens = -1) const;
  void precompute_modulation(const Tensor& temb, ModulationTable& table) const;

 private:
  AdaLayerNormZero norm1_, norm1_context_;
  Attention attn_;
  FeedForward ff_, ff_context_;
};

class FluxSingleBlock {
 public:
  FluxSingleBlock() = default;
  static FluxSingleBlock load(const LoadContext& ctx, const std::string& prefix, const FluxConfig& config);
  // hidden [B, N, D] and context [B, T, D] updated in place, as the double block.
  void forward(Tensor& hidden, Tensor& context, const Conditioning& temb, const Attention::Rotary& rope,
               int64_t image_tokens = -1, int64_t prompt_tokens = -1) const;
  void precompute_modulation(const Tensor& temb, ModulationTable& table) const;

 private:
  AdaLayerNormZeroSingle norm_;
  Attention attn_;
  // Under tp: proj_mlp column-parallel, proj_out row-parallel over its two input ranges (this
  // rank's attention heads and its MLP slice); rows gathered before, summed and scattered after.
  Linear proj_mlp_, proj_out_;
  Communicator* tp_ = nullptr;
};

}  // namespace paradit
