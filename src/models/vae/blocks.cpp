#include "models/vae/blocks.h"

#include <cmath>

#include "ops/ops.h"

namespace paradit {

ResnetBlock2D ResnetBlock2D::load(const LoadContext& ctx, const std::string& prefix, int64_t in, int64_t out,
                                  int64_t groups) {
  ResnetBlock2D r;
  r.norm1_ = GroupNorm::load(ctx, join(prefix, "norm1"), groups, in, 1e-6f);
  r.conv1_ = Conv2d::load(ctx, join(prefix, "conv1"), in, out, 3, ops::Conv2dParams::same(1));
  r.norm2_ = GroupNorm::load(ctx, join(prefix, "norm2"), groups, out, 1e-6f);
  r.conv2_ = Conv2d::load(ctx, join(prefix, "conv2"), out, out, 3, ops::Conv2dParams::same(1));
  if (in != out) r.shortcut_ = Conv2d::load(ctx, join(prefix, "conv_shortcut"), in, out, 1, {});
  return r;
}

Tensor ResnetBlock2D::forward(const Tensor& x) const {
  Tensor h = conv1_.forward(ops::silu(norm1_.forward(x)));
  h = conv2_.forward(ops::silu(norm2_.forward(h)));
  return ops::add(shortcut_ ? shortcut_->forward(x) : x, h);
}

VaeAttention VaeAttention::load(const LoadContext& ctx, const std::string& prefix, int64_t channels, int64_t groups) {
  VaeAttention a;
  a.channels_ = channels;
  a.norm_ = GroupNorm::load(ctx, join(prefix, "group_norm"), groups, channels, 1e-6f);
  a.q_ = Linear::load(ctx, join(prefix, "to_q"), channels, channels);
  a.k_ = Linear::load(ctx, join(prefix, "to_k"), channels, channels);
  a.v_ = Linear::load(ctx, join(prefix, "to_v"), channels, channels);
  a.out_ = Linear::load(ctx, join(prefix, "to_out.0"), channels, channels);
  return a;
}

Tensor VaeAttention::forward(const Tensor& x) const {
  const int64_t B = x.size(0), C = x.size(1), HW = x.size(2) * x.size(3);
  // [B, C, H, W] -> tokens [B, HW, C], one head of width C
  const Tensor tokens = ops::permute(norm_.forward(x).reshape({B, C, HW}), {0, 2, 1});
  auto head = [&](const Linear& l) { return l.forward(tokens).reshape({B, 1, HW, C}); };
  const Tensor attended = ops::attention(head(q_), head(k_), head(v_), 1.f / std::sqrt(static_cast<float>(C)));
  const Tensor out = out_.forward(attended.reshape({B, HW, C}));
  return ops::add(ops::permute(out, {0, 2, 1}).reshape(x.shape()), x);
}

VaeMidBlock VaeMidBlock::load(const LoadContext& ctx, const std::string& prefix, int64_t channels, int64_t groups,
                              bool attention) {
  VaeMidBlock m;
  m.resnet0_ = ResnetBlock2D::load(ctx, join(prefix, "resnets.0"), channels, channels, groups);
  if (attention) m.attention_ = VaeAttention::load(ctx, join(prefix, "attentions.0"), channels, groups);
  m.resnet1_ = ResnetBlock2D::load(ctx, join(prefix, "resnets.1"), channels, channels, groups);
  return m;
}

Tensor VaeMidBlock::forward(const Tensor& x) const {
  Tensor h = resnet0_.forward(x);
  if (attention_) h = attention_->forward(h);
  return resnet1_.forward(h);
}

}  // namespace paradit
