#include "models/flux/blocks.h"

#include "core/device_memory.h"
#include "ops/ops.h"
#include "parallel/token_shard.h"

namespace paradit {
namespace {

Attention::Config attention_config(const FluxConfig& config) {
  Attention::Config a;
  a.query_dim = config.inner_dim();
  a.heads = config.num_attention_heads;
  a.head_dim = config.attention_head_dim;
  a.qk_norm = "rms_norm";
  a.eps = 1e-6f;
  a.context_first = true;
  return a;
}

}  // namespace

FluxDoubleBlock FluxDoubleBlock::load(const LoadContext& ctx, const std::string& prefix, const FluxConfig& config) {
  const int64_t D = config.inner_dim();
  FluxDoubleBlock b;
  b.norm1_ = AdaLayerNormZero::load(ctx, join(prefix, "norm1"), D);
  b.norm1_context_ = AdaLayerNormZero::load(ctx, join(prefix, "norm1_context"), D);
  Attention::Config attn = attention_config(config);
  attn.added_kv_proj_dim = D;
  b.attn_ = Attention::load(ctx, join(prefix, "attn"), attn);
  FeedForward::Config ff;
  ff.dim = D;
  ff.activation = "gelu-approximate";
  b.ff_ = FeedForward::load(ctx, join(prefix, "ff"), ff);
  b.ff_context_ = FeedForward::load(ctx, join(prefix, "ff_context"), ff);
  return b;
}

void FluxDoubleBlock::precompute_modulation(const Tensor& temb, ModulationTable& table) const {
  norm1_.precompute(temb, table);
  norm1_context_.precompute(temb, table);
}

void FluxDoubleBlock::forward(Tensor& hidden, Tensor& context, const Conditioning& temb, const Attention::Rotary& rope,
                              int64_t image_tokens, int64_t prompt_tokens) const {
  const auto n1 = norm1_.forward(hidden, temb);
  const auto c1 = norm1_context_.forward(context, temb);
  const auto attended = attn_.forward(n1.x, &c1.x, image_tokens, prompt_tokens, &rope);
  // The prompt stream's residual and feed-forward may run on a side queue beside the image
  // stream's (PARADIT_TWO_STREAMS).
  SideQueue side(hidden.device());
  // Each stream's attention residual and its feed-forward's norm in one pass.
  side.run([&] {
    auto c = ops::gated_add_norm_modulate(context, c1.gate_msa, *attended.context, c1.scale_mlp, c1.shift_mlp, 1e-6f);
    context = ops::gated_add(c.sum, c1.gate_mlp, ff_context_.forward(c.normed));
  });
  auto h = ops::gated_add_norm_modulate(hidden, n1.gate_msa, attended.hidden, n1.scale_mlp, n1.shift_mlp, 1e-6f);
  hidden = ops::gated_add(h.sum, n1.gate_mlp, ff_.forward(h.normed));
}

FluxSingleBlock FluxSingleBlock::load(const LoadContext& ctx, const std::string& prefix, const FluxConfig& config) {
  const int64_t D = config.inner_dim(), F = config.mlp_hidden_dim();
  FluxSingleBlock b;
  b.norm_ = AdaLayerNormZeroSingle::load(ctx, join(prefix, "norm"), D);
  Attention::Config attn = attention_config(config);
  attn.pre_only = true;
  attn.shared_projection = true;
  b.attn_ = Attention::load(ctx, join(prefix, "attn"), attn);
  if (is_parallel(ctx) && ctx.parallel->tp->size() > 1) {
    Communicator& tp = *ctx.parallel->tp;
    b.tp_ = &tp;
    const int64_t d = config.attention_head_dim;
    const TpSplit heads = tp_split(config.num_attention_heads, tp.size(), tp.rank(), ctx.parallel->ulysses->size());
    const TpSplit mlp = tp_split(F, tp.size(), tp.rank());
    b.proj_mlp_ = load_column_parallel(ctx, join(prefix, "proj_mlp"), D, F, 1, mlp);
    // proj_out's input is [attention (D) | MLP (F)]: this rank's columns of both, zero-padded
    // like the heads and MLP features they meet.
    const std::string w = join(prefix, "proj_out.weight");
    const Shape full = {D, D + F};
    const Tensor attn_cols = load_matrix_shard(ctx, w, full, {1, heads.begin * d, heads.end * d, heads.per_rank * d});
    const Tensor mlp_cols = load_matrix_shard(ctx, w, full, {1, D + mlp.begin, D + mlp.end, mlp.per_rank});
    std::optional<Tensor> bias;
    if (tp.rank() == 0) bias = load_tensor(ctx, join(prefix, "proj_out.bias"), {D});  // the sum adds it once
    b.proj_out_ = Linear::from(ctx, ops::concat({attn_cols, mlp_cols}, 1), bias);
  } else {
    b.proj_mlp_ = Linear::load(ctx, join(prefix, "proj_mlp"), D, F);
    b.proj_out_ = Linear::load(ctx, join(prefix, "proj_out"), D + F, D);
  }
  return b;
}

void FluxSingleBlock::precompute_modulation(const Tensor& temb, ModulationTable& table) const {
  norm_.precompute(temb, table);
}

void FluxSingleBlock::forward(Tensor& hidden, Tensor& context, const Conditioning& temb, const Attention::Rotary& rope,
                              int64_t image_tokens, int64_t prompt_tokens) const {
  // One projection modulates both streams (the image rows and the prompt rows).
  const Tensor projection = norm_.projection(temb);
  const auto n = norm_.forward(hidden, projection);
  const auto c = norm_.forward(context, projection);
  // The attention outputs come in the compute dtype (bf16 on the fast path); the MLP's hidden
  // activation is written in the same dtype, so both feed proj_out as they are.
  const auto attended = attn_.forward(n.x, &c.x, image_tokens, prompt_tokens, &rope);
  auto finish = [&](Tensor& x, const Tensor& normed, Tensor attn, const Tensor& gate) {
    if (!tp_) {
      const Tensor mlp = proj_mlp_.forward_gelu(normed, /*tanh_approximation=*/true, attn.dtype());
      x = ops::gated_add(x, gate, proj_out_.forward(ops::concat({attn, mlp}, 2), DType::F32));
      return;
    }
    // tp: the attention's rows are the tp group's (its heads); so are the MLP's, once gathered.
    const Tensor rows = gather_rows(*tp_, normed);
    const Tensor mlp = proj_mlp_.forward_gelu(rows, /*tanh_approximation=*/true, attn.dtype());
    if (attn.size(1) < rows.size(1))  // the prompt's tp padding, which the attention trimmed
      attn = ops::concat({attn, Tensor::zeros({attn.size(0), rows.size(1) - attn.size(1), attn.size(2)},
                                              attn.dtype(), attn.device())}, 1);
    x = ops::gated_add(x, gate, reduce_scatter_rows(*tp_, proj_out_.forward(ops::concat({attn, mlp}, 2), DType::F32)));
  };
  finish(hidden, n.x, attended.hidden, n.gate);
  finish(context, c.x, *attended.context, c.gate);
}

}  // namespace paradit
