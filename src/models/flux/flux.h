// The FLUX.1 denoiser (diffusers' FluxTransformer2DModel): x_embedder over the packed latent
// tokens, context_embedder over the T5 states, the timestep (+ guidance for [dev]) + pooled CLIP
// conditioning, rotary tables from the text and image ids, the double-stream then the
// single-stream blocks, the final adaptive norm and proj_out.
#pragma once

#include <vector>

#include "layers/embeddings.h"
#include "models/flux/blocks.h"
#include "models/flux/config.h"

namespace paradit {

class FluxTransformer {
 public:
  FluxTransformer() = default;
  // Parallel: cfg (each cfg group runs its share of the batch: true CFG's [negative; prompt]
  // halves), sp (image tokens sharded, ring and/or Ulysses attention, rotary rows at each
  // token's global position) and tp (heads, the MLPs and adaLN split; in the single blocks
  // proj_mlp column-parallel and proj_out row-parallel over [heads | MLP]).
  static FluxTransformer load(const LoadContext& ctx, const FluxConfig& config);

  // The inputs exactly as diffusers' transformer takes them: hidden [B, N, in_channels] (packed
  // latents), context [B, T, joint_attention_dim], pooled [B, pooled_projection_dim], timesteps
  // [B] (what FluxPipeline passes: t / 1000), img_ids [N, 3], txt_ids [T, 3], and for a model
  // with the guidance embedding the guidance scale per sample ([B]; null otherwise).
  // Returns the prediction [B, N, out_channels].
  Tensor forward(const Tensor& hidden, const Tensor& context, const Tensor& pooled, const std::vector<float>& timesteps,
                 const Tensor& img_ids, const Tensor& txt_ids, const std::vector<float>* guidance) const;

  // forward() in two parts: what is made from host values (the timestep, guidance and
  // pooled-text embedding; the rotary tables from the ids), and the rest, which only queues
  // work on the tensors' device, so that a GPU can capture it as one graph and replay it. In a
  // parallel run forward_prepared takes this rank's cfg share of the batch (sp and tp happen
  // inside it) and returns that share whole.
  struct Prepared {
    Tensor temb, rope_cos, rope_sin;
    const ModulationTable* table = nullptr;  // the step's precomputed adaLN projections, if made
  };
  Prepared prepare(const Tensor& pooled, const std::vector<float>& timesteps, const Tensor& img_ids,
                   const Tensor& txt_ids, const std::vector<float>* guidance) const;
  Tensor forward_prepared(const Tensor& hidden, const Tensor& context, const Prepared& prepared) const;
  // Every adaLN projection of every step of an image, before its loop (layers/modulation_table.h):
  // timesteps[s] (and guidance[s] for [dev]) are step s's B values, as forward() takes them.
  // One rank. A step then sets prepared.table after table.select(s).
  ModulationTable modulation_table(const std::vector<std::vector<float>>& timesteps, const Tensor& pooled,
                                   const std::vector<std::vector<float>>* guidance) const;

  const FluxConfig& config() const { return config_; }

 private:
  void check_inputs(const Tensor& hidden, const Tensor& context, const Tensor& pooled,
                    const std::vector<float>& timesteps, const Tensor& img_ids, const Tensor& txt_ids,
                    const std::vector<float>* guidance) const;
  // The run's groups; a model loaded without any runs with a one-rank group.
  ParallelGroups& groups() const;
  // The timestep (+ guidance) + pooled-text embedding, scaled by 1000 as diffusers does.
  Tensor time_embedding(const std::vector<float>& timesteps, const Tensor& pooled,
                        const std::vector<float>* guidance) const;
  ParallelGroups* parallel_ = nullptr;
  FluxConfig config_;
  Linear x_embedder_, context_embedder_;
  CombinedTimestepTextProjEmbeddings time_text_embed_;                  // [schnell]
  CombinedTimestepGuidanceTextProjEmbeddings time_guidance_text_embed_;  // [dev]
  std::vector<FluxDoubleBlock> double_blocks_;
  std::vector<FluxSingleBlock> single_blocks_;
  AdaLayerNormContinuous norm_out_;
  Linear proj_out_;
};

}  // namespace paradit
