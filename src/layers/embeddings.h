// The embeddings of SD3's MMDiT, named as in diffusers/models/embeddings.py:
// PatchEmbed (patchify conv + cropped sincos position table), the sinusoidal timestep
// projection, TimestepEmbedding, PixArtAlphaTextProjection and their sum,
// CombinedTimestepTextProjEmbeddings.
#pragma once

#include <string>
#include <vector>

#include "layers/linear.h"

namespace paradit {

class PatchEmbed {
 public:
  struct Config {
    int64_t patch_size = 2;
    int64_t in_channels = 16;
    int64_t embed_dim = 0;
    int64_t pos_embed_max_size = 0;  // the position table is max x max patches
  };
  PatchEmbed() = default;
  static PatchEmbed load(const LoadContext& ctx, const std::string& prefix, const Config& config);
  // latent [B, C, H, W] -> tokens [B, (H/p)*(W/p), D] plus the centre crop of the table.
  Tensor forward(const Tensor& latent) const;

 private:
  Config config_;
  Tensor proj_weight_, proj_bias_, pos_embed_;  // pos_embed [1, max*max, D]
};

// diffusers get_timestep_embedding with flip_sin_to_cos=True, downscale_freq_shift=0:
// [cos(t * f_i), sin(t * f_i)] with f_i = exp(-ln(10000) * i / (dim / 2)).
Tensor timestep_sinusoid(const std::vector<float>& timesteps, int64_t dim);

// Linear -> SiLU -> Linear, the shape of both TimestepEmbedding and PixArtAlphaTextProjection.
class TwoLayerMlp {
 public:
  TwoLayerMlp() = default;
  static TwoLayerMlp load(const LoadContext& ctx, const std::string& prefix, int64_t in, int64_t hidden, int64_t out);
  Tensor forward(const Tensor& x) const;

 private:
  Linear linear_1_, linear_2_;
};

class CombinedTimestepTextProjEmbeddings {
 public:
  CombinedTimestepTextProjEmbeddings() = default;
  static CombinedTimestepTextProjEmbeddings load(const LoadContext& ctx, const std::string& prefix,
                                                 int64_t embedding_dim, int64_t pooled_projection_dim);
  // timesteps [B] (values as the scheduler gives them, 0..1000), pooled [B, pooled_dim] -> [B, D]
  Tensor forward(const std::vector<float>& timesteps, const Tensor& pooled) const;

 private:
  TwoLayerMlp timestep_embedder_, text_embedder_;
};

// FLUX.1 [dev]'s CombinedTimestepGuidanceTextProjEmbeddings: the timestep and the guidance
// scale each through the sinusoid and their own TimestepEmbedding, plus the pooled text.
class CombinedTimestepGuidanceTextProjEmbeddings {
 public:
  CombinedTimestepGuidanceTextProjEmbeddings() = default;
  static CombinedTimestepGuidanceTextProjEmbeddings load(const LoadContext& ctx, const std::string& prefix,
                                                         int64_t embedding_dim, int64_t pooled_projection_dim);
  // timesteps and guidance [B] (as the model scales them: times 1000), pooled [B, pooled_dim] -> [B, D]
  Tensor forward(const std::vector<float>& timesteps, const std::vector<float>& guidance, const Tensor& pooled) const;

 private:
  TwoLayerMlp timestep_embedder_, guidance_embedder_, text_embedder_;
};

}  // namespace paradit
