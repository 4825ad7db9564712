#include "layers/attention.h"

#include <cmath>

#include "core/error.h"
#include "ops/ops.h"

namespace paradit {

Attention Attention::load(const LoadContext& ctx, const std::string& prefix, const Config& config) {
  PD_CHECK(config.qk_norm.empty() || config.qk_norm == "rms_norm", "Attention: unsupported qk_norm '", config.qk_norm,
           "'");
  PD_CHECK(config.query_dim > 0 && config.heads > 0 && config.head_dim > 0, "Attention: bad config");
  Attention a;
  a.config_ = config;
  const int64_t inner = config.heads * config.head_dim;
  const int64_t out_dim = config.out_dim ? config.out_dim : config.query_dim;
  const bool clip = config.naming == Config::Naming::Clip;
  a.to_q_ = Linear::load(ctx, join(prefix, clip ? "q_proj" : "to_q"), config.query_dim, inner);
  a.to_k_ = Linear::load(ctx, join(prefix, clip ? "k_proj" : "to_k"), config.query_dim, inner);
  a.to_v_ = Linear::load(ctx, join(prefix, clip ? "v_proj" : "to_v"), config.query_dim, inner);
  a.to_out_ = Linear::load(ctx, join(prefix, clip ? "out_proj" : "to_out.0"), inner, out_dim);
  const bool rms = config.qk_norm == "rms_norm";
  if (rms) {
    a.norm_q_ = RMSNorm::load(ctx, join(prefix, "norm_q"), config.head_dim, config.eps, true);
    a.norm_k_ = RMSNorm::load(ctx, join(prefix, "norm_k"), config.head_dim, config.eps, true);
  }
  if (config.added_kv_proj_dim) {
    a.add_q_ = Linear::load(ctx, join(prefix, "add_q_proj"), config.added_kv_proj_dim, inner);
    a.add_k_ = Linear::load(ctx, join(prefix, "add_k_proj"), config.added_kv_proj_dim, inner);
    a.add_v_ = Linear::load(ctx, join(prefix, "add_v_proj"), config.added_kv_proj_dim, inner);
    if (!config.context_pre_only) a.to_add_out_ = Linear::load(ctx, join(prefix, "to_add_out"), inner, out_dim);
    if (rms) {
      a.norm_added_q_ = RMSNorm::load(ctx, join(prefix, "norm_added_q"), config.head_dim, config.eps, true);
      a.norm_added_k_ = RMSNorm::load(ctx, join(prefix, "norm_added_k"), config.head_dim, config.eps, true);
    }
  }
  return a;
}

Tensor Attention::to_heads(const Tensor& x, const std::optional<RMSNorm>& norm) const {
  const int64_t B = x.size(0), N = x.size(1);
  Tensor heads = ops::permute(x.reshape({B, N, config_.heads, config_.head_dim}), {0, 2, 1, 3});
  return norm ? norm->forward(heads) : heads;
}

Attention::Output Attention::forward(const Tensor& hidden, const Tensor* context) const {
  PD_CHECK(hidden.dim() == 3 && hidden.size(2) == config_.query_dim, "Attention: hidden states ", hidden.describe(),
           " must be [B, N, ", config_.query_dim, "]");
  PD_CHECK(!context || add_q_, "Attention: a context was given to a module without added_kv projections");
  const int64_t B = hidden.size(0), N = hidden.size(1);
  Tensor q = to_heads(to_q_.forward(hidden), norm_q_);
  Tensor k = to_heads(to_k_.forward(hidden), norm_k_);
  Tensor v = to_heads(to_v_.forward(hidden), std::nullopt);
  int64_t M = 0;
  if (context) {
    PD_CHECK(context->dim() == 3 && context->size(0) == B && context->size(2) == config_.added_kv_proj_dim,
             "Attention: context ", context->describe(), " must be [", B, ", M, ", config_.added_kv_proj_dim, "]");
    M = context->size(1);
    q = ops::concat({q, to_heads(add_q_->forward(*context), norm_added_q_)}, 2);
    k = ops::concat({k, to_heads(add_k_->forward(*context), norm_added_k_)}, 2);
    v = ops::concat({v, to_heads(add_v_->forward(*context), std::nullopt)}, 2);
  }
  const float scale = 1.f / std::sqrt(static_cast<float>(config_.head_dim));
  // The bf16 attention kernel exists (ops::attention on bf16 inputs) but measured slower than
  // the f32 one on this AVX512-BF16 CPU (docs/perf.md), so the layer keeps f32 here.
  const Tensor attended = ops::attention(q, k, v, scale, config_.causal);
  const Tensor merged = ops::permute(attended, {0, 2, 1, 3}).reshape({B, N + M, config_.heads * config_.head_dim});
  Output out;
  if (!context) {
    out.hidden = to_out_.forward(merged);
    return out;
  }
  auto parts = ops::split(merged, {N, M}, 1);
  out.hidden = to_out_.forward(parts[0]);
  out.context = to_add_out_ ? to_add_out_->forward(parts[1]) : parts[1];
  return out;
}

}  // namespace paradit
