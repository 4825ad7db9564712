#include "layers/embeddings.h"

#include <cmath>
#include <cstring>

#include "core/error.h"
#include "ops/ops.h"

namespace paradit {

PatchEmbed PatchEmbed::load(const LoadContext& ctx, const std::string& prefix, const Config& config) {
  PD_CHECK(config.patch_size > 0 && config.embed_dim > 0 && config.pos_embed_max_size > 0,
           "PatchEmbed: bad config");
  PatchEmbed p;
  p.config_ = config;
  const int64_t max = config.pos_embed_max_size;
  p.proj_weight_ = load_tensor(ctx, join(prefix, "proj.weight"),
                               {config.embed_dim, config.in_channels, config.patch_size, config.patch_size});
  p.proj_bias_ = load_tensor(ctx, join(prefix, "proj.bias"), {config.embed_dim});
  p.pos_embed_ = load_tensor(ctx, join(prefix, "pos_embed"), {1, max * max, config.embed_dim});
  return p;
}

Tensor PatchEmbed::forward(const Tensor& latent) const {
  const int64_t p = config_.patch_size, max = config_.pos_embed_max_size, D = config_.embed_dim;
  PD_CHECK(latent.dim() == 4 && latent.size(1) == config_.in_channels, "PatchEmbed: latent ", latent.describe(),
           " must be [B, ", config_.in_channels, ", H, W]");
  PD_CHECK(latent.size(2) % p == 0 && latent.size(3) % p == 0, "PatchEmbed: latent ", latent.describe(),
           " is not a multiple of the patch size ", p);
  const int64_t h = latent.size(2) / p, w = latent.size(3) / p, B = latent.size(0);
  PD_CHECK(h <= max && w <= max, "PatchEmbed: ", h, "x", w, " patches exceed pos_embed_max_size ", max);
  const Tensor patches = ops::conv2d(latent, proj_weight_, &proj_bias_, {p, 0, 0, 0, 0});
  Tensor tokens = ops::permute(patches.reshape({B, D, h * w}), {0, 2, 1});
  // Centre crop of the max x max table, as diffusers' cropped_pos_embed does (a view, made
  // contiguous on the table's device).
  const int64_t top = (max - h) / 2, left = (max - w) / 2;
  const Tensor pos = pos_embed_.reshape({max, max, D}).slice(0, top, top + h).slice(1, left, left + w).contiguous();
  return ops::add(tokens, pos.reshape({h * w, D}));
}

Tensor timestep_sinusoid(const std::vector<float>& timesteps, int64_t dim) {
  PD_CHECK(dim >= 2, "timestep_sinusoid: dim must be >= 2");
  const int64_t half = dim / 2;
  Tensor out = Tensor::zeros({static_cast<int64_t>(timesteps.size()), dim});
  for (size_t b = 0; b < timesteps.size(); ++b) {
    float* row = out.data<float>() + static_cast<int64_t>(b) * dim;
    for (int64_t i = 0; i < half; ++i) {
      const float exponent = -std::log(10000.f) * static_cast<float>(i) / static_cast<float>(half);
      const float arg = timesteps[b] * std::exp(exponent);
      row[i] = std::cos(arg);
      row[half + i] = std::sin(arg);
    }
  }
  return out;
}

TwoLayerMlp TwoLayerMlp::load(const LoadContext& ctx, const std::string& prefix, int64_t in, int64_t hidden,
                              int64_t out) {
  TwoLayerMlp m;
  m.linear_1_ = Linear::load(ctx, join(prefix, "linear_1"), in, hidden);
  m.linear_2_ = Linear::load(ctx, join(prefix, "linear_2"), hidden, out);
  return m;
}

Tensor TwoLayerMlp::forward(const Tensor& x) const { return linear_2_.forward(ops::silu(linear_1_.forward(x))); }

CombinedTimestepTextProjEmbeddings CombinedTimestepTextProjEmbeddings::load(const LoadContext& ctx,
                                                                           const std::string& prefix,
                                                                           int64_t embedding_dim,
                                                                           int64_t pooled_projection_dim) {
  CombinedTimestepTextProjEmbeddings e;
  e.timestep_embedder_ = TwoLayerMlp::load(ctx, join(prefix, "timestep_embedder"), 256, embedding_dim, embedding_dim);
  e.text_embedder_ =
      TwoLayerMlp::load(ctx, join(prefix, "text_embedder"), pooled_projection_dim, embedding_dim, embedding_dim);
  return e;
}

Tensor CombinedTimestepTextProjEmbeddings::forward(const std::vector<float>& timesteps, const Tensor& pooled) const {
  PD_CHECK(pooled.dim() == 2 && pooled.size(0) == static_cast<int64_t>(timesteps.size()),
           "CombinedTimestepTextProjEmbeddings: ", timesteps.size(), " timesteps but pooled is ", pooled.describe());
  const Tensor t = timestep_embedder_.forward(timestep_sinusoid(timesteps, 256).to(pooled.device()));
  return ops::add(t, text_embedder_.forward(pooled));
}

}  // namespace paradit

namespace paradit {

CombinedTimestepGuidanceTextProjEmbeddings CombinedTimestepGuidanceTextProjEmbeddings::load(
    const LoadContext& ctx, const std::string& prefix, int64_t embedding_dim, int64_t pooled_projection_dim) {
  CombinedTimestepGuidanceTextProjEmbeddings e;
  e.timestep_embedder_ = TwoLayerMlp::load(ctx, join(prefix, "timestep_embedder"), 256, embedding_dim, embedding_dim);
  e.guidance_embedder_ = TwoLayerMlp::load(ctx, join(prefix, "guidance_embedder"), 256, embedding_dim, embedding_dim);
  e.text_embedder_ =
      TwoLayerMlp::load(ctx, join(prefix, "text_embedder"), pooled_projection_dim, embedding_dim, embedding_dim);
  return e;
}

Tensor CombinedTimestepGuidanceTextProjEmbeddings::forward(const std::vector<float>& timesteps,
                                                           const std::vector<float>& guidance,
                                                           const Tensor& pooled) const {
  PD_CHECK(pooled.dim() == 2 && pooled.size(0) == static_cast<int64_t>(timesteps.size()) &&
               guidance.size() == timesteps.size(),
           "CombinedTimestepGuidanceTextProjEmbeddings: ", timesteps.size(), " timesteps, ", guidance.size(),
           " guidance values, pooled ", pooled.describe());
  const Tensor t = timestep_embedder_.forward(timestep_sinusoid(timesteps, 256).to(pooled.device()));
  const Tensor g = guidance_embedder_.forward(timestep_sinusoid(guidance, 256).to(pooled.device()));
  return ops::add(ops::add(t, g), text_embedder_.forward(pooled));
}

}  // namespace paradit
