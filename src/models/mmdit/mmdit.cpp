#include "models/mmdit/mmdit.h"

#include <cmath>

#include "core/error.h"
#include "ops/ops.h"
#include "parallel/token_shard.h"

namespace paradit {

MMDiT MMDiT::load(const LoadContext& ctx, const MMDiTConfig& config) {
  config.validate();
  MMDiT m;
  m.config_ = config;
  if (is_parallel(ctx)) m.parallel_ = ctx.parallel;
  const int64_t D = config.inner_dim();
  m.pos_embed_ = PatchEmbed::load(ctx, "pos_embed",
                                  {config.patch_size, config.in_channels, D, config.pos_embed_max_size});
  m.time_text_embed_ = CombinedTimestepTextProjEmbeddings::load(ctx, "time_text_embed", D, config.pooled_projection_dim);
  m.context_embedder_ = Linear::load(ctx, "context_embedder", config.joint_attention_dim, D);
  for (int64_t i = 0; i < config.num_layers; ++i)
    m.blocks_.push_back(JointTransformerBlock::load(ctx, "transformer_blocks." + std::to_string(i), config, i));
  m.norm_out_ = AdaLayerNormContinuous::load(ctx, "norm_out", D, D);
  m.proj_out_ = Linear::load(ctx, "proj_out", D, config.patch_size * config.patch_size * config.out_channels);
  return m;
}

void MMDiT::check_inputs(const Tensor& latent, const Tensor& context, const Tensor& pooled,
                         const std::vector<float>& timesteps) const {
  const auto& c = config_;
  PD_CHECK(latent.dim() == 4 && latent.size(1) == c.in_channels, "transformer: hidden_states ", latent.describe(),
           " must be [B, ", c.in_channels, ", H, W]");
  const int64_t B = latent.size(0);
  PD_CHECK(B > 0, "transformer: empty batch");
  PD_CHECK(latent.size(2) % c.patch_size == 0 && latent.size(3) % c.patch_size == 0, "transformer: latent size ",
           latent.size(2), "x", latent.size(3), " is not a multiple of the patch size ", c.patch_size,
           " (image sizes must be multiples of ", 8 * c.patch_size, " pixels)");
  PD_CHECK(latent.size(2) / c.patch_size <= c.pos_embed_max_size && latent.size(3) / c.patch_size <= c.pos_embed_max_size,
           "transformer: latent ", latent.size(2), "x", latent.size(3), " exceeds the model's largest size of ",
           c.pos_embed_max_size * c.patch_size, "x", c.pos_embed_max_size * c.patch_size, " latent pixels");
  PD_CHECK(context.dim() == 3 && context.size(0) == B && context.size(2) == c.joint_attention_dim,
           "transformer: encoder_hidden_states ", context.describe(), " must be [", B, ", T, ", c.joint_attention_dim,
           "]");
  PD_CHECK(pooled.dim() == 2 && pooled.size(0) == B && pooled.size(1) == c.pooled_projection_dim,
           "transformer: pooled_projections ", pooled.describe(), " must be [", B, ", ", c.pooled_projection_dim, "]");
  PD_CHECK(static_cast<int64_t>(timesteps.size()) == B, "transformer: ", timesteps.size(), " timesteps for a batch of ",
           B);
  for (float t : timesteps) PD_CHECK(std::isfinite(t), "transformer: timestep is not finite");
}

Tensor MMDiT::forward(const Tensor& latent, const Tensor& context, const Tensor& pooled,
                      const std::vector<float>& timesteps) const {
  check_inputs(latent, context, pooled, timesteps);
  // cfg: this rank's CFG group takes its share of the batch; the shares are gathered, so every
  // rank returns the whole [B, C, H, W] prediction. One rank: the whole batch, no gather.
  Communicator& cfg = *groups().cfg;
  const int64_t B = latent.size(0), n = cfg.size();
  PD_CHECK(B % n == 0, "transformer: a batch of ", B, " does not split over cfg factor ", n,
           " (CFG runs [uncond; cond] halves on separate submeshes)");
  const int64_t b = B / n, first = cfg.rank() * b;
  const std::vector<float> mine(timesteps.begin() + first, timesteps.begin() + first + b);
  const Tensor temb = time_embedding(mine, pooled.rows(first, first + b));
  return gather_batch(cfg, forward_with_temb(latent.rows(first, first + b), context.rows(first, first + b), temb));
}

ParallelGroups& MMDiT::groups() const { return parallel_ ? *parallel_ : ParallelGroups::one_rank(); }

Tensor MMDiT::time_embedding(const std::vector<float>& timesteps, const Tensor& pooled) const {
  return time_text_embed_.forward(timesteps, pooled);
}

ModulationTable MMDiT::modulation_table(const std::vector<std::vector<float>>& timesteps, const Tensor& pooled) const {
  PD_CHECK(!parallel_, "MMDiT::modulation_table runs one rank");
  PD_CHECK(!timesteps.empty(), "modulation_table: no steps");
  const int64_t B = pooled.size(0), S = static_cast<int64_t>(timesteps.size());
  std::vector<float> flat;
  for (const auto& step : timesteps) {
    PD_CHECK(static_cast<int64_t>(step.size()) == B, "modulation_table: ", step.size(), " timesteps for a batch of ", B);
    flat.insert(flat.end(), step.begin(), step.end());
  }
  const Tensor temb = time_embedding(flat, ops::concat(std::vector<Tensor>(static_cast<size_t>(S), pooled), 0));
  ModulationTable table;
  for (const auto& block : blocks_) block.precompute_modulation(temb, table);
  norm_out_.precompute(temb, table);
  table.finish(S, B);
  return table;
}

Tensor MMDiT::forward_with_temb(const Tensor& latent, const Tensor& context, const Conditioning& temb) const {
  ParallelGroups& g = groups();
  const int64_t B = latent.size(0), p = config_.patch_size, C = config_.out_channels;
  const int64_t h = latent.size(2) / p, w = latent.size(3) / p, tokens = h * w;
  // Image tokens over sp x tp (the tp ranks of an sp shard hold consecutive slices of it),
  // prompt tokens over tp: the residual streams are never replicated inside a tp group. One
  // rank: the whole sequences (sharding and gathering are the identity).
  const int64_t sp = g.sp->size(), tp = g.tp->size(), M = context.size(1);
  Tensor hidden = shard_tokens(pos_embed_.forward(latent), g.sp->rank() * tp + g.tp->rank(), sp * tp);
  Tensor ctx = shard_tokens(context_embedder_.forward(context), g.tp->rank(), tp);
  for (const auto& block : blocks_) block.forward(hidden, ctx, temb, tokens, M);
  const Tensor local = proj_out_.forward(norm_out_.forward(hidden, temb));
  const Tensor out = gather_tokens(*g.sp, gather_rows(*g.tp, local), tokens);  // [B, h*w, p*p*C]
  // unpatchify: (B, h, w, p, q, C) -> (B, C, h, p, w, q)
  return ops::permute(out.reshape({B, h, w, p, p, C}), {0, 5, 1, 3, 2, 4}).reshape({B, C, h * p, w * p});
}

}  // namespace paradit
