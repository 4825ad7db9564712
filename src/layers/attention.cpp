#include "layers/attention.h"

#include <array>
#include <cmath>
#include <functional>

#include "core/error.h"
#include "core/device_memory.h"
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
  // The q/k/v parts load unpacked: they are stacked into one weight, packed then.
  LoadContext parts_ctx = ctx;
  parts_ctx.pack_weights = false;
  std::function<Linear(const std::string&, int64_t)> in_proj = [&](const std::string& name, int64_t in) { return Linear::load(parts_ctx, join(prefix, name), in, inner); };
  std::function<Linear(const std::string&)> out_proj = [&](const std::string& name) { return Linear::load(ctx, join(prefix, name), inner, out_dim); };
  if (is_parallel(ctx)) {
    PD_CHECK(!config.causal, "Attention: causal attention has no parallel form");
    a.parallel_ = ctx.parallel;
    const auto& tp = *ctx.parallel->tp;
    const TpSplit split = tp_split(config.heads, tp.size(), tp.rank(), ctx.parallel->ulysses->size());
    a.local_heads_ = split.per_rank;
    in_proj = [&, split](const std::string& name, int64_t in) {
      return load_column_parallel(parts_ctx, join(prefix, name), in, inner, config.head_dim, split);
    };
    out_proj = [&, split](const std::string& name) {
      return load_row_parallel(ctx, join(prefix, name), inner, out_dim, config.head_dim, split, tp.rank() == 0);
    };
  }
  // q, k and v run as one GEMM over weights stacked at load; their outputs are sliced as views.
  // (A dry run that only records names stacks nothing: it would copy untouched memory.)
  auto stack = [&](std::vector<Linear> parts) {
    return ctx.record ? parts[0] : Linear::stacked(parts, ctx.pack_weights);
  };
  a.qkv_ = stack({in_proj(clip ? "q_proj" : "to_q", config.query_dim),
                  in_proj(clip ? "k_proj" : "to_k", config.query_dim),
                  in_proj(clip ? "v_proj" : "to_v", config.query_dim)});
  if (!config.pre_only) a.to_out_ = out_proj(clip ? "out_proj" : "to_out.0");
  const bool rms = config.qk_norm == "rms_norm";
  if (rms) {
    a.norm_q_ = RMSNorm::load(ctx, join(prefix, "norm_q"), config.head_dim, config.eps, true);
    a.norm_k_ = RMSNorm::load(ctx, join(prefix, "norm_k"), config.head_dim, config.eps, true);
  }
  if (config.added_kv_proj_dim) {
    a.add_qkv_ = stack({in_proj("add_q_proj", config.added_kv_proj_dim),
                        in_proj("add_k_proj", config.added_kv_proj_dim),
                        in_proj("add_v_proj", config.added_kv_proj_dim)});
    if (!config.context_pre_only) a.to_add_out_ = out_proj("to_add_out");
    if (rms) {
      a.norm_added_q_ = RMSNorm::load(ctx, join(prefix, "norm_added_q"), config.head_dim, config.eps, true);
      a.norm_added_k_ = RMSNorm::load(ctx, join(prefix, "norm_added_k"), config.head_dim, config.eps, true);
    }
  }
  return a;
}

Tensor Attention::to_heads(const Tensor& x, const std::optional<RMSNorm>& norm) const {
  Tensor heads = ops::permute(x, {0, 2, 1, 3});
  return norm ? norm->forward(heads) : heads;
}

std::array<Tensor, 3> Attention::project(const Linear& qkv, const Tensor& x, DType out) const {
  // [B, N, 3 * H * d] from one GEMM, viewed as [B, N, 3, H, d]; q, k, v are its slices.
  const Tensor fused = qkv.forward(x, out).unflatten(2, {3, local_heads_, config_.head_dim});
  return {fused.select(2, 0), fused.select(2, 1), fused.select(2, 2)};
}

Attention::Output Attention::forward(const Tensor& hidden, const Tensor* context, int64_t image_tokens,
                                     int64_t prompt_tokens, const Rotary* rope) const {
  PD_CHECK(hidden.dim() == 3 && hidden.size(2) == config_.query_dim, "Attention: hidden states ", hidden.describe(),
           " must be [B, N, ", config_.query_dim, "]");
  PD_CHECK(!context || add_qkv_ || config_.shared_projection,
           "Attention: a context was given to a module without added_kv projections");
  if (context)
    PD_CHECK(context->dim() == 3 && context->size(0) == hidden.size(0) && context->size(2) == context_dim(),
             "Attention: context ", context->describe(), " must be [", hidden.size(0), ", M, ", context_dim(), "]");
  // tp: the group's rows are gathered for the column-parallel projections (the sp rank's whole
  // shard), and the row-parallel outputs summed and scattered back to each rank's rows. On one
  // rank both are the identity.
  Communicator* tp = parallel_ ? parallel_->tp.get() : nullptr;
  const Tensor x = tp ? gather_rows(*tp, hidden) : hidden;
  Tensor prompt;
  if (context) prompt = tp ? gather_rows(*tp, *context) : *context;
  const int64_t B = x.size(0), N = x.size(1), inner = local_heads_ * config_.head_dim;
  const int64_t sp = parallel_ ? parallel_->sp->size() : 1;
  if (image_tokens < 0) image_tokens = N * sp;
  const int64_t M = !context ? 0 : prompt_tokens < 0 ? prompt.size(1) : prompt_tokens;
  if (context && M < prompt.size(1)) prompt = prompt.slice(1, 0, M).contiguous();  // tp padding is no key
  // The fused joint attention (qk norm and rope applied while packing, bf16 products where
  // they are fast) attends every row it is given: it runs wherever no rank holds padding and
  // no sequence is split. Otherwise the sequence-parallel core (ring / Ulysses) masks the
  // padding; it attends in f32.
  const bool fused = sp == 1 && image_tokens == N;
  PD_CHECK(fused || parallel_, "Attention: ", image_tokens, " image tokens for ", N, " rows on one rank");
  const bool bf16 = fused && qkv_.compute_dtype() == DType::BF16 &&
                    (hidden.device() != Device::CPU || ops::fast_bf16_attention(config_.head_dim));
  const DType act = bf16 ? DType::BF16 : DType::F32;
  const Linear& context_qkv = config_.shared_projection ? qkv_ : (add_qkv_ ? *add_qkv_ : qkv_);
  const std::optional<RMSNorm>& context_norm_q = config_.shared_projection ? norm_q_ : norm_added_q_;
  const std::optional<RMSNorm>& context_norm_k = config_.shared_projection ? norm_k_ : norm_added_k_;
  std::array<Tensor, 3> img, txt;
  {
    // The prompt's projection may run on a side queue beside the image's (PARADIT_TWO_STREAMS).
    SideQueue side(x.device());
    if (context) side.run([&] { txt = project(context_qkv, bf16 ? prompt.to(DType::BF16) : prompt, act); });
    img = project(qkv_, bf16 ? x.to(DType::BF16) : x, act);
  }
  const float scale = 1.f / std::sqrt(static_cast<float>(config_.head_dim));
  Tensor image_out, prompt_out;  // [B, N, inner] and [B, M, inner]
  if (fused) {
    ops::AttentionStream image{img[0], img[1], img[2], norm_q_ ? norm_q_->weight() : nullptr,
                               norm_k_ ? norm_k_->weight() : nullptr};
    ops::AttentionStream text;
    if (context)
      text = {txt[0], txt[1], txt[2], context_norm_q ? context_norm_q->weight() : nullptr,
              context_norm_k ? context_norm_k->weight() : nullptr};
    const bool prompt_first = context && config_.context_first;
    std::vector<ops::AttentionStream> streams;
    if (prompt_first) streams.push_back(text);
    streams.push_back(image);
    if (context && !prompt_first) streams.push_back(text);
    std::vector<Tensor> tables;  // each stream's rows of the rotary tables, alive for the call
    if (rope) {
      int64_t total = 0;
      for (const auto& s : streams) total += s.q.size(1);
      PD_CHECK(rope->cos.dim() == 2 && rope->cos.size(0) == total && rope->sin.shape() == rope->cos.shape(),
               "Attention: rotary tables ", rope->cos.describe(), " do not cover the ", total, " attended tokens");
      tables.reserve(2 * streams.size());
      int64_t begin = 0;
      for (auto& s : streams) {
        const int64_t n = s.q.size(1);
        tables.push_back(rope->cos.rows(begin, begin + n));
        tables.push_back(rope->sin.rows(begin, begin + n));
        s.rope_cos = &tables[tables.size() - 2];
        s.rope_sin = &tables.back();
        begin += n;
      }
    }
    const auto attended = ops::joint_attention(streams, scale, config_.eps, config_.causal, act, bf16);
    image_out = attended[prompt_first ? 1 : 0];
    if (context) prompt_out = attended[prompt_first ? 0 : 1];
  } else {
    Tensor q = to_heads(img[0], norm_q_), k = to_heads(img[1], norm_k_);
    const Tensor v = to_heads(img[2], std::nullopt);
    Tensor qc, kc, vc;
    if (context) {
      qc = to_heads(txt[0], context_norm_q);
      kc = to_heads(txt[1], context_norm_k);
      vc = to_heads(txt[2], std::nullopt);
    }
    if (rope) {
      // The tables hold the prompt rows, then this rank's image rows (FLUX: prompt first).
      PD_CHECK(config_.context_first || !context, "Attention: rotary tables need the prompt-first order");
      PD_CHECK(rope->cos.dim() == 2 && rope->cos.size(0) == M + N && rope->sin.shape() == rope->cos.shape(),
               "Attention: rotary tables ", rope->cos.describe(), " do not cover ", M, " prompt and ", N,
               " image rows");
      const Tensor image_cos = rope->cos.rows(M, M + N), image_sin = rope->sin.rows(M, M + N);
      ops::apply_rope(q, image_cos, image_sin);
      ops::apply_rope(k, image_cos, image_sin);
      if (context) {
        const Tensor prompt_cos = rope->cos.rows(0, M), prompt_sin = rope->sin.rows(0, M);
        ops::apply_rope(qc, prompt_cos, prompt_sin);
        ops::apply_rope(kc, prompt_cos, prompt_sin);
      }
    }
    const auto attended = sequence_parallel_attention(*parallel_, q, k, v, context ? &qc : nullptr,
                                                      context ? &kc : nullptr, context ? &vc : nullptr,
                                                      image_tokens, scale);
    image_out = ops::permute(attended.image, {0, 2, 1, 3}).reshape({B, N, inner});
    if (context) prompt_out = ops::permute(*attended.prompt, {0, 2, 1, 3}).reshape({B, M, inner});
  }
  Output out;
  // pre_only (FLUX's single blocks): the attention output itself, this rank's heads.
  out.hidden = config_.pre_only ? image_out : to_out_.forward(image_out, DType::F32);
  if (tp && !config_.pre_only) out.hidden = reduce_scatter_rows(*tp, out.hidden);
  if (context) {
    // Without to_add_out (the last SD3 block) the context output is unused.
    if (to_add_out_) {
      const Tensor projected = to_add_out_->forward(prompt_out, DType::F32);
      out.context = tp ? reduce_scatter_rows(*tp, projected) : projected;
    } else {
      out.context = config_.pre_only ? prompt_out : prompt_out.to(DType::F32);
    }
  }
  return out;
}

}  // namespace paradit
