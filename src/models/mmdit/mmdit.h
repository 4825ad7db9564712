// The SD3 / SD3.5 denoiser (diffusers' SD3Transformer2DModel): patchify with a cropped sincos
// position table, timestep + pooled-prompt conditioning, a stack of joint blocks over image
// and prompt tokens, the final adaptive norm, and unpatchify.
#pragma once

#include <vector>

#include "models/mmdit/config.h"
#include "models/mmdit/joint_block.h"
#include "layers/embeddings.h"

namespace paradit {

class MMDiT {
 public:
  MMDiT() = default;
  static MMDiT load(const LoadContext& ctx, const MMDiTConfig& config);

  // latent [B, C, H, W] (H, W multiples of the patch size, at most pos_embed_max_size patches),
  // context [B, T, joint_attention_dim], pooled [B, pooled_projection_dim], one timestep per
  // sample (0..1000, as the scheduler gives them) -> the prediction [B, out_channels, H, W].
  Tensor forward(const Tensor& latent, const Tensor& context, const Tensor& pooled,
                 const std::vector<float>& timesteps) const;
  // forward() in two parts: the timestep + pooled-prompt embedding [B, D], made from host
  // values, and the rest, which only queues work on the tensors' device, so that a GPU can
  // capture it as one graph and replay it with new latents and embeddings in place. In a
  // parallel run forward_with_temb takes this rank's cfg share of the batch (sp and tp happen
  // inside it) and returns that share whole.
  Tensor time_embedding(const std::vector<float>& timesteps, const Tensor& pooled) const;
  Tensor forward_with_temb(const Tensor& latent, const Tensor& context, const Conditioning& temb) const;
  // Every adaLN projection of every step of an image, before its loop (layers/modulation_table.h):
  // timesteps[s] are step s's B timesteps, pooled [B, pooled_projection_dim]. One rank. A step
  // then runs forward_with_temb(latent, context, {temb, &table}) after table.select(s).
  ModulationTable modulation_table(const std::vector<std::vector<float>>& timesteps, const Tensor& pooled) const;

  const MMDiTConfig& config() const { return config_; }

 private:
  // The run's groups; a model loaded without any runs with a one-rank group.
  ParallelGroups& groups() const;
  ParallelGroups* parallel_ = nullptr;
  void check_inputs(const Tensor& latent, const Tensor& context, const Tensor& pooled,
                    const std::vector<float>& timesteps) const;
  MMDiTConfig config_;
  PatchEmbed pos_embed_;
  CombinedTimestepTextProjEmbeddings time_text_embed_;
  Linear context_embedder_;
  std::vector<JointTransformerBlock> blocks_;
  AdaLayerNormContinuous norm_out_;
  Linear proj_out_;
};

}  // namespace paradit
