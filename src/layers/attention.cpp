#include "layers/attention.h"

#include <cmath>
#include <functional>

#include "core/error.h"
#include "ops/ops.h"
#include "parallel/sequence_attention.h"
#include "parallel/token_shard.h"

namespace paradit {

Attention Attention::load(const LoadContext& ctx, const std::string& prefix, const Config& config) {
  PD_CHECK(config.qk_norm.empty() || config.qk_norm == "rms_norm", "Attention: unsupported qk_norm '", config.qk_norm,
           "'");
  PD_CHECK(config.query_dim > 0 && config.heads > 0 && config.head_dim > 0, "Attention: bad config");
  Attention a;
  a.config_ = config;
  a.local_heads_ = config.heads;
  const int64_t inner = config.heads * config.head_dim;
  const int64_t out_dim = config.out_dim ? config.out_dim : config.query_dim;
  const bool clip = config.naming == Config::Naming::Clip;
  // One rank loads every head; under tp each rank loads a slice of heads, padded with zero
  // heads to a multiple of the tp size times the Ulysses degree.
  std::function<Linear(const std::string&, int64_t)> in_proj = [&](const std::string& name, int64_t in) { return Linear::load(ctx, join(prefix, name), in, inner); };
  std::function<Linear(const std::string&)> out_proj = [&](const std::string& name) { return Linear::load(ctx, join(prefix, name), inner, out_dim); };
  if (is_parallel(ctx)) {
    PD_CHECK(!config.causal, "Attention: causal attention has no parallel form");
    a.parallel_ = ctx.parallel;
    const auto& tp = *ctx.parallel->tp;
    const TpSplit split = tp_split(config.heads, tp.size(), tp.rank(), ctx.parallel->ulysses->size());
    a.local_heads_ = split.per_rank;
    in_proj = [&, split](const std::string& name, int64_t in) {
      return load_column_parallel(ctx, join(prefix, name), in, inner, config.head_dim, split);
    };
    out_proj = [&, split](const std::string& name) {
      return load_row_parallel(ctx, join(prefix, name), inner, out_dim, config.head_dim, split, tp.rank() == 0);
    };
  }
  a.to_q_ = in_proj(clip ? "q_proj" : "to_q", config.query_dim);
  a.to_k_ = in_proj(clip ? "k_proj" : "to_k", config.query_dim);
  a.to_v_ = in_proj(clip ? "v_proj" : "to_v", config.query_dim);
  a.to_out_ = out_proj(clip ? "out_proj" : "to_out.0");
  const bool rms = config.qk_norm == "rms_norm";
  if (rms) {
    a.norm_q_ = RMSNorm::load(ctx, join(prefix, "norm_q"), config.head_dim, config.eps, true);
    a.norm_k_ = RMSNorm::load(ctx, join(prefix, "norm_k"), config.head_dim, config.eps, true);
  }
  if (config.added_kv_proj_dim) {
    a.add_q_ = in_proj("add_q_proj", config.added_kv_proj_dim);
    a.add_k_ = in_proj("add_k_proj", config.added_kv_proj_dim);
    a.add_v_ = in_proj("add_v_proj", config.added_kv_proj_dim);
    if (!config.context_pre_only) a.to_add_out_ = out_proj("to_add_out");
    if (rms) {
      a.norm_added_q_ = RMSNorm::load(ctx, join(prefix, "norm_added_q"), config.head_dim, config.eps, true);
      a.norm_added_k_ = RMSNorm::load(ctx, join(prefix, "norm_added_k"), config.head_dim, config.eps, true);
    }
  }
  return a;
}

Tensor Attention::to_heads(const Tensor& x, const std::optional<RMSNorm>& norm) const {
  const int64_t B = x.size(0), N = x.size(1);
  Tensor heads = ops::permute(x.reshape({B, N, local_heads_, config_.head_dim}), {0, 2, 1, 3});
  return norm ? norm->forward(heads) : heads;
}

Attention::Output Attention::forward(const Tensor& hidden, const Tensor* context, int64_t image_tokens,
                                     int64_t prompt_tokens) const {
  PD_CHECK(hidden.dim() == 3 && hidden.size(2) == config_.query_dim, "Attention: hidden states ", hidden.describe(),
           " must be [B, N, ", config_.query_dim, "]");
  PD_CHECK(!context || add_q_, "Attention: a context was given to a module without added_kv projections");
  if (context)
    PD_CHECK(context->dim() == 3 && context->size(0) == hidden.size(0) && context->size(2) == config_.added_kv_proj_dim,
             "Attention: context ", context->describe(), " must be [", hidden.size(0), ", M, ",
             config_.added_kv_proj_dim, "]");
  if (parallel_) return forward_parallel(hidden, context, image_tokens, prompt_tokens);
  const int64_t B = hidden.size(0), N = hidden.size(1);
  // The bf16 path rounds each input to bf16 once for its three projections, not once per GEMM.
  const bool bf16 = to_q_.compute_dtype() == DType::BF16 && hidden.dtype() == DType::F32;
  auto project = [&](const Linear& l, const Tensor& x) {
    return x.dtype() == l.compute_dtype() && bf16 ? ops::linear(x, l.weight(), l.bias(), DType::F32) : l.forward(x);
  };
  const Tensor x = bf16 ? hidden.to(DType::BF16) : hidden;
  Tensor q = to_heads(project(to_q_, x), norm_q_);
  Tensor k = to_heads(project(to_k_, x), norm_k_);
  Tensor v = to_heads(project(to_v_, x), std::nullopt);
  int64_t M = 0;
  if (context) {
    M = context->size(1);
    const Tensor c = bf16 && add_q_->compute_dtype() == DType::BF16 ? context->to(DType::BF16) : *context;
    q = ops::concat({q, to_heads(project(*add_q_, c), norm_added_q_)}, 2);
    k = ops::concat({k, to_heads(project(*add_k_, c), norm_added_k_)}, 2);
    v = ops::concat({v, to_heads(project(*add_v_, c), std::nullopt)}, 2);
  }
  const float scale = 1.f / std::sqrt(static_cast<float>(config_.head_dim));
  // Where the projections run in bf16 and the CPU multiplies bf16 natively, so do the
  // attention products (softmax and accumulation stay f32); the f32 path stays exact.
  const bool bf16_products =
      to_q_.compute_dtype() == DType::BF16 && ops::fast_bf16_attention(config_.head_dim);
  const Tensor attended = ops::attention(q, k, v, scale, config_.causal, nullptr, bf16_products);
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

Attention::Output Attention::forward_parallel(const Tensor& hidden, const Tensor* context, int64_t image_tokens,
                                             int64_t prompt_tokens) const {
  // The tp group's rows are gathered for the column-parallel projections (the sp rank's whole
  // shard); the row-parallel outputs are summed and scattered back to each rank's rows.
  Communicator& tp = *parallel_->tp;
  const Tensor x = gather_rows(tp, hidden);
  const int64_t B = x.size(0), N = x.size(1), inner = local_heads_ * config_.head_dim;
  if (image_tokens < 0) image_tokens = N * parallel_->sp->size();
  const Tensor q = to_heads(to_q_.forward(x), norm_q_);
  const Tensor k = to_heads(to_k_.forward(x), norm_k_);
  const Tensor v = to_heads(to_v_.forward(x), std::nullopt);
  Tensor qc, kc, vc, prompt;
  if (context) {
    prompt = gather_rows(tp, *context);
    const int64_t M = prompt_tokens < 0 ? prompt.size(1) : prompt_tokens;
    if (M < prompt.size(1)) prompt = ops::split(prompt, {M, prompt.size(1) - M}, 1)[0];  // padding is no key
    qc = to_heads(add_q_->forward(prompt), norm_added_q_);
    kc = to_heads(add_k_->forward(prompt), norm_added_k_);
    vc = to_heads(add_v_->forward(prompt), std::nullopt);
  }
  const float scale = 1.f / std::sqrt(static_cast<float>(config_.head_dim));
  const auto attended = sequence_parallel_attention(*parallel_, q, k, v, context ? &qc : nullptr,
                                                    context ? &kc : nullptr, context ? &vc : nullptr, image_tokens, scale);
  Output out;
  out.hidden =
      reduce_scatter_rows(tp, to_out_.forward(ops::permute(attended.image, {0, 2, 1, 3}).reshape({B, N, inner})));
  if (context) {
    const Tensor merged = ops::permute(*attended.prompt, {0, 2, 1, 3}).reshape({B, prompt.size(1), inner});
    // Without to_add_out (the last block) the context output is unused; it stays this rank's heads.
    out.context = to_add_out_ ? reduce_scatter_rows(tp, to_add_out_->forward(merged)) : merged;
  }
  return out;
}

}  // namespace paradit
