#include "models/flux/flux.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "models/flux/rope.h"
#include "ops/ops.h"
#include "parallel/token_shard.h"

namespace paradit {

FluxTransformer FluxTransformer::load(const LoadContext& parallel_ctx, const FluxConfig& config) {
  config.validate();
  FluxTransformer m;
  // The layers load whole (tp 1): cfg splits the batch and sp the image tokens, not the weights;
  // under sp the attention layers run their sequence-parallel form.
  LoadContext ctx = parallel_ctx;
  ctx.parallel = nullptr;
  if (is_parallel(parallel_ctx)) {
    ParallelGroups& g = *parallel_ctx.parallel;
    m.parallel_ = &g;
    if (g.sp->size() > 1 || g.tp->size() > 1) ctx.parallel = &g;
  }
  m.config_ = config;
  const int64_t D = config.inner_dim();
  m.x_embedder_ = Linear::load(ctx, "x_embedder", config.in_channels, D);
  m.context_embedder_ = Linear::load(ctx, "context_embedder", config.joint_attention_dim, D);
  if (config.guidance_embeds)
    m.time_guidance_text_embed_ =
        CombinedTimestepGuidanceTextProjEmbeddings::load(ctx, "time_text_embed", D, config.pooled_projection_dim);
  else
    m.time_text_embed_ = CombinedTimestepTextProjEmbeddings::load(ctx, "time_text_embed", D, config.pooled_projection_dim);
  for (int64_t i = 0; i < config.num_layers; ++i)
    m.double_blocks_.push_back(FluxDoubleBlock::load(ctx, "transformer_blocks." + std::to_string(i), config));
  for (int64_t i = 0; i < config.num_single_layers; ++i)
    m.single_blocks_.push_back(FluxSingleBlock::load(ctx, "single_transformer_blocks." + std::to_string(i), config));
  m.norm_out_ = AdaLayerNormContinuous::load(ctx, "norm_out", D, D);
  m.proj_out_ = Linear::load(ctx, "proj_out", D, config.patch_size * config.patch_size * config.out_channels);
  return m;
}

void FluxTransformer::check_inputs(const Tensor& hidden, const Tensor& context, const Tensor& pooled,
                                   const std::vector<float>& timesteps, const Tensor& img_ids, const Tensor& txt_ids,
                                   const std::vector<float>* guidance) const {
  const auto& c = config_;
  PD_CHECK(hidden.dim() == 3 && hidden.size(0) > 0 && hidden.size(1) > 0 && hidden.size(2) == c.in_channels,
           "FLUX transformer: hidden_states ", hidden.describe(), " must be [B, N, ", c.in_channels, "]");
  const int64_t B = hidden.size(0), N = hidden.size(1);
  PD_CHECK(context.dim() == 3 && context.size(0) == B && context.size(2) == c.joint_attention_dim,
           "FLUX transformer: encoder_hidden_states ", context.describe(), " must be [", B, ", T, ",
           c.joint_attention_dim, "]");
  PD_CHECK(pooled.dim() == 2 && pooled.size(0) == B && pooled.size(1) == c.pooled_projection_dim,
           "FLUX transformer: pooled_projections ", pooled.describe(), " must be [", B, ", ", c.pooled_projection_dim,
           "]");
  PD_CHECK(img_ids.dim() == 2 && img_ids.size(0) == N && img_ids.size(1) == 3, "FLUX transformer: img_ids ",
           img_ids.describe(), " must be [", N, ", 3]");
  PD_CHECK(txt_ids.dim() == 2 && txt_ids.size(0) == context.size(1) && txt_ids.size(1) == 3,
           "FLUX transformer: txt_ids ", txt_ids.describe(), " must be [", context.size(1), ", 3]");
  PD_CHECK(static_cast<int64_t>(timesteps.size()) == B, "FLUX transformer: ", timesteps.size(),
           " timesteps for a batch of ", B);
  for (float t : timesteps) PD_CHECK(std::isfinite(t), "FLUX transformer: timestep is not finite");
  if (c.guidance_embeds) {
    PD_CHECK(guidance && static_cast<int64_t>(guidance->size()) == B, "FLUX transformer: this model (",
             "guidance_embeds, FLUX.1 [dev]) needs one guidance value per sample");
    for (float g : *guidance) PD_CHECK(std::isfinite(g), "FLUX transformer: guidance is not finite");
  } else {
    PD_CHECK(!guidance, "FLUX transformer: this model has no guidance embedding (FLUX.1 [schnell]); "
                        "use true CFG instead");
  }
}

Tensor FluxTransformer::forward(const Tensor& hidden, const Tensor& context, const Tensor& pooled,
                                const std::vector<float>& timesteps, const Tensor& img_ids, const Tensor& txt_ids,
                                const std::vector<float>* guidance) const {
  check_inputs(hidden, context, pooled, timesteps, img_ids, txt_ids, guidance);
  // cfg: this group's share of the batch, gathered back so every rank holds the whole result.
  // One rank: the whole batch, no gather.
  Communicator& cfg = *groups().cfg;
  const int64_t B = hidden.size(0), groups = cfg.size();
  PD_CHECK(B % groups == 0, "FLUX transformer: a batch of ", B, " does not split over cfg factor ", groups,
           " (true CFG runs [negative; prompt] halves on separate submeshes)");
  const int64_t b = B / groups, first = cfg.rank() * b;
  auto mine = [&](const std::vector<float>& v) {
    return std::vector<float>(v.begin() + first, v.begin() + first + b);
  };
  const std::vector<float> my_guidance = guidance ? mine(*guidance) : std::vector<float>{};
  const Prepared prepared =
      prepare(pooled.rows(first, first + b), mine(timesteps), img_ids, txt_ids, guidance ? &my_guidance : nullptr);
  return gather_batch(cfg, forward_prepared(hidden.rows(first, first + b), context.rows(first, first + b), prepared));
}

ParallelGroups& FluxTransformer::groups() const { return parallel_ ? *parallel_ : ParallelGroups::one_rank(); }

FluxTransformer::Prepared FluxTransformer::prepare(const Tensor& pooled, const std::vector<float>& timesteps,
                                                   const Tensor& img_ids, const Tensor& txt_ids,
                                                   const std::vector<float>* guidance) const {
  Prepared p;
  p.temb = time_embedding(timesteps, pooled, guidance);
  // The tables are made on the host (f64 angles) and moved to the activations' device.
  const RotaryTables tables = flux_rotary_tables(
      ops::concat({txt_ids.to(Device::CPU).to(DType::F32), img_ids.to(Device::CPU).to(DType::F32)}, 0),
      config_.axes_dims_rope);
  p.rope_cos = tables.cos.to(pooled.device());
  p.rope_sin = tables.sin.to(pooled.device());
  return p;
}

Tensor FluxTransformer::time_embedding(const std::vector<float>& timesteps, const Tensor& pooled,
                                       const std::vector<float>* guidance) const {
  // The model scales timestep and guidance by 1000 in f32, as diffusers does.
  std::vector<float> t(timesteps);
  for (float& v : t) v *= 1000.f;
  if (!config_.guidance_embeds) return time_text_embed_.forward(t, pooled);
  PD_CHECK(guidance && guidance->size() == timesteps.size(), "FLUX transformer: one guidance value per sample");
  std::vector<float> g(*guidance);
  for (float& v : g) v *= 1000.f;
  return time_guidance_text_embed_.forward(t, g, pooled);
}

Tensor FluxTransformer::forward_prepared(const Tensor& hidden, const Tensor& context, const Prepared& p) const {
  ParallelGroups& g = groups();
  const int64_t T = context.size(1), N = hidden.size(1);
  Tensor x = x_embedder_.forward(hidden);
  Tensor ctx = context_embedder_.forward(context);
  const Conditioning temb(p.temb, p.table);
  Attention::Rotary rope{p.rope_cos, p.rope_sin};
  // sp and tp (the CPU's parallel configs): image tokens over sp x tp (the tp ranks of an sp
  // shard hold consecutive slices of it, zero-padded at the global tail), prompt tokens over
  // tp. The attention gathers its tp group's rows, so its rotary rows are the prompt's and the
  // whole sp shard's (padding rows: zeros, never attended as keys). One rank (or cfg only):
  // the whole sequences, the tables as made.
  const int64_t sp_size = g.sp->size(), tp_size = g.tp->size();
  if (sp_size * tp_size > 1) {
    x = shard_tokens(x, g.sp->rank() * tp_size + g.tp->rank(), sp_size * tp_size);
    ctx = shard_tokens(ctx, g.tp->rank(), tp_size);
    const int64_t shard = tp_size * x.size(1), start = g.sp->rank() * shard;
    auto local = [&](const Tensor& table) {
      // A shard past the last image token (a small image over many ranks) holds padding only.
      const int64_t valid = valid_tokens(N, start, shard);
      std::vector<Tensor> parts{table.rows(0, T)};
      if (valid > 0) parts.push_back(table.rows(T + start, T + start + valid));
      if (valid < shard) parts.push_back(Tensor::zeros({shard - valid, table.size(1)}, table.dtype(), table.device()));
      return ops::concat(parts, 0);
    };
    rope = {local(p.rope_cos), local(p.rope_sin)};
  }
  for (const auto& block : double_blocks_) block.forward(x, ctx, temb, rope, N, T);
  for (const auto& block : single_blocks_) block.forward(x, ctx, temb, rope, N, T);
  const Tensor out = proj_out_.forward(norm_out_.forward(x, temb));
  return gather_tokens(*g.sp, gather_rows(*g.tp, out), N);
}

ModulationTable FluxTransformer::modulation_table(const std::vector<std::vector<float>>& timesteps,
                                                  const Tensor& pooled,
                                                  const std::vector<std::vector<float>>* guidance) const {
  PD_CHECK(!parallel_, "FluxTransformer::modulation_table runs one rank");
  PD_CHECK(!timesteps.empty() && (!guidance || guidance->size() == timesteps.size()), "modulation_table: ",
           timesteps.size(), " steps");
  const int64_t B = pooled.size(0), S = static_cast<int64_t>(timesteps.size());
  std::vector<float> t, g;
  for (size_t s = 0; s < timesteps.size(); ++s) {
    PD_CHECK(static_cast<int64_t>(timesteps[s].size()) == B, "modulation_table: ", timesteps[s].size(),
             " timesteps for a batch of ", B);
    t.insert(t.end(), timesteps[s].begin(), timesteps[s].end());
    if (guidance) g.insert(g.end(), (*guidance)[s].begin(), (*guidance)[s].end());
  }
  const Tensor temb = time_embedding(t, ops::concat(std::vector<Tensor>(static_cast<size_t>(S), pooled), 0),
                                     guidance ? &g : nullptr);
  ModulationTable table;
  for (const auto& block : double_blocks_) block.precompute_modulation(temb, table);
  for (const auto& block : single_blocks_) block.precompute_modulation(temb, table);
  norm_out_.precompute(temb, table);
  table.finish(S, B);
  return table;
}

}  // namespace paradit
