#include "models/mmdit/joint_block.h"

#include "core/device_memory.h"
#include "ops/ops.h"

namespace paradit {

JointTransformerBlock JointTransformerBlock::load(const LoadContext& ctx, const std::string& prefix,
                                                  const MMDiTConfig& config, int64_t index) {
  JointTransformerBlock b;
  const int64_t D = config.inner_dim();
  b.context_pre_only_ = index == config.num_layers - 1;
  b.dual_ = config.is_dual(index);
  if (b.dual_) b.norm1_x_ = AdaLayerNormZeroX::load(ctx, join(prefix, "norm1"), D);
  else b.norm1_ = AdaLayerNormZero::load(ctx, join(prefix, "norm1"), D);
  if (b.context_pre_only_) b.norm1_context_last_ = AdaLayerNormContinuous::load(ctx, join(prefix, "norm1_context"), D, D);
  else b.norm1_context_ = AdaLayerNormZero::load(ctx, join(prefix, "norm1_context"), D);

  Attention::Config attn;
  attn.query_dim = D;
  attn.heads = config.num_attention_heads;
  attn.head_dim = config.attention_head_dim;
  attn.qk_norm = config.qk_norm;
  Attention::Config self_attn = attn;
  attn.added_kv_proj_dim = D;
  attn.context_pre_only = b.context_pre_only_;
  b.attn_ = Attention::load(ctx, join(prefix, "attn"), attn);
  if (b.dual_) b.attn2_ = Attention::load(ctx, join(prefix, "attn2"), self_attn);

  FeedForward::Config ff;
  ff.dim = D;
  ff.activation = "gelu-approximate";
  b.ff_ = FeedForward::load(ctx, join(prefix, "ff"), ff);
  if (!b.context_pre_only_) b.ff_context_ = FeedForward::load(ctx, join(prefix, "ff_context"), ff);
  return b;
}

void JointTransformerBlock::precompute_modulation(const Tensor& temb, ModulationTable& table) const {
  if (dual_) norm1_x_.precompute(temb, table);
  else norm1_.precompute(temb, table);
  if (context_pre_only_) norm1_context_last_.precompute(temb, table);
  else norm1_context_.precompute(temb, table);
}

void JointTransformerBlock::forward(Tensor& hidden, Tensor& context, const Conditioning& temb, int64_t image_tokens,
                                    int64_t prompt_tokens) const {
  AdaLayerNormZero::Output n1;
  Tensor x2, gate_msa2;
  if (dual_) {
    auto nx = norm1_x_.forward(hidden, temb);
    n1 = {nx.x, nx.gate_msa, nx.shift_mlp, nx.scale_mlp, nx.gate_mlp};
    x2 = nx.x2;
    gate_msa2 = nx.gate_msa2;
  } else {
    n1 = norm1_.forward(hidden, temb);
  }
  AdaLayerNormZero::Output c1;
  const Tensor norm_context =
      context_pre_only_ ? norm1_context_last_.forward(context, temb) : (c1 = norm1_context_.forward(context, temb)).x;

  const auto attended = attn_.forward(n1.x, &norm_context, image_tokens, prompt_tokens);
  // The prompt stream's residual and feed-forward may run on a side queue beside the image
  // stream's (PARADIT_TWO_STREAMS): they share nothing until the next block's attention.
  SideQueue side(hidden.device());
  if (!context_pre_only_)
    side.run([&] {
      // The attention's residual and the feed-forward's norm in one pass.
      auto c = ops::gated_add_norm_modulate(context, c1.gate_msa, *attended.context, c1.scale_mlp, c1.shift_mlp, 1e-6f);
      context = ops::gated_add(c.sum, c1.gate_mlp, ff_context_->forward(c.normed));
    });
  ops::ResidualAndNorm h;
  if (dual_) {
    hidden = ops::gated_add(hidden, n1.gate_msa, attended.hidden);
    h = ops::gated_add_norm_modulate(hidden, gate_msa2, attn2_->forward(x2, nullptr, image_tokens).hidden,
                                     n1.scale_mlp, n1.shift_mlp, 1e-6f);
  } else {
    h = ops::gated_add_norm_modulate(hidden, n1.gate_msa, attended.hidden, n1.scale_mlp, n1.shift_mlp, 1e-6f);
  }
  hidden = ops::gated_add(h.sum, n1.gate_mlp, ff_.forward(h.normed));
}

}  // namespace paradit
